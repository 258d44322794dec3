-- Writes the module list of rockspec/scenario-scm-1.rockspec from the tree,
-- so that it cannot drift from what the Makefile builds and installs: every
-- lua/scenario/**/*.lua (a folder's init.lua is the folder's module) and the
-- C sources of the Makefile's CORE_SRC for scenario.core. Only the lines
-- between the BEGIN and END markers of the rockspec are rewritten.
--   lua rockspec/modules.lua           rewrite the rockspec (make rockspec)
--   lua rockspec/modules.lua --check   exit 1 when it is stale
-- spec/rockspec_spec.lua runs the check. Runs on Lua 5.1-5.4 and LuaJIT.
local ROCKSPEC = "rockspec/scenario-scm-1.rockspec"
local BEGIN = "    -- BEGIN modules: written by rockspec/modules.lua (make rockspec)\n"
local END = "    -- END modules\n"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- lua/scenario/a/b.lua -> scenario.a.b; lua/scenario/a/init.lua -> scenario.a
local function module_name(path)
  return (path:match("^lua/(.-)%.lua$"):gsub("/init$", ""):gsub("/", "."))
end

local function lua_modules()
  local p = assert(io.popen("find lua/scenario -name '*.lua' | LC_ALL=C sort"))
  local list = {}
  for path in p:lines() do list[#list + 1] = { name = module_name(path), path = path } end
  p:close()
  table.sort(list, function(a, b) return a.name < b.name end)
  for i = 2, #list do
    assert(list[i].name ~= list[i - 1].name, "two files for module " .. list[i].name .. ": " ..
      list[i - 1].path .. " and " .. list[i].path)
  end
  return list
end

-- The Makefile's CORE_SRC, in its order (continued lines included).
local function core_sources()
  local mk = read("Makefile"):gsub("\\\n", " ")
  local line = assert(mk:match("\nCORE_SRC%s*=([^\n]*)"), "no CORE_SRC in the Makefile")
  local list = {}
  for src in line:gmatch("%S+") do list[#list + 1] = src end
  return list
end

local function block()
  local out = { BEGIN }
  for _, m in ipairs(lua_modules()) do
    out[#out + 1] = string.format('    ["%s"] = "%s",\n', m.name, m.path)
  end
  local quoted = {}
  for _, src in ipairs(core_sources()) do quoted[#quoted + 1] = '"' .. src .. '"' end
  out[#out + 1] = '    ["scenario.core"] = {\n'
  out[#out + 1] = "      sources = {\n"
  -- four sources a line
  for i = 1, #quoted, 4 do
    out[#out + 1] = "        " .. table.concat(quoted, ", ", i, math.min(i + 3, #quoted)) .. ",\n"
  end
  out[#out + 1] = "      },\n"
  out[#out + 1] = '      defines = { "_DEFAULT_SOURCE" },\n'
  out[#out + 1] = '      libraries = { "curl", "pthread" },\n'
  out[#out + 1] = '      libdirs = { "$(CURL_LIBDIR)" },\n'
  out[#out + 1] = "    },\n"
  out[#out + 1] = END
  return table.concat(out)
end

local check = arg[1] == "--check"
local path = arg[check and 2 or 1] or ROCKSPEC
local text = read(path)
local first = text:find(BEGIN, 1, true)
local last = select(2, text:find(END, 1, true))
assert(first and last, path .. ": no BEGIN/END modules markers")
local wanted = text:sub(1, first - 1) .. block() .. text:sub(last + 1)
if check then
  if wanted ~= text then
    io.stderr:write(path, " is stale: run make rockspec\n")
    os.exit(1)
  end
elseif wanted ~= text then
  local f = assert(io.open(path, "wb"))
  f:write(wanted)
  f:close()
end
