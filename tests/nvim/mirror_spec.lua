-- Live documents in Neovim: a write on disk to features.json (as the runner makes) reaches a
-- buffer with unsaved edits through the server's workspace/applyEdit, keeping the person's
-- edit; a buffer without unsaved edits reloads when a missions/event arrives.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')

require('missions').setup({ cmd = { H.bin, 'lsp' }, notify_events = false })

local mission = H.copy_example('examples/clean')
local features = mission .. '/features.json'
vim.cmd.edit(features)
local buf = vim.api.nvim_get_current_buf()
local client = H.wait_for(10000, function() return require('missions').client(buf) end, 'the missions client to attach')
H.expect(client ~= nil, 'a client is attached')
-- The server has the buffer once it answers a request about it.
local symbols = vim.lsp.buf_request_sync(buf, 'textDocument/documentSymbol', { textDocument = { uri = vim.uri_from_bufnr(buf) } }, 10000)
H.expect(symbols and next(symbols), 'the server answers for features.json')

-- The person rewords the first description without saving.
local line = H.find(buf, '"description": "Addition:')
local old_line = vim.api.nvim_buf_get_lines(buf, line, line + 1, false)[1]
local new_line = old_line:gsub('Addition:', 'Integer addition:', 1)
vim.api.nvim_buf_set_lines(buf, line, line + 1, false, { new_line })
H.expect(vim.bo[buf].modified, 'the buffer has unsaved edits')

-- The runner puts the first feature back to pending on disk (an atomic rewrite, as it writes).
local disk = table.concat(vim.fn.readfile(features), '\n') .. '\n'
local written = disk:gsub('"status": "completed"', '"status": "pending"', 1)
vim.fn.writefile(vim.split(written, '\n', { plain = true }), features .. '.tmp', 'b')
vim.uv.fs_rename(features .. '.tmp', features)

local function text() return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') end
H.wait_for(15000, function() return text():find('"status": "pending"', 1, true) end, 'the runner\'s status in the buffer')
H.expect(text():find('Integer addition:', 1, true), 'the person\'s unsaved edit is kept')
H.expect(vim.bo[buf].modified, 'the buffer still has unsaved edits')
local expected = written:gsub('Addition:', 'Integer addition:', 1)
H.eq(text() .. '\n', expected, 'the buffer is the disk plus the person\'s edit')

-- A clean buffer of the mission reloads when the server reports an event.
local contract = mission .. '/validation-contract.md'
vim.cmd.edit(contract)
local contract_buf = vim.api.nvim_get_current_buf()
local lines = vim.fn.readfile(contract)
table.insert(lines, '')
table.insert(lines, 'Appended by the runner.')
vim.fn.writefile(lines, contract)
require('missions').handlers()['missions/event'](nil, { missionUri = vim.uri_from_fname(mission), event = { type = 'worker_completed' } })
H.wait_for(5000, function()
  local last = vim.api.nvim_buf_get_lines(contract_buf, -2, -1, false)[1]
  return last == 'Appended by the runner.'
end, 'the clean contract buffer to reload')
-- The buffer with unsaved edits was not reloaded over.
H.expect(table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'):find('Integer addition:', 1, true), 'the edited buffer is untouched')

H.finish('mirror_spec')
