-- Neovim 0.11 `vim.lsp.config` form: `vim.lsp.enable('missions')` after putting this plugin on
-- the runtimepath. The client attaches only to files of a mission folder.
local root = require('missions.root')

return {
  cmd = { 'missions', 'lsp' },
  filetypes = { 'markdown', 'json', 'jsonc' },
  root_markers = { '.missions', 'features.json', 'validation-contract.md' },
  root_dir = function(bufnr, on_dir)
    local dir = root.root_dir(vim.api.nvim_buf_get_name(bufnr))
    if dir then
      on_dir(dir)
    end
  end,
  handlers = require('missions').handlers(),
}
