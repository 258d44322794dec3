-- The demo writes PNG files that a real decoder (netpbm's pngtopnm, on libpng) opens.
describe("make demo", function()
  it("writes decodable PNG images", function()
    local dir = os.tmpname()
    os.remove(dir)
    -- on the interpreter under test, which the quickstart runs on too
    local ok, out = require("support.sh")(require("support.lua_cmd") ..
      " examples/run_demo.lua 'a test prompt' " .. dir .. " 2>&1")
    assert.is_true(ok, out)
    local files = {}
    for path in out:gmatch("wrote (%S+)") do files[#files + 1] = path end
    assert.are.equal(2, #files, out)
    for _, path in ipairs(files) do
      assert.matches("%.png$", path)
      local d = io.popen(require("support.native") .. "pngtopnm " .. path .. " 2>&1 | head -c 15")
      local header = d:read("*a")
      d:close()
      local w, h = header:match("^P6%s+(%d+)%s+(%d+)")
      assert.is_truthy(w, "pngtopnm could not decode " .. path .. ": " .. header)
      assert.is_true(tonumber(w) > 0 and tonumber(h) > 0)
    end
    os.execute("rm -rf " .. dir)
  end)
end)
