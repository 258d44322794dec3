-- lua/ and examples/ run on Lua 5.1-5.4 and LuaJIT: "min" is the globals
-- all of them share (lua/scenario/compat.lua reaches the rest). The
-- specs, tools and benchmarks may use 5.4's library where they say so.
std = "min"
max_line_length = 120
files["lua/scenario/compat.lua"] = { std = "max" }  -- the one place that may look
files["spec"] = { std = "min+busted" }
files["api"] = { std = "lua54" }
files["bench"] = { std = "lua54" }
exclude_files = { "spec/contract/node_modules", "build", "build-*", ".luarocks" }
