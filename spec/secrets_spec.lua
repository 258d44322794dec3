-- The key, secret and token never appear in anything a user can see.
local util = require "scenario.util"
local sim_mod = require "support.sim"

describe("secrets", function()
  it("never appear in logs, errors, tracebacks or tostring, at any level", function()
    local p = io.popen(require("support.lua_cmd") .. " spec/support/secrets_sweep.lua 2>&1")
    local out = p:read("*a")
    p:close()
    assert.matches("SWEEP DONE", out)
    -- the sweep really went through the paths it claims
    for _, marker in ipairs { "debug GET /assets", "auth error", "server error",
      "timeout error", "job_failed", "validation error", "warn insecure", "fn\tdebug" } do
      assert.is_truthy(out:find(marker, 1, true), "sweep output lacks " .. marker)
    end
    for _, secret in ipairs { sim_mod.KEY, sim_mod.SECRET, sim_mod.TOKEN,
      util.base64(sim_mod.KEY .. ":" .. sim_mod.SECRET) } do
      assert.is_nil(out:find(secret, 1, true), "output shows a secret")
    end
  end)
end)
