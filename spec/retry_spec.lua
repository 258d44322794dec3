-- Retries, timeouts and error kinds of the acceptance list, on the simulator.
local core = require "scenario.core"
local sim_mod = require "support.sim"

describe("retries and errors", function()
  local sim, client
  setup(function()
    sim = sim_mod.start()
    client = sim:client()
  end)
  teardown(function() sim:stop() end)
  before_each(function() sim:reset() end)

  it("503 twice then 200: success after three requests", function()
    sim:faults("GET", "/assets/*", { "status=503", "status=503" })
    local body, res = client:request("GET", "/assets/nope-but-faulted")
    -- the third attempt reaches the real handler: an unknown asset is a 404
    assert.is_nil(body)
    assert.are.equal("not_found", res.kind)
    assert.are.equal(3, res.attempts)
    assert.are.equal(3, sim:count("GET /assets/{assetId}"))
  end)

  it("503 twice then 200 on a list: the body comes back", function()
    sim:faults("GET", "/assets", { "status=503", "status=503" })
    local body, res = client:request("GET", "/assets")
    assert.is_table(body)
    assert.are.equal(200, res.status)
    assert.are.equal(3, res.attempts)
    assert.are.equal(3, sim:count("GET /assets"))
  end)

  it("honours Retry-After: 1 on a 429", function()
    sim:faults("GET", "/assets", { "status=429,retry_after=1" })
    local body, res = client:request("GET", "/assets")
    assert.is_table(body)
    assert.are.equal(2, res.attempts)
    local reqs = sim:stats().requests
    assert.are.equal(2, #reqs)
    local gap = reqs[2].time - reqs[1].time
    assert.is_true(gap >= 0.8 and gap <= 1.5, "retry came after " .. gap .. " s")
  end)

  it("honours Retry-After given as an HTTP date", function()
    sim:faults("GET", "/assets", { "status=429,retry_after_date=2" })
    local t0 = core.now()
    assert.is_table((client:request("GET", "/assets")))
    local spent = core.now() - t0
    assert.is_true(spent >= 0.9 and spent <= 3, "took " .. spent)
  end)

  it("a paid POST answered 500 reaches the server once and says so", function()
    local body, err = client.generate:txt2img({ prompt = "a cat", modelId = "m" },
      { headers = { ["X-Sim-Fault"] = "status=500" } })
    assert.is_nil(body)
    assert.are.equal("server", err.kind)
    assert.are.equal(500, err.status)
    assert.is_false(err.retryable)
    assert.matches("may have been processed", err.message)
    assert.is_string(err.request_id)
    assert.are.equal(1, sim:count("POST /generate/txt2img"))
  end)

  it("a paid POST answered 429 is retried (the API did not take it)", function()
    sim:faults("POST", "/generate/txt2img", { "status=429,retry_after=1" })
    local job = assert(client.generate:txt2img { prompt = "a cat", modelId = "m" })
    assert.is_string(job.id)
    assert.are.equal(2, sim:count("POST /generate/txt2img"))
  end)

  it("a paid POST whose connection resets is not retried", function()
    local body, err = client.generate:txt2img({ prompt = "a cat", modelId = "m" },
      { headers = { ["X-Sim-Fault"] = "reset" } })
    assert.is_nil(body)
    assert.are.equal("connection", err.kind)
    assert.is_false(err.retryable)
    assert.matches("may have been processed", err.message)
    assert.are.equal(1, sim:count("POST /generate/txt2img"))
  end)

  it("a read whose connection resets is retried", function()
    sim:faults("GET", "/assets", { "reset" })
    local body, res = client:request("GET", "/assets")
    assert.is_table(body)
    assert.are.equal(200, res.status)
    assert.are.equal(2, sim:count("GET /assets"))
  end)

  it("a reply slower than timeout gives a timeout error within timeout + 0.5 s", function()
    local c = sim:client { timeout = 1 }
    local t0 = core.now()
    local body, err = c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "delay_headers=3" } })
    local spent = core.now() - t0
    assert.is_nil(body)
    assert.are.equal("timeout", err.kind)
    assert.is_true(spent >= 0.9 and spent < 1.5, "took " .. spent)
    assert.are.equal(1, sim:count("GET /assets"))
  end)

  it("a body slower than timeout also times out", function()
    local c = sim:client { timeout = 1 }
    local t0 = core.now()
    local _, err = c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "delay_body=3" } })
    assert.are.equal("timeout", err.kind)
    assert.is_true(core.now() - t0 < 1.5)
  end)

  it("a closed port gives a connection error, retried with backoff", function()
    local c = require("scenario").new { base_url = "http://127.0.0.1:1", log = false,
      max_retries = 2, api_key = "k", api_secret = "s" }
    local t0 = core.now()
    local body, err = c:request("GET", "/assets")
    local spent = core.now() - t0
    assert.is_nil(body)
    assert.are.equal("connection", err.kind)
    assert.is_true(err.retryable)
    assert.are.equal(3, err.attempts)
    -- two backoffs: 0.5 s and 1 s, each times a jitter in [0.75, 1]
    assert.is_true(spent >= 1.1 and spent < 2, "took " .. spent)
  end)

  it("401 gives auth with the API's message", function()
    local c = sim:client { api_secret = "wrong-secret" }
    local body, err = c:request("GET", "/assets")
    assert.is_nil(body)
    assert.are.equal("auth", err.kind)
    assert.are.equal(401, err.status)
    assert.is_string(err.message)
    assert.is_table(err.body)
    assert.is_false(err.retryable)
    assert.matches("^scenario: auth error", tostring(err))
  end)

  it("an HTML error page becomes a readable server error", function()
    sim:faults("GET", "/assets", { "html", "html", "html" })
    local _, err = client:request("GET", "/assets")
    assert.are.equal("server", err.kind)
    assert.are.equal(502, err.status)
    assert.is_true(err.retryable)
    assert.is_nil(err.message:find("<", 1, true))
  end)

  it("invalid JSON in a 200 is an api error, not a crash", function()
    sim:faults("GET", "/assets", { "invalid_json" })
    local body, err = client:request("GET", "/assets")
    assert.is_nil(body)
    assert.are.equal("api", err.kind)
    assert.matches("invalid JSON", err.message)
  end)

  it("an empty 200 is an api error", function()
    sim:faults("GET", "/assets", { "empty" })
    local _, err = client:request("GET", "/assets")
    assert.are.equal("api", err.kind)
    assert.matches("empty body", err.message)
  end)

  it("max_retries = 0 makes one attempt", function()
    sim:faults("GET", "/assets", { "status=503" })
    local _, err = client:request("GET", "/assets", { max_retries = 0 })
    assert.are.equal("server", err.kind)
    assert.is_true(err.retryable)
    assert.are.equal(1, sim:count("GET /assets"))
  end)
end)
