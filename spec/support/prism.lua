--- Starts Prism (the third-party OpenAPI validator pinned in spec/contract)
-- as a direct child: `proxy` mode in front of a server, or `mock` mode.
--   local p = require("support.prism").start("proxy", sim.url)
--   ... p.url ... p:violations() ... p:stop()
local M = {}
local P = {}
P.__index = P

local PRISM = "spec/contract/node_modules/.bin/prism"

local function free_port()
  local p = io.popen(require("support.native") .. "python3 -c 'import socket; s = socket.socket(); " ..
    "s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
  local port = p:read("*l")
  p:close()
  return port
end

--- document: the OpenAPI file Prism serves (default api/openapi.json; Prism
-- wants a name ending in .json)
function M.start(mode, upstream, document)
  local port = free_port()
  local log = os.tmpname()
  local args = { "exec", require("support.native") .. PRISM, mode, "--errors", "-h 127.0.0.1", "-p", port,
    document or "api/openapi.json" }
  if upstream then args[#args + 1] = upstream end
  -- `echo $$` before exec: the shell's pid becomes Prism's pid
  local pipe = assert(io.popen("echo $$; " .. table.concat(args, " ") .. " > " .. log .. " 2>&1", "r"))
  local pid = tonumber(pipe:read("*l"))
  local self = setmetatable({ pipe = pipe, pid = pid, log = log,
    url = "http://127.0.0.1:" .. port }, P)
  for _ = 1, 600 do
    if self:log_text():find("Prism is listening", 1, true) then return self end
    os.execute("sleep 0.1")
  end
  self:stop()
  error("prism did not start: " .. self:log_text())
end

function P:log_text()
  local f = io.open(self.log)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

--- Lines of Prism's log that report a violation of the document.
function P:violations()
  local out = {}
  for line in self:log_text():gmatch("[^\n]+") do
    if line:find("Violation", 1, true) or line:find("[VALIDATOR]", 1, true) and line:find("rror", 1, true) then
      out[#out + 1] = line
    end
  end
  return out
end

--- A copy of api/openapi.json for `prism mock`, with the defects that make
-- Prism's own mock answers invalid mended (spec/contract/mock_document.py).
function M.mock_document()
  local path = os.tmpname() .. ".json"
  local ok, out = require("support.sh")(require("support.native") ..
    "python3 spec/contract/mock_document.py api/openapi.json " .. path .. " 2>&1 > /dev/null")
  assert(ok, "mock_document.py failed: " .. out)
  return path
end

function P:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    self.pipe:close()
    self.pid = nil
    os.remove(self.log)
  end
end

return M
