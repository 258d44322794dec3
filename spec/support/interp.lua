--- The interpreter running the specs and its build of the C core.
--   name     "lua5.1" .. "lua5.4", or "luajit" (its command and pkg-config name)
--   version  "5.1" .. "5.4" (LuaJIT: "5.1", the folder of its modules)
--   build    SCENARIO_BUILD, or the Makefile's folder for this interpreter:
--            build (Lua 5.4), build-luajit, build-lua5.1 ...
--   primary  true in the Lua 5.4 suites: they alone run the checks that no
--            interpreter changes (the simulator's curl sweep, the README's
--            shell blocks, the rockspec installed for every Lua version)
local version = _VERSION:match("%d+%.%d+")
local name = rawget(_G, "jit") and "luajit" or "lua" .. version
local build = os.getenv("SCENARIO_BUILD")
if not build or build == "" then
  build = name == "lua5.4" and "build" or "build-" .. name
end
return { name = name, version = version, build = build, primary = name == "lua5.4" }
