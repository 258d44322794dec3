-- `make demo`: starts the local simulator, runs examples/quickstart.lua
-- against it, stops the simulator and prints the files written.
--   lua5.4 examples/run_demo.lua ["prompt"] [out-dir]
-- (or luajit, lua5.1 ... : the quickstart runs on the same interpreter, with
-- its build of the C core, SCENARIO_BUILD or build-<name>/)
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path

-- this interpreter's name (lua5.1 .. lua5.4, luajit) and its build folder
-- of the C core: SCENARIO_BUILD, or the Makefile's (build for Lua 5.4)
local name = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")
local build = os.getenv("SCENARIO_BUILD")
if not build or build == "" then build = name == "lua5.4" and "build" or "build-" .. name end
package.cpath = build .. "/lua/?.so;" .. package.cpath

local simmod = require "simulator.sim"
local sim = simmod.start { job_duration = 2 }
print("simulator listening on " .. sim.url)
local cmd = string.format(
  "SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s " ..
  "LUA_PATH='%s' LUA_CPATH='%s' %s examples/quickstart.lua %q %q",
  sim.url, simmod.KEY, simmod.SECRET,
  package.path, package.cpath, name, arg[1] or "a lighthouse on a cliff at dusk, painterly",
  arg[2] or "out")
local status = os.execute(cmd)
local ok = status == true or status == 0   -- 5.2+: true; 5.1 and LuaJIT: the exit status
sim:stop()
if not ok then
  io.stderr:write("demo failed\n")
  os.exit(1)
end
