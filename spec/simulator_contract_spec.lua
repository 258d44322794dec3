-- The simulator's (simulator/scenario_sim.py) answers validate against the
-- OpenAPI document: once with the curl-driven sweep of every implemented
-- operation (spec/contract/check_simulator.sh), once with the SDK itself
-- going through Prism's proxy.
local sim_mod = require "support.sim"
local prism_mod = require "support.prism"
local interp = require "support.interp"

describe("simulator contract", function()
  -- curl and Python only: the same on every interpreter, run by the Lua 5.4 suites
  local sweep_it = interp.primary and it or function() end
  sweep_it("passes the sweep of every implemented operation through prism proxy --errors", function()
    local ok, out = require("support.sh")(require("support.native") ..
      "bash spec/contract/check_simulator.sh 2>&1")
    assert.is_true(ok, out)
    assert.matches("ok   PostTxt2imgInferences", out)
  end)

  describe("the SDK through prism proxy", function()
    local sim, prism, client
    setup(function()
      sim = sim_mod.start { job_duration = 0.3 }
      prism = prism_mod.start("proxy", sim.url)
      client = require("scenario").new { base_url = prism.url, api_key = sim_mod.KEY,
        api_secret = sim_mod.SECRET, log = false, poll_interval = 0.1, max_retries = 0 }
    end)
    teardown(function()
      prism:stop()
      sim:stop()
    end)

    it("generates, waits, lists and fetches with no violation", function()
      local cost = assert(client.generate:txt2img({ modelId = "m", prompt = "a fox", numSamples = 2 },
        { dry_run = true }))
      assert.is_number(cost.creativeUnitsCost)
      local job = assert(client.generate:txt2img { modelId = "m", prompt = "a fox", numSamples = 2 })
      assert(job:wait { timeout = 20 })
      local assets = assert(job:assets())
      assert.are.equal(2, #assets)
      local one = assert(client.assets:get(assets[1].id))
      assert.are.equal(assets[1].id, one.id)
      assert.is_table(assert(client.assets:list { pageSize = 10 }).assets)
      assert.is_table(assert(client.jobs:list {}).jobs)
      local other = assert(client.generate:txt2img { modelId = "m", prompt = "to cancel" })
      assert(other:cancel())
      assert.are.same({}, prism:violations())
    end)
  end)
end)
