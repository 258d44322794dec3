-- The layout of the tree (issue 16), checked so that it stays readable:
-- - no `require` inside a function body in lua/, except on a line whose
--   comment says why the module must load late (`-- loads late: <why>`);
--   at the top level of a module every require names its module literally;
-- - no cycle among the modules of lua/ through their literal requires (no
--   pair of modules requires each other, nor any longer loop);
-- - resources/ holds one file per API group of the generated table, each
--   required by resources/init.lua; no singular/plural pair of modules
--   (job/jobs) in a folder;
-- - csrc/main.c keeps no command list and patches no module (no preload
--   wrapping): scenario.runner and scenario.track do that work in Lua;
-- - `git ls-files` has no compiled Python (.pyc).
-- Requires are read from the bytecode listing of luac5.4 (-p -l), which
-- tells each function's lines and each instruction's line exactly.
local sh = require "support.sh"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

local LUA_FILES = lines_of("find lua -name '*.lua' | LC_ALL=C sort")

-- lua/scenario/a/b.lua -> scenario.a.b; lua/scenario/a/init.lua -> scenario.a
local function module_name(path)
  return (path:match("^lua/(.-)%.lua$"):gsub("/init$", ""):gsub("/", "."))
end

-- The requires of a file: a list of { line = n, in_function = bool,
-- name = the module when it is a literal string, else nil }.
local function requires_of(path)
  local listing = lines_of("luac5.4 -p -l '" .. path .. "' 2>&1")
  local found, in_function, listed = {}, false, false
  for i, l in ipairs(listing) do
    if l:match("^main <") then
      in_function, listed = false, true
    elseif l:match("^function <") then
      in_function = true
    else
      local line = l:match("^%s*%d+%s+%[(%d+)%]%s+GETTABUP%s.*; _ENV \"require\"$")
      if line then
        local nxt, after = listing[i + 1] or "", listing[i + 2] or ""
        local name = nxt:match("%sLOADK%s.*; \"([^\"]*)\"$")
        if not (after:match("%sCALL%s") or after:match("%sTAILCALL%s")) then name = nil end
        found[#found + 1] = { line = tonumber(line), in_function = in_function, name = name }
      end
    end
  end
  assert(listed, path .. ": " .. table.concat(listing, "\n"))
  return found
end

local modules, edges = {}, {}
for _, path in ipairs(LUA_FILES) do modules[module_name(path)] = path end

describe("the layout of lua/", function()
  it("has no require inside a function body without a comment saying why it loads late", function()
    local bad = {}
    for _, path in ipairs(LUA_FILES) do
      local source = {}
      for l in (read(path) .. "\n"):gmatch("([^\n]*)\n") do source[#source + 1] = l end
      for _, r in ipairs(requires_of(path)) do
        local text = source[r.line] or ""
        if r.in_function and not text:find("%-%- loads late: %S") then
          bad[#bad + 1] = path .. ":" .. r.line .. ": " .. text
        elseif not r.in_function and not r.name then
          bad[#bad + 1] = path .. ":" .. r.line .. ": not a literal module name: " .. text
        end
      end
    end
    assert.are.same({}, bad)
  end)

  it("has no cycle among its modules' requires", function()
    for _, path in ipairs(LUA_FILES) do
      local from = module_name(path)
      edges[from] = {}
      for _, r in ipairs(requires_of(path)) do
        if r.name and modules[r.name] then edges[from][#edges[from] + 1] = r.name end
      end
    end
    local state, cycles = {}, {}
    local function visit(m, stack)
      if state[m] == "done" then return end
      if state[m] == "open" then
        local loop = {}
        for i = #stack, 1, -1 do
          table.insert(loop, 1, stack[i])
          if stack[i] == m then break end
        end
        cycles[#cycles + 1] = table.concat(loop, " -> ") .. " -> " .. m
        return
      end
      state[m] = "open"
      stack[#stack + 1] = m
      for _, to in ipairs(edges[m] or {}) do visit(to, stack) end
      stack[#stack] = nil
      state[m] = "done"
    end
    local names = {}
    for m in pairs(modules) do names[#names + 1] = m end
    table.sort(names)
    for _, m in ipairs(names) do visit(m, {}) end
    assert.are.same({}, cycles)
  end)

  it("has one file in resources/ per API group, each required by resources/init.lua", function()
    local groups = {}
    for _, op in pairs(dofile("lua/scenario/operations.lua")) do
      groups[op.resource:match("^[^.]+")] = true
    end
    local from_init = {}
    for _, r in ipairs(requires_of("lua/scenario/resources/init.lua")) do
      if r.name then from_init[r.name] = true end
    end
    for group in pairs(groups) do
      local name = "scenario.resources." .. group
      assert.is_truthy(modules[name], "no lua/scenario/resources/" .. group .. ".lua")
      assert.is_truthy(from_init[name], "resources/init.lua does not require " .. name)
    end
  end)

  it("has no singular/plural pair of modules in a folder", function()
    local names = {}
    for _, path in ipairs(LUA_FILES) do
      local dir, base = path:match("^(.*)/([^/]+)%.lua$")
      names[dir .. "/" .. base] = path
      local parent, sub = dir:match("^(.*)/([^/]+)$")
      if parent then names[parent .. "/" .. sub] = names[parent .. "/" .. sub] or dir .. "/" end
    end
    for name, path in pairs(names) do
      assert.is_nil(names[name .. "s"], path .. " and " .. tostring(names[name .. "s"]))
    end
  end)
end)

describe("csrc/main.c", function()
  it("keeps no command list and wraps no preload entry", function()
    local main = read("csrc/main.c")
    for _, word in ipairs(require("scenario.runner").COMMANDS) do
      if word ~= "help" then
        assert.is_nil(main:find('"' .. word .. '"', 1, true), "main.c names the command " .. word)
      end
    end
    assert.is_nil(main:find("PRELOAD", 1, true), "main.c touches package.preload")
  end)
end)

describe("the repository", function()
  it("holds no compiled Python", function()
    local ok, out = sh("git ls-files")
    assert.is_true(ok, out)
    local pyc = {}
    for path in out:gmatch("[^\n]+") do
      if path:match("%.pyc$") then pyc[#pyc + 1] = path end
    end
    assert.are.same({}, pyc)
  end)
end)
