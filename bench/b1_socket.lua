--- B1 (LuaSocket): N sequential socket.http.request(url), body not decoded.
-- LuaSocket's http module has no keep-alive: each request opens a connection.
--   lua5.4 bench/b1_socket.lua URL [N]
local http = require "socket.http"
local socket = require "socket"

local url, n = arg[1], tonumber(arg[2] or 5000)
local t0 = socket.gettime()
for i = 1, n do
  local body, status = http.request(url)
  if status ~= 200 or not body then
    io.stderr:write("request ", i, ": ", tostring(status), "\n")
    os.exit(1)
  end
end
print(string.format("RESULT seconds=%.6f requests=%d", socket.gettime() - t0, n))
