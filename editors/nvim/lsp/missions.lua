-- Neovim 0.11 `vim.lsp.config` form: `vim.lsp.enable('missions')` after putting this plugin on
-- the runtimepath. The client attaches only to files of a mission folder; the configuration is
-- the plugin's own (defaults unless `require('missions').setup(opts)` ran).
local config = require('missions').lsp_config()
config.root_markers = { '.missions', 'features.json', 'validation-contract.md' }
return config
