-- make install PREFIX=... puts a working SDK under the prefix, for the
-- interpreter running the specs (make install LUA=luajit ... : modules under
-- lib/lua/5.1 and share/lua/5.1; the scenario-lua runner with Lua 5.4 only).
local sh = require "support.sh"
local native = require "support.native"
local interp = require "support.interp"

describe("make install", function()
  it("installs modules, the C core, the header and the library under PREFIX", function()
    local prefix = os.tmpname()
    os.remove(prefix)
    local build, v = interp.build, interp.version
    local ok, err = sh(native .. "make -s install PREFIX=" .. prefix .. " LUA=" .. interp.name ..
      " BUILD=" .. build .. (build:find("asan", 1, true) and " SANITIZE=1" or "") .. " 2>&1 >/dev/null")
    assert.is_true(ok, err)
    local function installed(f)
      local h = io.open(prefix .. f)
      if h then h:close() end
      return h ~= nil
    end
    for _, f in ipairs { "/include/scenario.h", "/lib/libscenario.a",
      "/lib/lua/" .. v .. "/scenario/core.so", "/share/lua/" .. v .. "/scenario/init.lua",
      "/share/lua/" .. v .. "/scenario/operations.lua",
      "/share/lua/" .. v .. "/scenario/resources/uploads.lua",
      "/share/lua/" .. v .. "/scenario/runner/init.lua" } do
      assert.is_true(installed(f), f .. " not installed")
    end
    assert.are.equal(interp.name == "lua5.4", installed("/bin/scenario-lua"))
    local _, out = sh("cd / && LUA_PATH='" .. prefix .. "/share/lua/" .. v .. "/?.lua;" .. prefix ..
      "/share/lua/" .. v .. "/?/init.lua;;' LUA_CPATH='" .. prefix .. "/lib/lua/" .. v .. "/?.so;;' " ..
      interp.name .. " -e " ..
      "'local s = require \"scenario\"; local c = s.new { api_key = \"k\", api_secret = \"s\" }; " ..
      "io.write(s.VERSION, \" \", type(c.generate.txt2img))' 2>&1")
    os.execute("rm -rf " .. prefix)
    assert.are.equal("0.1.0 function", out)
  end)
end)
