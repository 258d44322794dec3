-- make install PREFIX=... puts a working SDK under the prefix.
describe("make install", function()
  it("installs modules, the C core, the header and the library under PREFIX", function()
    local prefix = os.tmpname()
    os.remove(prefix)
    local build = os.getenv("SCENARIO_BUILD") or "build"
    local ok = os.execute(require("support.native") .. "make -s install PREFIX=" .. prefix ..
      (build ~= "build" and " SANITIZE=1" or "") .. " > /dev/null")
    assert.is_true(ok == true)
    for _, f in ipairs { "/include/scenario.h", "/lib/libscenario.a",
      "/lib/lua/5.4/scenario/core.so", "/share/lua/5.4/scenario/init.lua",
      "/share/lua/5.4/scenario/operations.lua" } do
      assert.is_truthy(io.open(prefix .. f), f .. " not installed")
    end
    local p = io.popen("cd / && LUA_PATH='" .. prefix .. "/share/lua/5.4/?.lua;" .. prefix ..
      "/share/lua/5.4/?/init.lua;;' LUA_CPATH='" .. prefix .. "/lib/lua/5.4/?.so;;' lua5.4 -e " ..
      "'local s = require \"scenario\"; local c = s.new { api_key = \"k\", api_secret = \"s\" }; " ..
      "io.write(s.VERSION, \" \", type(c.generate.txt2img))'")
    local out = p:read("a")
    p:close()
    os.execute("rm -rf " .. prefix)
    assert.are.equal("0.1.0 function", out)
  end)
end)
