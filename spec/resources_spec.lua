-- The resource layer on the simulator: routing, encoding, unknown fields,
-- deprecation notes, dry runs, validation before sending, connection reuse.
local sim_mod = require "support.sim"

describe("resources", function()
  local sim, client, lines
  setup(function()
    sim = sim_mod.start()
  end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset()
    lines = {}
    client = sim:client { log = function(level, msg) lines[#lines + 1] = level .. " " .. msg end }
  end)

  local function logged(pattern)
    local n = 0
    for _, l in ipairs(lines) do if l:find(pattern) then n = n + 1 end end
    return n
  end

  it("percent-encodes path parameters: an id with a space and a slash reaches its route", function()
    local body, err = client.assets:get("a b/c")
    assert.is_nil(body)
    assert.are.equal("not_found", err.kind)
    local r = sim:stats().requests[1]
    assert.are.equal("GET /assets/{assetId}", r.route)
    assert.matches("/assets/a%%20b%%2Fc$", r.path)
  end)

  it("routes fields to the query and the body as the document says", function()
    local job = assert(client.generate:txt2img({ modelId = "m", prompt = "p", numSamples = 2 }))
    assert.is_string(job.id)
    local page = assert(client.assets:list { pageSize = 7 })
    assert.is_table(page.assets)
    local reqs = sim:stats().requests
    assert.are.equal("POST /generate/txt2img", reqs[1].route)
    assert.is_true(reqs[1].body_size > 0)
    assert.matches("pageSize=7", reqs[2].query)
  end)

  it("sends fields the document does not list when asked, noting them in the debug log", function()
    assert(client.generate:txt2img({ modelId = "m", prompt = "p", brandNewField = 1 },
      { allow_unknown = true }))
    assert.are.equal(1, sim:count("POST /generate/txt2img"))
    assert.are.equal(1, logged("brandNewField"))
  end)

  it("refuses unknown fields with strict = true, sending nothing", function()
    local strict = sim:client { strict = true }
    local job, err = strict.generate:txt2img { modelId = "m", prompt = "p", brandNewField = 1 }
    assert.is_nil(job)
    assert.are.equal("validation", err.kind)
    assert.matches("brandNewField", err.message)
    assert.are.equal(0, sim:stats().total)
  end)

  it("lists every bad field in one validation error and sends nothing", function()
    local job, err = client.generate:txt2img {
      modelId = "m", prompt = 5, numSamples = 0,
      concepts = { { modelId = "c", scale = 0.5 }, { modelId = "c", scale = 3 } },
    }
    assert.is_nil(job)
    assert.are.equal("validation", err.kind)
    assert.are.equal("PostTxt2imgInferences", err.operation)
    assert.is_true(#err.problems >= 3)
    assert.matches("prompt:", err.message)
    assert.matches("numSamples: must be >= 1", err.message)
    assert.matches("concepts%[2%]%.scale: must be <= 2 %(got 3%)", err.message)
    assert.are.equal(0, sim:stats().total)
  end)

  it("notes a deprecated operation once in the debug log", function()
    client.generate:remove_background { image = "asset_x" }
    client.generate:remove_background { image = "asset_x" }
    assert.are.equal(1, logged("deprecated"))
  end)

  it("returns the cost table for a dry run (status 269)", function()
    local jobs_before = sim:stats().jobs
    sim:reset()
    local cost, _, res = client.generate:txt2img({ modelId = "m", prompt = "p", numSamples = 4 },
      { dry_run = true })
    assert.are.equal(269, res.status)
    assert.is_number(cost.creativeUnitsCost)
    assert.matches("dryRun=true", sim:stats().requests[1].query)
    assert.are.equal(jobs_before, sim:stats().jobs)
  end)

  it("refuses dry_run on an operation that has none", function()
    local _, err = client.assets:list({}, { dry_run = true })
    assert.are.equal("validation", err.kind)
    assert.matches("has no dry run", err.message)
  end)

  it("reaches any operation by id with client:call", function()
    local body = assert(client:call("GetAssets", { pageSize = 3 }))
    assert.is_table(body.assets)
    local _, err = client:call("GetAssetsByAssetId", { assetId = "nope" })
    assert.are.equal("not_found", err.kind)
    local _, err2 = client:call("NoSuchOperation", {})
    assert.are.equal("validation", err2.kind)
  end)

  it("reuses one keep-alive connection for sequential requests", function()
    for _ = 1, 20 do assert(client.assets:list { pageSize = 1 }) end
    local s = sim:stats()
    assert.are.equal(20, s.total)
    assert.are.equal(1, s.api_connections)
  end)
end)
