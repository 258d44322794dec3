-- Configuration, authentication, request shape and the scheduler.
local scenario = require "scenario"
local core = require "scenario.core"
local sim_mod = require "support.sim"

describe("scenario.new", function()
  it("rejects a misspelt option, naming it", function()
    local ok, err = pcall(scenario.new, { timout = 3 })
    assert.is_false(ok)
    assert.are.equal("validation", err.kind)
    assert.matches("timout: unknown option", err.message)
  end)

  it("rejects a mistyped option", function()
    local ok, err = pcall(scenario.new, { timeout = "3" })
    assert.is_false(ok)
    assert.matches("timeout: must be a number", err.message)
  end)

  it("wants api_secret with api_key", function()
    local ok, err = pcall(scenario.new, { api_key = "k" })
    assert.is_false(ok)
    assert.matches("api_secret: required with api_key", err.message)
  end)

  it("defaults to the API's server and documented numbers", function()
    local c = scenario.new { api_key = "k", api_secret = "s" }
    assert.are.equal("https://api.cloud.scenario.com/v1", c.base_url)
    assert.are.equal(60, c.timeout)
    assert.are.equal(10, c.connect_timeout)
    assert.are.equal(2, c.max_retries)
    assert.are.equal(2, c.poll_interval)
  end)

  it("has a User-Agent naming the SDK, Lua and libcurl", function()
    local c = scenario.new {}
    local ua = c:headers_for("https://x", nil, false)[1]
    local interp = rawget(_G, "jit") and "LuaJIT 2%.%d[^;]*" or _VERSION:gsub("%.", "%%.")
    assert.matches("^User%-Agent: scenario%-lua/" .. scenario.VERSION:gsub("%.", "%%.") ..
      " %(" .. interp .. "; libcurl %d", ua)
  end)

  it("shows no secret in tostring or in its fields", function()
    local c = scenario.new { api_key = "key-XYZ1", api_secret = "secret-XYZ2" }
    assert.is_nil(tostring(c):find("XYZ", 1, true))
    for k, v in pairs(c) do
      assert.is_nil(tostring(v):find("XYZ", 1, true), k)
    end
  end)
end)

describe("requests on the simulator", function()
  local sim
  setup(function() sim = sim_mod.start() end)
  teardown(function() sim:stop() end)
  before_each(function() sim:reset() end)

  it("authenticates with Basic key:secret", function()
    local body, res = sim:client():request("GET", "/assets")
    assert.is_table(body)
    assert.are.equal(200, res.status)
    assert.is_string(res.request_id)
    assert.is_number(res.elapsed)
    assert.are.equal(1, res.attempts)
  end)

  it("authenticates with a Bearer token", function()
    local c = scenario.new { token = sim_mod.TOKEN, base_url = sim.url, log = false }
    assert.are.equal("bearer", c.auth)
    assert.is_table((c:request("GET", "/assets")))
  end)

  it("reads its defaults from the environment", function()
    local script = [[
      local c = require("scenario").new { log = false }
      local body, err = c:request("GET", "/assets")
      io.write(c.project_id, " ", c.base_url, " ", body and "ok" or tostring(err))
    ]]
    local cmd = string.format(
      "SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s SCENARIO_API_URL=%s SCENARIO_PROJECT_ID=proj-9 " ..
      "%s -e '%s'",
      sim_mod.KEY, sim_mod.SECRET, sim.url, require("support.lua_cmd"), script)
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.are.equal("proj-9 " .. sim.url .. " ok", out)
    local reqs = sim:stats().requests
    assert.matches("projectId=proj%-9", reqs[#reqs].query)
  end)

  it("sends projectId on every request", function()
    local c = sim:client { project_id = "p 1" }
    c:request("GET", "/assets", { query = { pageSize = 5 } })
    c:request("GET", "/jobs/missing")
    for _, r in ipairs(sim:stats().requests) do
      assert.matches("projectId=p%%201", r.query)
    end
  end)

  it("merges client and per-call headers", function()
    local c = sim:client { headers = { ["X-Sim-Fault"] = "status=404" } }
    local _, err = c:request("GET", "/assets", { max_retries = 0 })
    assert.are.equal("not_found", err.kind)
    local body = c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "status=200" } })
    assert.is_table(body)
  end)

  it("refuses a body that JSON cannot carry, sending nothing", function()
    local body, err = sim:client():request("POST", "/assets/get-bulk",
      { body = { assetIds = { 1, nil, 3 } } })
    assert.is_nil(body)
    assert.are.equal("validation", err.kind)
    assert.matches("assetIds: is an array with holes", err.message)
    assert.are.equal(0, sim:stats().total)
  end)
end)

describe("spawn and step", function()
  local sim
  setup(function() sim = sim_mod.start() end)
  teardown(function() sim:stop() end)

  it("runs two coroutines' requests concurrently while the main code steps", function()
    sim:reset()
    local client = sim:client()
    local done = {}
    for i = 1, 2 do
      scenario.spawn(function()
        local body = client:request("GET", "/assets",
          { headers = { ["X-Sim-Fault"] = "delay_headers=0.4" } })
        done[i] = body ~= nil
      end)
    end
    local frames, t0 = 0, core.now()
    while not (done[1] and done[2]) do
      scenario.step(0)
      frames = frames + 1
      assert.is_true(core.now() - t0 < 5, "stuck")
    end
    assert.is_true(core.now() - t0 < 0.8, "the two waits did not overlap")
    assert.is_true(frames > 10)
    assert.are.equal(2, sim:stats().max_in_flight)
  end)

  it("sends an error inside a spawned coroutine to scenario.on_error", function()
    local seen
    local previous = scenario.on_error
    scenario.on_error = function(err, tb) seen = { err = err, tb = tb } end
    scenario.spawn(function()
      scenario.sleep(0.01)
      error("boom")
    end)
    scenario.run()
    scenario.on_error = previous
    assert.matches("boom", seen.err)
    assert.matches("traceback", seen.tb)
  end)

  it("a blocking call outside a coroutine keeps spawned work moving", function()
    local client = sim:client()
    local finished = false
    scenario.spawn(function()
      scenario.sleep(0.05)
      finished = true
    end)
    client:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "delay_headers=0.2" } })
    assert.is_true(finished)
  end)
end)
