-- Finds the mission folder a file belongs to, so the client attaches to mission files only
-- (not to every Markdown or JSON buffer).
local M = {}

local function exists(path)
  return vim.uv.fs_stat(path) ~= nil
end

--- The mission folder holding `path`: a folder with features.json and validation-contract.md,
--- or mission.md and state.json, at or above the file (files in handoffs/, validation/, … belong
--- to the folder above them). Returns nil for any other file.
function M.mission_dir(path)
  if path == nil or path == '' then
    return nil
  end
  local dir = vim.fs.dirname(vim.fs.normalize(path))
  for candidate in vim.fs.parents(path) do
    if (exists(candidate .. '/features.json') and exists(candidate .. '/validation-contract.md'))
      or (exists(candidate .. '/mission.md') and exists(candidate .. '/state.json'))
    then
      return candidate
    end
    if exists(candidate .. '/.git') then
      break
    end
  end
  -- A lone contract or feature queue (being written) is its own mission.
  local name = vim.fs.basename(path)
  if name == 'features.json' or name == 'validation-contract.md' then
    return dir
  end
  return nil
end

--- The workspace root the server should see: the folder holding `.missions/`, or the git top
--- level, or the mission folder itself.
function M.root_dir(path)
  local mission = M.mission_dir(path)
  if not mission then
    return nil
  end
  local marker = vim.fs.find({ '.missions', '.git' }, { path = mission, upward = true, limit = 1 })[1]
  return marker and vim.fs.dirname(marker) or mission
end

return M
