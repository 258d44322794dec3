-- What a new user meets first: a misspelt field of a paid call is refused
-- with a suggestion before anything is sent (and sent on request), a read
-- sends it with a warning, and a client without credentials fails locally.
local sim_mod = require "support.sim"
local scenario = require "scenario"

describe("first contact", function()
  local sim, lines
  setup(function() sim = sim_mod.start() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset()
    lines = {}
  end)

  local function client(extra)
    local opts = { log = function(level, msg) lines[#lines + 1] = level .. " " .. msg end }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return sim:client(opts)
  end

  local function logged(level, pattern)
    local n = 0
    for _, l in ipairs(lines) do
      if l:sub(1, #level + 1) == level .. " " and l:find(pattern, 1, true) then n = n + 1 end
    end
    return n
  end

  describe("an unknown field", function()
    it("of a paid generation is a validation error suggesting the field, and nothing is sent", function()
      local job, err = client().generate:txt2img { modelId = "m", prompt = "x", numSample = 4 }
      assert.is_nil(job)
      assert.are.equal("validation", err.kind)
      assert.are.same({ "numSample: unknown field (did you mean numSamples?)" }, err.problems)
      assert.matches("allow_unknown = true", err.message, 1, true)
      assert.are.equal(0, sim:stats().total)
    end)

    it("is sent with { allow_unknown = true } on the call, or strict = false on the client", function()
      local job = assert(client().generate:txt2img({ modelId = "m", prompt = "x", numSample = 4 },
        { allow_unknown = true }))
      assert.is_string(job.id)
      assert.are.equal(1, sim:count("POST /generate/txt2img"))
      assert(client { strict = false }.generate:txt2img { modelId = "m", prompt = "x", numSample = 4 })
      assert.are.equal(2, sim:count("POST /generate/txt2img"))
      -- the warning with the suggestion still reaches the log
      assert.are.equal(2, logged("warn", "did you mean numSamples?"))
    end)

    it("of a nested object gets a suggestion from the names beside it", function()
      local _, err = client().generate:txt2img { modelId = "m", prompt = "x",
        concepts = { { modelId = "c", scael = 1 } } }
      assert.are.equal("validation", err.kind)
      assert.matches("concepts[1].scael: unknown field (did you mean scale?)", err.message, 1, true)
      assert.are.equal(0, sim:stats().total)
    end)

    it("without a close name is refused on a paid call, with no suggestion", function()
      local _, err = client().generate:txt2img { modelId = "m", prompt = "x", zzzzzz = 1 }
      assert.are.same({ "zzzzzz: unknown field" }, err.problems)
    end)

    it("of a read is sent, and a likely typo is warned about once per operation and field", function()
      local c = client()
      assert(c.assets:list { pageSize = 5, sortBy = "createdAt", sortDirectoin = "asc" })
      assert(c.assets:list { pageSize = 5, sortDirectoin = "asc" })
      assert.are.equal(2, sim:count("GET /assets"))
      assert.are.equal(1, logged("warn", "sortDirectoin"))
      assert.are.equal(1, logged("warn", "did you mean sortDirection?"))
      -- a name close to nothing is only noted at the debug level
      assert(c.assets:list { pageSize = 5, brandNewFilter = "x" })
      assert.are.equal(0, logged("warn", "brandNewFilter"))
      assert.are.equal(1, logged("debug", "brandNewFilter"))
    end)

    it("is refused everywhere with strict = true, reads included", function()
      local _, err = client { strict = true }.assets:list { pageSize = 5, sortDirectoin = "asc" }
      assert.are.equal("validation", err.kind)
      assert.matches("did you mean sortDirection?", err.message, 1, true)
      assert.are.equal(0, sim:stats().total)
    end)
  end)

  describe("a client without credentials", function()
    -- scenario.new reads SCENARIO_API_* when no credentials are passed: the
    -- environment these tests run in is hidden from it
    -- and every request made through the C core is counted
    local getenv = os.getenv
    local core = require "scenario.core"
    local core_request = core.request
    local made
    before_each(function()
      os.getenv = function(name)   -- luacheck: ignore 122
        if name:find("^SCENARIO_") then return nil end
        return getenv(name)
      end
      made = 0
      core.request = function(...)
        made = made + 1
        return core_request(...)
      end
    end)
    after_each(function()
      os.getenv = getenv   -- luacheck: ignore 122
      core.request = core_request
    end)
    local function bare(extra)
      local opts = { log = false }
      for k, v in pairs(extra or {}) do opts[k] = v end
      return scenario.new(opts)
    end

    it("fails locally with an auth error naming the three ways, on the real API", function()
      local c = bare()
      assert.are.equal("https://api.cloud.scenario.com/v1", c.base_url)
      assert.are.equal("none", c.auth)
      local job, err = c.generate:txt2img { modelId = "m", prompt = "x" }
      assert.is_nil(job)
      assert.are.equal("auth", err.kind)
      assert.are.equal("PostTxt2imgInferences", err.operation)
      assert.is_false(err.retryable)
      for _, way in ipairs { "api_key", "api_secret", "token", "SCENARIO_API_KEY",
          "SCENARIO_API_SECRET", "SCENARIO_API_TOKEN", "nothing was sent" } do
        assert.matches(way, err.message, 1, true)
      end
      local _, rerr = c:request("GET", "/assets")
      assert.are.equal("auth", rerr.kind)
      local _, jerr = c.jobs:get("job_1")
      assert.are.equal("auth", jerr.kind)
      assert.are.equal(0, made)
    end)

    it("fails locally for any API host that is not on this machine", function()
      local c = bare { base_url = "http://192.0.2.1:9/v1" }
      local _, err = c.assets:get("asset_1")
      assert.are.equal("auth", err.kind)
      assert.is_nil(err.status)
      assert.are.equal(0, made)
    end)

    it("sends the public token on the operations that need no credentials", function()
      local c = bare { base_url = sim.url }
      assert.are.equal("none", c.auth)
      -- the simulator checks credentials before it looks for a handler: a
      -- public listing it does not implement answers 501, not 401, when the
      -- public token was sent and taken
      local _, err = c.assets:list_public { pageSize = 2 }
      assert.are.equal(1, made)
      assert.are.equal(501, err.status)
      assert.are.equal(1, sim:count("GET /assets/public"))
      -- the simulator takes the public token only where the API does
      local _, perr = c:request("GET", "/assets", { public = true })
      assert.are.equal(401, perr.status)
    end)

    it("leaves the simulator and other servers on this machine to decide", function()
      local c = bare { base_url = sim.url }
      local body, err = c.assets:get("asset_1")
      assert.is_nil(body)
      assert.are.equal("auth", err.kind)
      assert.are.equal(401, err.status)
      assert.are.equal(1, sim:stats().total)
    end)
  end)
end)
