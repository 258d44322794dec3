-- The rockspec installs scenario and scenario.core offline, and lists every module.
describe("rockspec", function()
  local function read(path)
    local f = assert(io.open(path))
    local s = f:read("a")
    f:close()
    return s
  end

  it("lists every Lua module and C source of the tree", function()
    local spec = read("rockspec/scenario-scm-1.rockspec")
    local p = io.popen("ls lua/scenario/*.lua")
    for path in p:lines() do
      assert.is_truthy(spec:find('"' .. path .. '"', 1, true), path .. " is missing from the rockspec")
    end
    p:close()
    local mk = read("Makefile")
    for src in mk:match("CORE_SRC = ([^\n]*\n[^\n]*)"):gmatch("csrc/[%w_]+%.c") do
      assert.is_truthy(spec:find('"' .. src .. '"', 1, true), src .. " is missing from the rockspec")
    end
  end)

  it("installs with luarocks make into a tree and loads from lua5.4", function()
    local tree = os.tmpname()
    os.remove(tree)
    local log = tree .. ".log"
    local ok = os.execute(require("support.native") .. "luarocks --lua-version 5.4 --tree " .. tree ..
      " make --deps-mode=none rockspec/scenario-scm-1.rockspec > " .. log .. " 2>&1")
    assert.is_true(ok == true, read(log))
    local cmd = "cd / && LUA_PATH='" .. tree .. "/share/lua/5.4/?.lua;" .. tree ..
      "/share/lua/5.4/?/init.lua;;' LUA_CPATH='" .. tree .. "/lib/lua/5.4/?.so;;' lua5.4 -e " ..
      "'local s = require \"scenario\"; local c = require \"scenario.core\"; " ..
      "io.write(s.VERSION, \" \", package.searchpath(\"scenario.core\", package.cpath))'"
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    os.execute("rm -rf " .. tree .. " " .. log .. "; rm -f csrc/*.o")
    assert.matches("^0%.1%.0 " .. tree:gsub("%p", "%%%0") .. "/lib/lua/5%.4/scenario/core%.so$", out)
  end)
end)
