--- The shell prefix that runs the interpreter running the specs (lua5.4,
-- luajit, lua5.1 ...) on this tree's modules and its build of the C core
-- (SCENARIO_BUILD: build, build-asan, build-luajit ...), for tests that start
-- a process.
local interp = require "support.interp"
return "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' LUA_CPATH='" .. interp.build ..
  "/lua/?.so;;' " .. interp.name
