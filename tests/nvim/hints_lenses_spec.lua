-- With the README's setup, mission buffers show inlay hints (the assertion's title after a
-- claimed id) and code lenses (who claims an assertion); `inlay_hints = false` and
-- `code_lens = false` turn them off. `:checkhealth missions` says a mission cannot run
-- without missions.toml (or roles in the settings); `:Mission status` tells a dead run.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')

require('missions').setup({ cmd = { H.bin, 'lsp' } })

local mission = H.copy_example('tests/e2e/fixtures/notes')
vim.cmd.edit(mission .. '/features.json')
local features = vim.api.nvim_get_current_buf()
H.wait_for(10000, function() return require('missions').client(features) end, 'the client to attach')

H.expect(vim.lsp.inlay_hint.is_enabled({ bufnr = features }), 'inlay hints are enabled in a mission buffer')
local hints = H.wait_for(10000, function()
  local found = vim.lsp.inlay_hint.get({ bufnr = features })
  return #found > 0 and found or nil
end, 'inlay hints in features.json')
local labels = {}
for _, h in ipairs(hints or {}) do
  local label = h.inlay_hint.label
  labels[#labels + 1] = type(label) == 'string' and label or table.concat(vim.tbl_map(function(p) return p.value end, label))
end
local line = H.find(features, '"VAL-NOTES-001"')
H.expect(vim.iter(hints or {}):any(function(h) return h.inlay_hint.position.line == line end), 'a hint on the line of "VAL-NOTES-001"')
H.expect(vim.iter(labels):any(function(l) return l:find('Adding a note', 1, true) end), 'the hint is the assertion\'s title: ' .. vim.inspect(labels))

vim.cmd.edit(mission .. '/validation-contract.md')
local contract = vim.api.nvim_get_current_buf()
local lenses = H.wait_for(10000, function()
  local titles = vim.tbl_map(function(l) return l.command and l.command.title or '' end, vim.lsp.codelens.get(contract))
  return vim.iter(titles):any(function(t) return t:find('claimed by notes-add', 1, true) end) and titles or nil
end, 'a resolved "claimed by notes-add" lens on the contract')
H.expect(lenses ~= nil, 'code lenses show in the contract')
-- They are drawn in the buffer, not only fetched.
local drawn = vim.iter(vim.api.nvim_buf_get_extmarks(contract, -1, 0, -1, { details = true })):any(function(m)
  return vim.iter(m[4].virt_text or {}):any(function(chunk) return chunk[1]:find('claimed by', 1, true) end)
end)
H.expect(drawn, 'a lens is drawn as virtual text')

-- Turned off: a buffer attached afterwards gets neither.
require('missions').setup({ cmd = { H.bin, 'lsp' }, inlay_hints = false, code_lens = false })
local other = H.copy_example('tests/e2e/fixtures/notes')
vim.cmd.edit(other .. '/features.json')
local quiet = vim.api.nvim_get_current_buf()
H.wait_for(10000, function() return require('missions').client(quiet) end, 'the client to attach to the second mission')
vim.wait(500)
H.expect(not vim.lsp.inlay_hint.is_enabled({ bufnr = quiet }), 'inlay_hints = false leaves them off')
H.eq(#vim.lsp.codelens.get(quiet), 0, 'code_lens = false asks for no lenses')

-- No missions.toml here (a git repository without one): the health check says a run needs it.
vim.cmd.cd(vim.fs.dirname(other))
vim.cmd('checkhealth missions')
local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
H.expect(report:find('a mission cannot run until one names the model of each role', 1, true), 'health warns about the missing missions.toml:\n' .. report)
H.expect(not report:find('use the defaults', 1, true), 'health no longer says agents use defaults')

-- :Mission status tells a run that died from one in progress (missions/status's runAlive).
local format = require('missions').format_status
local status = { title = 'Notes', id = 'mis_0000000a', status = 'running', currentMilestone = 'core', round = 0, features = {}, assertions = {} }
H.eq(format(vim.tbl_extend('force', status, { runAlive = true }))[1], 'Notes (mis_0000000a): running', 'a live run')
H.eq(format(vim.tbl_extend('force', status, { runAlive = false }))[1], 'Notes (mis_0000000a): running (stopped: no run is alive; :Mission start resumes it)', 'no live run')

H.finish('hints_lenses_spec')
