--- The shell prefix that runs lua5.4 on this tree's modules and C core build
-- (SCENARIO_BUILD: build or build-asan), for tests that start a process.
local build = os.getenv("SCENARIO_BUILD") or "build"
return "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='" .. build .. "/lua/?.so;;' lua5.4"
