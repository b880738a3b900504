-- Dependency-free test helpers for the headless Neovim specs: a runtimepath with the plugin,
-- temp copies of the examples, waiting, and assertions that print the LSP log on failure.
local H = {}

H.repo = vim.fs.normalize(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h:h'))
H.bin = os.getenv('MISSIONS_BIN') or (H.repo .. '/target/debug/missions')

vim.opt.runtimepath:prepend(H.repo .. '/editors/nvim')
-- `nvim -l` runs before plugins load: source the plugin's commands as a plugin manager would.
vim.cmd.runtime('plugin/missions.lua')
vim.opt.swapfile = false
vim.lsp.log.set_level(vim.log.levels.WARN)

local failures = 0

function H.fail(message)
  failures = failures + 1
  io.stderr:write('FAIL: ' .. message .. '\n')
end

function H.expect(condition, message)
  if not condition then
    H.fail(message)
  end
  return condition
end

function H.eq(actual, expected, message)
  if not vim.deep_equal(actual, expected) then
    H.fail(string.format('%s: expected %s, got %s', message, vim.inspect(expected), vim.inspect(actual)))
    return false
  end
  return true
end

--- Waits up to `ms` for `predicate` to return a truthy value, which it returns.
function H.wait_for(ms, predicate, what)
  local value
  local ok = vim.wait(ms, function()
    value = predicate()
    return value
  end, 20)
  if not ok then
    H.fail('timed out waiting for ' .. what)
  end
  return value
end

--- A fresh copy of an example mission folder in a temp dir; returns its path.
function H.copy_example(relative)
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local target = dir .. '/' .. vim.fs.basename(relative)
  vim.fn.system({ 'cp', '-R', H.repo .. '/' .. relative, target })
  vim.fn.system({ 'git', 'init', '-q', dir })
  return target
end

--- The 0-based line and byte column of the first `needle` in a buffer.
function H.find(bufnr, needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local col = line:find(needle, 1, true)
    if col then
      return i - 1, col - 1
    end
  end
  error('not found: ' .. needle)
end

--- Ends the run: exit status 0 when every expectation held.
function H.finish(name)
  if failures > 0 then
    io.stderr:write(string.format('%s: %d failure(s); LSP log %s:\n', name, failures, vim.lsp.get_log_path()))
    local log = io.open(vim.lsp.get_log_path(), 'r')
    if log then
      io.stderr:write(log:read('*a'):sub(-4000))
      log:close()
    end
    vim.cmd('cquit 1')
  else
    io.stdout:write(name .. ': ok\n')
    vim.cmd('qall!')
  end
end

return H
