--- The bytes of spec/support/blob_server.py, and the start of a spec server.
--   local blob = require "support.blob"
--   blob.expected(size, seed)     --> the body of GET /blob/<size>/<seed>:
--                                     byte i is (i * 7 + seed) % 251
--   local pipe, port, pid = blob.serve("spec/support/blob_server.py")
--       a server that prints "LISTENING <port> <pid>", started as a direct
--       child; stop it with os.execute("kill " .. pid) and pipe:close()
local M = {}

function M.expected(size, seed)
  local period = {}
  for i = 0, 250 do period[i + 1] = string.char((i * 7 + seed) % 251) end
  period = table.concat(period)
  return period:rep(math.floor(size / 251) + 1):sub(1, size)
end

function M.serve(script)
  local pipe = io.popen("exec " .. require("support.native") .. "python3 " .. script, "r")
  local line = pipe:read("*l")
  local port, pid = (line or ""):match("^LISTENING (%d+) (%d+)")
  assert(port, script .. " did not start: " .. tostring(line))
  return pipe, port, pid
end

return M
