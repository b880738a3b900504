-- :checkhealth missions
local M = {}

function M.check()
  local options = require('missions').options
  local cmd = options.cmd or { 'missions', 'lsp' }
  vim.health.start('missions: server')
  if vim.fn.executable(cmd[1]) ~= 1 then
    vim.health.error(string.format('`%s` is not executable', cmd[1]), {
      'Install it: `cargo install --path server --locked` in a clone of the missions repository',
      'or set `cmd` in require("missions").setup({ cmd = { "/path/to/missions", "lsp" } })',
    })
  else
    local out = vim.fn.system({ cmd[1], '--version' })
    if vim.v.shell_error == 0 then
      vim.health.ok('found ' .. vim.trim(out) .. ' (' .. vim.fn.exepath(cmd[1]) .. ')')
    else
      vim.health.error('`' .. cmd[1] .. ' --version` failed: ' .. vim.trim(out))
    end
  end

  vim.health.start('missions: workspace')
  local cwd = vim.fn.getcwd()
  -- Where the server looks: from here up to the git top level (the first folder with .git).
  local top = vim.fs.root(cwd, '.git')
  local config = vim.fs.find('missions.toml', { path = cwd, upward = true, stop = top and vim.fs.dirname(top) or nil })[1]
  local roles = vim.tbl_get(options, 'settings', 'missions', 'roles') or {}
  local unset = vim.tbl_filter(function(role) return not vim.tbl_get(roles, role, 'provider') end, { 'orchestrator', 'worker', 'validator' })
  if config then
    if vim.fn.filereadable(config) == 1 then
      vim.health.ok('configuration: ' .. config)
    else
      vim.health.error('configuration not readable: ' .. config)
    end
  elseif #unset == 0 then
    vim.health.ok('no missions.toml; every role comes from setup({ settings = { missions = { roles = … } } })')
  else
    vim.health.warn(string.format('no missions.toml from %s up to the git top level: a mission cannot run until one names the model of each role (%s not set)', cwd, table.concat(unset, ', ')), {
      'Write missions.toml at the repository top level ([roles.orchestrator], [roles.worker], [roles.validator]; see the README)',
      'or give the roles in require("missions").setup({ settings = { missions = { roles = { worker = { provider = …, model = … } } } } })',
    })
  end
  local current = vim.api.nvim_buf_get_name(0)
  local mission = require('missions.root').mission_dir(current ~= '' and current or (cwd .. '/x'))
  local missions_dir = vim.fs.find('.missions', { path = cwd, upward = true, type = 'directory' })[1]
  if mission then
    vim.health.ok('mission folder in reach: ' .. mission)
  elseif missions_dir then
    vim.health.ok('missions folder in reach: ' .. missions_dir)
  else
    vim.health.warn('no mission folder in reach of ' .. cwd, { 'Create one with `missions new "<goal>"`' })
  end
  local clients = vim.lsp.get_clients({ name = 'missions' })
  if #clients > 0 then
    vim.health.ok(string.format('language server running (client id %d)', clients[1].id))
  else
    vim.health.info('language server not attached (open a mission file to start it)')
  end
end

return M
