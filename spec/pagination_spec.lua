-- :each and :pages over the simulator's paginated lists.
local sim_mod = require "support.sim"

describe("pagination", function()
  local sim, client
  setup(function()
    sim = sim_mod.start { args = { "--seed-assets", "250" } }
    client = sim:client()
  end)
  teardown(function() sim:stop() end)
  before_each(function() sim:reset() end)

  it("walks 250 assets with :each, each exactly once, over three pages", function()
    local seen, n = {}, 0
    for asset in client.assets:each { pageSize = 100 } do
      assert.is_nil(seen[asset.id], "asset seen twice: " .. asset.id)
      seen[asset.id] = true
      n = n + 1
    end
    assert.are.equal(250, n)
    assert.are.equal(3, sim:count("GET /assets"))
  end)

  it("stops at limit without fetching another page", function()
    local n = 0
    for _ in client.assets:each { pageSize = 100, limit = 120 } do n = n + 1 end
    assert.are.equal(120, n)
    assert.are.equal(2, sim:count("GET /assets"))
    n = 0
    for _ in client.assets:each { pageSize = 100, limit = 5 } do n = n + 1 end
    assert.are.equal(5, n)
    assert.are.equal(3, sim:count("GET /assets"))
  end)

  it("iterates whole pages with :pages", function()
    local sizes = {}
    for page, res in client.assets:pages { pageSize = 100 } do
      sizes[#sizes + 1] = #page.assets
      assert.are.equal(200, res.status)
    end
    assert.are.same({ 100, 100, 50 }, sizes)
  end)

  it("raises the page's error when a page fails", function()
    sim:faults("GET", "/assets", { "status=200", "status=404" })
    local ok, err = pcall(function()
      for _ in client.assets:each { pageSize = 100 } do end
    end)
    assert.is_false(ok)
    assert.are.equal("not_found", err.kind)
  end)

  it("validates fields before the first page", function()
    local ok, err = pcall(function()
      for _ in client.assets:each { pageSize = 1000 } do end
    end)
    assert.is_false(ok)
    assert.are.equal("validation", err.kind)
    assert.matches("pageSize: must be <= 100", err.message)
    assert.are.equal(0, sim:stats().total)
  end)
end)
