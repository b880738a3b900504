-- The plugin attaches to a broken mission, shows the server's diagnostics at the right
-- places, hovers an id, and reports healthy.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')

require('missions').setup({ cmd = { H.bin, 'lsp' } })

local mission = H.copy_example('examples/broken/plan')
vim.cmd.edit(mission .. '/features.json')
local buf = vim.api.nvim_get_current_buf()

local client = H.wait_for(10000, function() return require('missions').client(buf) end, 'the missions client to attach')
H.expect(client and client.name == 'missions', 'a client named missions is attached')

-- A README elsewhere gets no client.
local readme = vim.fn.tempname() .. '.md'
vim.fn.writefile({ '# notes' }, readme)
vim.cmd.edit(readme)
H.eq(#vim.lsp.get_clients({ bufnr = vim.api.nvim_get_current_buf(), name = 'missions' }), 0, 'no client on an unrelated Markdown file')
vim.cmd.buffer(buf)

local diagnostics = H.wait_for(10000, function()
  local d = vim.diagnostic.get(buf)
  return #d > 0 and d or nil
end, 'diagnostics on features.json')
local codes = {}
for _, d in ipairs(diagnostics or {}) do
  codes[d.code] = true
  H.eq(d.source, 'missions', 'diagnostic source')
end
for _, code in ipairs({ 'duplicate-claim', 'unknown-assertion', 'duplicate-feature', 'schema', 'dependency-cycle', 'milestone-order', 'unknown-dependency', 'malformed-id', 'unknown-skill' }) do
  H.expect(codes[code], 'features.json has a ' .. code .. ' diagnostic')
end
-- Position of `"VAL-PAGE-009"` (unknown) as the CLI reports it: line 17, column 36.
local line, col = H.find(buf, '"VAL-PAGE-009"')
local found = vim.tbl_filter(function(d) return d.code == 'unknown-assertion' and d.lnum == line end, diagnostics or {})
H.expect(#found == 1 and found[1].col == col, 'unknown-assertion sits on "VAL-PAGE-009" at ' .. line .. ':' .. col)
-- After an emoji and CJK text on the same line, Neovim's byte column still lands on the id.
local wide_line, wide_col = H.find(buf, '"VAL-UI-404"')
local wide = vim.tbl_filter(function(d) return d.code == 'unknown-assertion' and d.lnum == wide_line end, diagnostics or {})
H.expect(#wide == 1 and wide[1].col == wide_col, 'unknown-assertion after emoji/CJK at byte column ' .. wide_col)

-- Hover on a claimed id shows its title.
local hl, hc = H.find(buf, 'VAL-PAGE-001')
local responses = vim.lsp.buf_request_sync(buf, 'textDocument/hover', {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = hl, character = hc + 2 },
}, 5000)
local hover_text = ''
for _, r in pairs(responses or {}) do
  if r.result and r.result.contents then
    hover_text = hover_text .. (r.result.contents.value or vim.inspect(r.result.contents))
  end
end
local contract = table.concat(vim.fn.readfile(mission .. '/validation-contract.md'), '\n')
local title = contract:match('VAL%-PAGE%-001: ([^\n]+)')
H.expect(title and hover_text:find(title, 1, true), 'hover shows the title "' .. tostring(title) .. '", got: ' .. hover_text)

-- A quick fix applies: "Did you mean …" on the unknown `VAL-PAGE-009` removes that diagnostic.
local target = found[1]
if target then
  local lsp_diagnostic = target.user_data and target.user_data.lsp
  local actions = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = lsp_diagnostic.range,
    context = { diagnostics = { lsp_diagnostic }, only = { 'quickfix' } },
  }, 5000)
  local fix
  for _, r in pairs(actions or {}) do
    for _, action in ipairs(r.result or {}) do
      if not fix and action.edit and action.title:find('Did you mean', 1, true) then
        fix = action
      end
    end
  end
  if H.expect(fix ~= nil, 'a "Did you mean" quick fix is offered for VAL-PAGE-009') then
    vim.lsp.util.apply_workspace_edit(fix.edit, client.offset_encoding)
    H.wait_for(10000, function()
      for _, d in ipairs(vim.diagnostic.get(buf)) do
        if d.code == 'unknown-assertion' and d.lnum == line then
          return nil
        end
      end
      return true
    end, 'the unknown-assertion diagnostic to go after "' .. fix.title .. '"')
  end
end

-- :Mission status prints the server's summary of the mission.
vim.fn.writefile({ '{"missionId": "mis_12345678", "state": "running", "workingDirectory": "/tmp/team-wiki", "createdAt": "2026-09-20T09:00:00.000Z", "updatedAt": "2026-09-20T09:00:00.000Z", "currentMilestone": "core"}' }, mission .. '/state.json')
vim.fn.writefile({ '# Team wiki', '', 'Pages, search and history.' }, mission .. '/mission.md')
vim.cmd('Mission status')
local printed = H.wait_for(5000, function()
  local messages = vim.api.nvim_exec2('messages', { output = true }).output
  return messages:find('Team wiki (mis_12345678): running', 1, true) and messages or nil
end, ':Mission status output')
H.expect(printed and printed:find('milestone core, round 0', 1, true) and printed:find('assertions: ', 1, true), ':Mission status shows milestone and counts: ' .. tostring(printed))

-- :checkhealth missions reports the binary and the mission.
vim.cmd('checkhealth missions')
local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
H.expect(health:find('OK found missions', 1, true), 'checkhealth finds the binary:\n' .. health)
H.expect(not health:find('ERROR', 1, true), 'checkhealth has no errors:\n' .. health)

H.finish('lsp_spec')
