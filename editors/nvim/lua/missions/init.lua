-- missions.nvim: a thin client for `missions lsp`. Everything it shows comes from the server:
-- diagnostics, hover, navigation and quick fixes through Neovim's LSP client; mission state
-- through the `missions/status` request, `missions/event` notifications and LSP progress.
local root = require('missions.root')

local M = {}

M.defaults = {
  -- The server command; `missions` must be on PATH unless this names it.
  cmd = { 'missions', 'lsp' },
  -- Show each `missions/event` (worker completed, validation round, halt, …) with vim.notify.
  notify_events = true,
  -- The assertion's title after each claimed id (inlay hints), in mission buffers.
  inlay_hints = true,
  -- Code lenses (who claims an assertion, a feature's status, "Run feature", the mission's
  -- start/pause/resume), kept fresh as you edit and as a run writes the files.
  code_lens = true,
  -- Sent to the server as `settings`; the server reads `settings.missions`, laid over
  -- missions.toml key by key in its shape and key names:
  -- { missions = { roles = { worker = { model = '…', base_url = '…' } }, limits = { max_turns = 50 } } }
  settings = {},
}

M.options = vim.deepcopy(M.defaults)

local function describe_event(event)
  local parts = { event.type or 'event' }
  for _, key in ipairs({ 'milestone', 'featureId', 'round', 'reason' }) do
    if event[key] ~= nil then
      table.insert(parts, string.format('%s=%s', key, tostring(event[key])))
    end
  end
  return table.concat(parts, ' ')
end

--- The runner writes the mission's files as it goes: buffers of that folder without unsaved
--- edits reload (the server merges its writes into buffers with unsaved edits itself, with
--- workspace/applyEdit, so those are left alone).
function M.reload_unmodified(mission_uri)
  if type(mission_uri) ~= 'string' then
    return
  end
  local dir = vim.uri_to_fname(mission_uri)
  vim.schedule(function()
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      local name = vim.api.nvim_buf_get_name(buf)
      if vim.api.nvim_buf_is_loaded(buf) and not vim.bo[buf].modified and name:sub(1, #dir + 1) == dir .. '/' then
        vim.cmd('silent! checktime ' .. buf)
      end
    end
  end)
end

--- Handlers for the server's own notifications.
function M.handlers()
  return {
    ['missions/event'] = function(_, params)
      if type(params) ~= 'table' then
        return
      end
      M.reload_unmodified(params.missionUri)
      if not M.options.notify_events or type(params.event) ~= 'table' then
        return
      end
      -- A halt is droid's `mission_paused` with `halted`; a worker that failed is a warning too.
      local e = params.event
      local warn = (e.type == 'mission_paused' and e.halted) or e.type == 'worker_failed'
      local level = warn and vim.log.levels.WARN or vim.log.levels.INFO
      vim.notify('missions: ' .. describe_event(params.event), level)
    end,
  }
end

--- The attached missions client of a buffer (or of any buffer).
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = 'missions', bufnr = bufnr })
  if #clients == 0 and bufnr then
    clients = vim.lsp.get_clients({ name = 'missions' })
  end
  return clients[1]
end

--- The URI of the mission folder of a buffer, as the server's commands take it.
function M.mission_uri(bufnr)
  local dir = root.mission_dir(vim.api.nvim_buf_get_name(bufnr or 0))
  return dir and vim.uri_from_fname(dir) or nil
end

local lens_group = vim.api.nvim_create_augroup('missions.codelens', { clear = true })

local function supports(client, method)
  if vim.fn.has('nvim-0.11') == 1 then
    return client:supports_method(method)
  end
  return client.supports_method(method)
end

--- Turns on, in a buffer the client just attached to, what the options ask for.
function M.on_attach(client, bufnr)
  if M.options.inlay_hints and vim.lsp.inlay_hint and supports(client, 'textDocument/inlayHint') then
    vim.lsp.inlay_hint.enable(true, { bufnr = bufnr })
  end
  if M.options.code_lens and supports(client, 'textDocument/codeLens') then
    vim.lsp.codelens.refresh({ bufnr = bufnr })
    vim.api.nvim_clear_autocmds({ group = lens_group, buffer = bufnr })
    vim.api.nvim_create_autocmd({ 'BufEnter', 'InsertLeave', 'TextChanged', 'CursorHold' }, {
      group = lens_group,
      buffer = bufnr,
      callback = function() vim.lsp.codelens.refresh({ bufnr = bufnr }) end,
    })
  end
end

--- The client configuration (`vim.lsp.config` form) for the current options.
function M.lsp_config()
  return {
    name = 'missions',
    cmd = M.options.cmd,
    filetypes = { 'markdown', 'json', 'jsonc' },
    root_dir = function(bufnr, on_dir)
      local dir = root.root_dir(vim.api.nvim_buf_get_name(bufnr))
      if dir then
        on_dir(dir)
      end
    end,
    handlers = M.handlers(),
    settings = M.options.settings,
    on_attach = function(client, bufnr) M.on_attach(client, bufnr) end,
  }
end

local function start_without_config(args)
  local path = vim.api.nvim_buf_get_name(args.buf)
  local dir = root.root_dir(path)
  if not dir then
    return
  end
  local c = M.lsp_config()
  c.root_dir = dir
  vim.lsp.start(c, { bufnr = args.buf })
end

local function link_highlights()
  -- Ids stand out without a grammar, through the server's semantic tokens.
  -- The server marks assertion ids `enumMember` and feature ids `class`; their defining
  -- headings and entries carry the `declaration` modifier.
  local links = {
    ['@lsp.type.enumMember.markdown'] = '@constant',
    ['@lsp.type.enumMember.json'] = '@constant',
    ['@lsp.type.class.json'] = '@type',
    ['@lsp.typemod.enumMember.declaration.markdown'] = '@markup.heading',
    ['@lsp.typemod.class.declaration.json'] = '@type.definition',
  }
  for group, target in pairs(links) do
    vim.api.nvim_set_hl(0, group, { link = target, default = true })
  end
end

local function show_progress()
  vim.api.nvim_create_autocmd('LspProgress', {
    group = vim.api.nvim_create_augroup('missions.progress', { clear = true }),
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      local value = ev.data.params and ev.data.params.value
      if not client or client.name ~= 'missions' or type(value) ~= 'table' then
        return
      end
      local text = table.concat(vim.tbl_filter(function(s) return s ~= nil and s ~= '' end, {
        value.title, value.message, value.percentage and (value.percentage .. '%') or nil,
      }), ' ')
      vim.api.nvim_echo({ { 'missions: ' .. text } }, false, {})
    end,
  })
end

--- Configures and enables the client. `opts` overrides `M.defaults`.
function M.setup(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  link_highlights()
  show_progress()
  if vim.lsp.config then
    vim.lsp.config('missions', M.lsp_config())
    vim.lsp.enable('missions')
  else
    -- Neovim 0.10: start the client per buffer.
    vim.api.nvim_create_autocmd('FileType', {
      group = vim.api.nvim_create_augroup('missions.start', { clear = true }),
      pattern = { 'markdown', 'json', 'jsonc' },
      callback = start_without_config,
    })
  end
end

--- Sends `missions.<name>` to the server with the buffer's mission first, then `extra`.
function M.execute(name, extra, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  local uri = M.mission_uri(bufnr)
  if not client or not uri then
    vim.notify('missions: this buffer is not part of a mission folder with a running server', vim.log.levels.ERROR)
    return
  end
  local arguments = { uri }
  vim.list_extend(arguments, extra or {})
  client:request('workspace/executeCommand', { command = 'missions.' .. name, arguments = arguments }, function(err)
    if err then
      vim.notify('missions.' .. name .. ': ' .. err.message, vim.log.levels.ERROR)
    end
  end, bufnr)
end

--- Lines describing a `missions/status` result.
function M.format_status(s)
  local function counts(map)
    local out = {}
    for key, n in pairs(map or {}) do
      table.insert(out, string.format('%d %s', n, key))
    end
    table.sort(out)
    return #out > 0 and table.concat(out, ', ') or 'none'
  end
  -- A state of work that no live runner backs (it died, or the folder was copied) is stopped.
  local working = ({ running = true, validating = true, initializing = true, orchestrator_turn = true })[s.status]
  local stopped = working and s.runAlive == false and ' (stopped: no run is alive; :Mission start resumes it)' or ''
  local lines = {
    string.format('%s (%s): %s%s', s.title ~= '' and s.title or '(untitled)', s.id or '?', s.status or '?', stopped),
  }
  if s.currentMilestone and s.currentMilestone ~= vim.NIL then
    table.insert(lines, string.format('milestone %s, round %s', s.currentMilestone, tostring(s.round)))
  end
  if s.haltReason and s.haltReason ~= vim.NIL then
    table.insert(lines, 'halted: ' .. s.haltReason)
  end
  table.insert(lines, 'features: ' .. counts(s.features))
  table.insert(lines, 'assertions: ' .. counts(s.assertions))
  return lines
end

--- Asks the server for the mission's state and prints it.
function M.status(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client, uri = M.client(bufnr), M.mission_uri(bufnr)
  if not client or not uri then
    vim.notify('missions: this buffer is not part of a mission folder with a running server', vim.log.levels.ERROR)
    return
  end
  client:request('missions/status', { missionUri = uri }, function(err, result)
    if err then
      vim.notify('missions/status: ' .. err.message, vim.log.levels.ERROR)
      return
    end
    vim.api.nvim_echo({ { table.concat(M.format_status(result), '\n') } }, true, {})
  end, bufnr)
end

return M
