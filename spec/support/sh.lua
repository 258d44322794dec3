--- Runs a shell command and reports how it ended, the same on Lua 5.1-5.4
-- and LuaJIT (where os.execute and popen:close report exit statuses
-- differently, or not at all).
--   local sh = require "support.sh"
--   local ok, out, code = sh("make -s all 2>&1")   -- ok: exit status 0
local MARK = "\n~sh-exit-status="

return function(cmd)
  local p = assert(io.popen("( " .. cmd .. "\n); printf '" .. MARK:gsub("\n", "\\n") .. "%d' $?"))
  local all = p:read("*a")
  p:close()
  local at = all:find(MARK, 1, true)
  local code = at and tonumber(all:sub(at + #MARK)) or -1
  return code == 0, at and all:sub(1, at - 1) or all, code
end
