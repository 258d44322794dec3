--- File helpers shared by the specs.
--   local files = require "support.files"
--   files.read(path)          --> contents, or nil when the file cannot be opened
--   files.write(path, text)
--   files.exists(path)        --> boolean
--   files.ls(dir)             --> names in dir (hidden ones too), [] when missing
--   files.tmpdir()            --> a new empty directory
--   files.quote(s)            --> s quoted for the shell
local core = require "scenario.core"

local M = {}

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function M.quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.ls(dir)
  local p = assert(io.popen("ls -A " .. M.quote(dir) .. " 2>/dev/null"))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return names
end

function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(core.mkdir(d))
  return d
end

return M
