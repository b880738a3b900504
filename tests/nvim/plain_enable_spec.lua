-- Plain Neovim 0.11, no setup(): the plugin's lsp/missions.lua is found on the runtimepath by
-- vim.lsp.enable and attaches to a mission file, with inlay hints and code lenses on.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/helpers.lua')

vim.lsp.config('missions', { cmd = { H.bin, 'lsp' } })
vim.lsp.enable('missions')

local mission = H.copy_example('examples/broken/plan')
vim.cmd.edit(mission .. '/validation-contract.md')
local buf = vim.api.nvim_get_current_buf()
H.wait_for(10000, function() return #vim.lsp.get_clients({ bufnr = buf, name = 'missions' }) > 0 end, 'the client to attach')
local diagnostics = H.wait_for(10000, function()
  local d = vim.diagnostic.get(buf)
  return #d > 0 and d or nil
end, 'diagnostics on the contract')
local codes = {}
for _, d in ipairs(diagnostics or {}) do
  codes[d.code] = true
end
for _, code in ipairs({ 'duplicate-assertion', 'malformed-id', 'missing-field', 'unclaimed-assertion', 'duplicate-claim' }) do
  H.expect(codes[code], 'the contract has a ' .. code .. ' diagnostic')
end
-- The plain form has the plugin's defaults: inlay hints and code lenses on.
H.expect(vim.lsp.inlay_hint.is_enabled({ bufnr = buf }), 'inlay hints are enabled without setup()')
H.wait_for(10000, function() return #vim.lsp.codelens.get(buf) > 0 end, 'code lenses without setup()')
H.finish('plain_enable_spec')
