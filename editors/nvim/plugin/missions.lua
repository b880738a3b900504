-- :Mission start|pause|resume|status|approve|run-feature <id>|report
if vim.g.loaded_missions then
  return
end
vim.g.loaded_missions = true

local subcommands = {
  start = function() require('missions').execute('start') end,
  pause = function() require('missions').execute('pause') end,
  resume = function() require('missions').execute('resume') end,
  approve = function() require('missions').execute('approvePlan') end,
  status = function() require('missions').status() end,
  ['run-feature'] = function(args)
    if not args[1] then
      vim.notify('usage: :Mission run-feature <feature id>', vim.log.levels.ERROR)
      return
    end
    require('missions').execute('runFeature', { args[1] })
  end,
  report = function()
    local missions = require('missions')
    local dir = require('missions.root').mission_dir(vim.api.nvim_buf_get_name(0))
    if not dir then
      vim.notify('missions: this buffer is not part of a mission folder', vim.log.levels.ERROR)
      return
    end
    vim.cmd('botright split')
    vim.cmd.terminal({ args = { vim.fn.shellescape(missions.options.cmd[1]) .. ' report ' .. vim.fn.shellescape(dir) } })
  end,
}

--- Feature ids of the current buffer's mission, for completion.
local function feature_ids()
  local dir = require('missions.root').mission_dir(vim.api.nvim_buf_get_name(0))
  local ok, data = pcall(function()
    return vim.json.decode(table.concat(vim.fn.readfile(dir .. '/features.json'), '\n'))
  end)
  local ids = {}
  if ok and type(data) == 'table' and type(data.features) == 'table' then
    for _, f in ipairs(data.features) do
      if type(f) == 'table' and type(f.id) == 'string' then
        table.insert(ids, f.id)
      end
    end
  end
  return ids
end

vim.api.nvim_create_user_command('Mission', function(opts)
  local name = opts.fargs[1]
  local run = subcommands[name or '']
  if not run then
    vim.notify('usage: :Mission ' .. table.concat(vim.tbl_keys(subcommands), '|'), vim.log.levels.ERROR)
    return
  end
  run(vim.list_slice(opts.fargs, 2))
end, {
  nargs = '+',
  desc = 'Run a missions command on the current buffer\'s mission',
  complete = function(arglead, cmdline)
    local words = vim.split(cmdline, '%s+', { trimempty = true })
    local completing_first = #words == 1 or (#words == 2 and arglead ~= '')
    local candidates
    if completing_first then
      candidates = vim.tbl_keys(subcommands)
      table.sort(candidates)
    elseif words[2] == 'run-feature' then
      candidates = feature_ids()
    else
      candidates = {}
    end
    return vim.tbl_filter(function(c) return vim.startswith(c, arglead) end, candidates)
  end,
})
