-- Pipelines on the simulator: dependency order, concurrency, downloads,
-- budgets, kill and resume, faults, a raising on_event, the batch example.
local core = require "scenario.core"
local loop = require "scenario.loop"
local json = require "scenario.json"
local scenario = require "scenario"
local pipeline = require "scenario.pipeline"
local sim_mod = require "support.sim"
local lua_cmd = require "support.lua_cmd"

local PNG = "\137PNG\r\n\26\n"

local files = require "support.files"
local read, write, tmpdir, quote = files.read, files.write, files.tmpdir, files.quote

-- generation POSTs the simulator saw: real ones and dry runs
local function generation_posts(sim)
  local real, dry = {}, 0
  for _, r in ipairs(sim:stats().requests) do
    if r.method == "POST" and r.route:match("^POST /generate/") then
      if (r.query or ""):find("dryRun=true", 1, true) then dry = dry + 1
      else real[#real + 1] = r end
    end
  end
  return real, dry
end

-- hero (2 samples) -> hero-nobg; var-i (2 samples) -> nobg-i, for 3 prompts
local function batch(p, n)
  local hero = p:step("hero", "generate.txt2img", { modelId = "flux.1-dev", prompt = "a hero", numSamples = 2 })
  p:step("hero-nobg", "generate.remove_background", { image = hero:asset(2) })
  return p:each({ "a fox", "an owl", "a cat" }, function(prompt, i)
    if i > (n or 3) then return nil end
    local g = p:step("var-" .. i, "PostTxt2imgInferences", { modelId = "flux.1-dev", prompt = prompt, numSamples = 2 })
    return p:step("nobg-" .. i, "generate.remove_background", { image = g:asset(1) })
  end)
end

describe("scenario.pipeline", function()
  local sim, client
  setup(function()
    sim = sim_mod.start { job_duration = 0.3 }
    client = sim:client { poll_interval = 0.1 }
  end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:config { job_duration = 0.3 }
    sim:reset()
  end)

  it("runs steps in dependency order, at most `concurrency` jobs at once, and writes the files", function()
    local p = pipeline.new(client)
    batch(p)
    local dir = tmpdir()
    local seq, at = {}, {}
    local result, err = p:run { concurrency = 2, download = dir, on_event = function(ev)
      seq[#seq + 1] = ev
      at[ev.type .. " " .. ev.step] = at[ev.type .. " " .. ev.step] or #seq
    end }
    assert.is_nil(err)
    local stats = sim:stats()
    assert.is_true(stats.max_jobs_running <= 2, "max_jobs_running " .. stats.max_jobs_running)
    assert.are.equal(2, stats.max_jobs_running)
    assert.are.equal(8, #generation_posts(sim))
    -- every dependent was submitted after its input succeeded, with its output
    for dep, input in pairs { ["hero-nobg"] = "hero", ["nobg-1"] = "var-1", ["nobg-2"] = "var-2",
        ["nobg-3"] = "var-3" } do
      assert.is_true(at["submitted " .. dep] > at["finished " .. input], dep)
      local r = result.steps[dep]
      assert.are.equal("done", r.status)
      local want = result.steps[input].assets[dep == "hero-nobg" and 2 or 1]
      assert.are.equal(want, r.job.record.metadata.input.image)
    end
    assert.are.equal(8, #result.order)
    -- leaves downloaded into dir/<step>/, byte for byte what the simulator serves
    for _, name in ipairs { "hero-nobg", "nobg-1", "nobg-2", "nobg-3" } do
      local r = result.steps[name]
      assert.are.equal(1, #r.files)
      assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/" .. name:gsub("%p", "%%%0") .. "/", r.files[1])
      local bytes = read(r.files[1])
      assert.are.equal(PNG, bytes:sub(1, 8))
      local asset = assert(client.assets:get(r.assets[1]))
      assert.is_true(bytes == sim_mod.fetch(asset.url))
    end
    assert.are.same({}, result.steps.hero.files)      -- not a leaf
    assert.are.equal(4 * 10 + 4 * 2, result.spend.spent)
    assert.are.equal(0, core.pending())
  end)

  it("refuses a bad plan before anything is sent", function()
    local p = pipeline.new(client)
    assert.has_error(function() p:step("x", "generate.nope", {}) end)
    assert.has_error(function() p:step("x", "assets.get", {}) end)
    p:step("a", "generate.txt2img", { modelId = "m", prompt = "a", numSamples = 2 })
    assert.has_error(function() p:step("a", "generate.txt2img", { modelId = "m", prompt = "b" }) end)
    assert.has_error(function() p:step("z", "generate.txt2img", {}, { downlaod = "x" }) end)
    -- by-name references allow forward references, hence cycles
    p:step("b", "generate.remove_background", { image = p:asset("c") })
    p:step("c", "generate.remove_background", { image = p:asset("b") })
    local _, err = p:run()
    assert.are.equal("validation", err.kind)
    assert.matches("cycle of references: b %-> c %-> b", err.message)

    p = pipeline.new(client)
    p:step("b", "generate.remove_background", { image = p:asset("nope") })
    _, err = p:run()
    assert.matches('step b: image: unknown step "nope"', err.message)

    -- every bad field of every step at once, outputs taken as stand-ins
    p = pipeline.new(client)
    local a = p:step("a", "generate.txt2img", { modelId = "m", prompt = "a", numSamples = 2 })
    p:step("c", "generate.remove_background", { image = a:assets(), format = "gif" })
    p:step("d", "generate.txt2img", { modelId = "m", prompt = 3 })
    p:step("e", "generate.remove_background", { image = a:asset(3) })
    _, err = p:run()
    assert.are.equal("validation", err.kind)
    assert.matches("step c: image: must be a string", err.message)
    assert.matches("step c: format:", err.message)
    assert.matches("step d: prompt:", err.message)
    assert.matches("step e: image: asset%(3%) does not exist", err.message)
    assert.are.equal(0, sim:stats().total)
  end)

  it("refuses a plan over max_cost with zero generation POSTs", function()
    local p = pipeline.new(client)
    batch(p)
    local priced = {}
    local result, err = p:run { max_cost = 47, on_event = function(ev)
      assert.are.equal("priced", ev.type)
      priced[ev.step] = ev.cost
    end }
    assert.is_nil(result)
    assert.are.equal("budget", err.kind)
    assert.are.equal(48, err.estimated)
    assert.are.equal(10, priced.hero)
    assert.are.equal(2, priced["nobg-1"])
    local real, dry = generation_posts(sim)
    assert.are.equal(0, #real)
    assert.are.equal(8, dry)
    assert.are.equal(0, sim:stats().jobs_running)
    -- within budget it runs
    result, err = p:run { max_cost = 48 }
    assert.is_nil(err)
    assert.are.equal(48, result.spend.estimated)
    assert.are.equal(48, result.spend.spent)
  end)

  it("polls through transient read faults and never sends a submission twice", function()
    sim:faults("GET", "/jobs/*", { "status=503", "status=503", "reset", "status=502" })
    sim:faults("POST", "/assets/get-bulk", { "status=503" })
    local p = pipeline.new(client)
    batch(p, 1)
    local result, err = p:run { concurrency = 4, download = tmpdir() }
    assert.is_nil(err)
    assert.are.equal(4, #generation_posts(sim))
    assert.are.equal(0, sim:stats().faults_pending)
    for _, r in pairs(result.steps) do assert.are.equal("done", r.status) end
  end)

  it("does not resend a submission answered 500: the step fails, its dependents are skipped", function()
    sim:faults("POST", "/generate/txt2img", { "status=500" })
    local state = tmpdir() .. "/state.json"
    local p = pipeline.new(client)
    local a = p:step("a", "generate.txt2img", { modelId = "m", prompt = "a" })
    p:step("a-nobg", "generate.remove_background", { image = a:asset(1) })
    p:step("b", "generate.remove_background", { image = "asset_x" })
    local result, err = p:run { state_file = state }
    assert.are.equal("pipeline", err.kind)
    assert.are.same({ "a" }, err.failed)
    assert.are.same({ "a-nobg" }, err.skipped)
    assert.are.equal("failed", result.steps.a.status)
    assert.is_true(result.steps.a.error.ambiguous)
    assert.matches("not sent again", result.steps.a.error.message)
    assert.are.equal("skipped", result.steps["a-nobg"].status)
    assert.are.equal("done", result.steps.b.status)
    assert.are.equal(1, sim:count("POST /generate/txt2img"))
    assert.are.equal("submitting", json.decode(read(state)).steps.a.status)
    -- a second run does not send it either, unless told to
    result, err = p:run { state_file = state }
    assert.are.same({ "a" }, err.failed)
    assert.is_nil(result.steps.a.job)
    assert.are.equal(1, sim:count("POST /generate/txt2img"))
    assert.are.equal(1, sim:count("POST /generate/remove-background"))
    result, err = p:run { state_file = state, resubmit_unknown = true }
    assert.is_nil(err)
    assert.are.equal(2, sim:count("POST /generate/txt2img"))
    assert.are.equal("done", result.steps["a-nobg"].status)
    assert.is_true(result.steps.b.resumed)
  end)

  it("refuses a state file written for other fields of a step", function()
    local state = tmpdir() .. "/state.json"
    local p = pipeline.new(client)
    p:step("a", "generate.txt2img", { modelId = "m", prompt = "a" })
    assert(p:run { state_file = state })
    p = pipeline.new(client)
    p:step("a", "generate.txt2img", { modelId = "m", prompt = "b" })
    local _, err = p:run { state_file = state }
    assert.are.equal("validation", err.kind)
    assert.matches("step%(s%) a", err.message)
    assert.are.equal(1, sim:count("POST /generate/txt2img"))
  end)

  it("stops everything when on_event raises, leaves a resumable state, re-raises the error", function()
    local state = tmpdir() .. "/state.json"
    local p = pipeline.new(client)
    batch(p)
    local boom = setmetatable({}, { __tostring = function() return "boom" end })
    local ok, e = pcall(p.run, p, { concurrency = 3, state_file = state, download = tmpdir(),
      on_event = function(ev)
        if ev.type == "finished" then error(boom) end
      end })
    assert.is_false(ok)
    assert.are.equal(boom, e)
    assert.are.equal(0, core.pending())
    if loop.stats then
      local s = loop.stats()
      assert.are.equal(0, s.spawned)
      assert.are.equal(0, s.waiting)
    end
    local doc = json.decode(read(state))
    local ids = 0
    for _, st in pairs(doc.steps) do
      assert.are_not.equal("submitting", st.status)
      if st.job then ids = ids + 1 end
    end
    assert.are.equal(3, ids)
    -- a second run re-attaches and finishes: one POST per step in all
    local result, err = p:run { concurrency = 3, state_file = state }
    assert.is_nil(err)
    assert.are.equal(8, #generation_posts(sim))
    assert.are.equal(8, #result.order)
  end)

  it("runs inside scenario.spawn while the caller's loop keeps stepping", function()
    local p = pipeline.new(client)
    batch(p, 1)
    local result, err
    scenario.spawn(function() result, err = p:run { concurrency = 2 } end)
    local frames = 0
    while not result and not err do
      scenario.step(5)
      frames = frames + 1
    end
    assert.is_nil(err)
    assert.is_true(frames > 10)
    assert.are.equal(4, #result.order)
  end)

  it("resumes after a kill: the second run submits only the missing steps", function()
    sim:config { job_duration = 4 }
    local dir = tmpdir()
    local state = dir .. "/state.json"
    local script = dir .. "/run.lua"
    write(script, [[
      local scenario = require "scenario"
      local pipeline = require "scenario.pipeline"
      local client = scenario.new { base_url = arg[1], api_key = "test-key",
        api_secret = "test-secret-0123456789", poll_interval = 0.1, log = false }
      local p = pipeline.new(client)
      for i = 1, 3 do
        local g = p:step("gen-" .. i, "generate.txt2img", { modelId = "m", prompt = "p" .. i })
        p:step("nobg-" .. i, "generate.remove_background", { image = g:asset(1) })
      end
      assert(p:run { concurrency = 3, state_file = arg[2] })
      print("finished")
    ]])
    local proc = io.popen("echo $$; exec env " .. lua_cmd .. " " .. quote(script) .. " " .. sim.url .. " "
      .. quote(state) .. " 2>&1")
    local pid = proc:read("*l")
    local deadline, ids = core.now() + 10, 0
    while core.now() < deadline do
      local doc = json.decode(read(state) or "")
      ids = 0
      for _, st in pairs(doc and doc.steps or {}) do
        if st.job then ids = ids + 1 end
      end
      if ids >= 3 then break end
      os.execute("sleep 0.05")
    end
    assert.are.equal(3, ids)
    os.execute("kill -9 " .. pid)
    local out = proc:read("*a")
    proc:close()
    assert.are.equal(3, #generation_posts(sim), out .. require("cjson").encode(sim:stats().routes))
    sim:config { job_duration = 0.3 }
    local p = pipeline.new(client)
    for i = 1, 3 do
      local g = p:step("gen-" .. i, "generate.txt2img", { modelId = "m", prompt = "p" .. i })
      p:step("nobg-" .. i, "generate.remove_background", { image = g:asset(1) })
    end
    -- priced again: only the steps not submitted yet; the known costs count
    local result, err = p:run { concurrency = 3, state_file = state, max_cost = 21 }
    assert.is_nil(err)
    local real, dry = generation_posts(sim)
    assert.are.equal(6, #real)
    assert.are.equal(3, dry)
    assert.are.equal(21, result.spend.estimated)
    assert.are.equal(21, result.spend.spent)
    for i = 1, 3 do
      assert.is_true(result.steps["gen-" .. i].resumed)
      assert.are.equal("done", result.steps["nobg-" .. i].status)
    end
  end)

  it("runs the batch example, which downloads every cut-out", function()
    local dir = tmpdir()
    local cmd = string.format("SCENARIO_API_URL=%s SCENARIO_API_KEY=test-key "
      .. "SCENARIO_API_SECRET=test-secret-0123456789 SCENARIO_POLL_INTERVAL=0.1 %s examples/pipeline_batch.lua %s 2>&1",
      sim.url, lua_cmd, quote(dir .. "/out"))
    local ok, out = require("support.sh")(cmd)
    assert.is_true(ok, out)
    assert.matches("36 steps, 24 files", out)
    assert.matches("spend: estimated 168, spent 168", out)
    local real = generation_posts(sim)
    assert.are.equal(36, #real)
    assert.is_true(sim:stats().max_jobs_running <= 6)
    local p = io.popen("ls " .. quote(dir .. "/out") .. "/*/*.png | wc -l")
    assert.are.equal("24", p:read("*l"))
    p:close()
  end)
end)
