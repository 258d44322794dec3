-- Jobs on the simulator: wait, failure, cancel, timeouts, wait_all, downloads.
local core = require "scenario.core"
local scenario = require "scenario"
local sim_mod = require "support.sim"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

describe("jobs", function()
  local sim, client
  setup(function()
    sim = sim_mod.start { job_duration = 0.6 }
    client = sim:client { poll_interval = 0.2 }
  end)
  teardown(function() sim:stop() end)
  before_each(function() sim:reset() end)

  it("waits for success, reporting every change of status and progress", function()
    local job = assert(client.generate:txt2img { modelId = "m", prompt = "a fox", numSamples = 2 })
    assert.are.equal("pending", job.status)
    local seen, last = {}, -1
    assert(job:wait { on_progress = function(j)
      assert.is_true(j.progress >= last)
      last = j.progress
      if seen[#seen] ~= j.status then seen[#seen + 1] = j.status end
    end })
    assert.are.equal("success", job.status)
    assert.are.equal(1, job.progress)
    assert.are.equal("success", seen[#seen])
    assert.are.equal("pending", seen[1])
    assert.are.equal(2, #job:asset_ids())
  end)

  it("gives job_failed with the job attached", function()
    local job = assert(client.generate:txt2img({ modelId = "m", prompt = "x" },
      { headers = { ["X-Sim-Fault"] = "job_fail" } }))
    local ok, err = job:wait()
    assert.is_nil(ok)
    assert.are.equal("job_failed", err.kind)
    assert.are.equal(job, err.job)
    assert.are.equal("failure", job.status)
  end)

  it("cancels a job: job_canceled", function()
    local job = assert(client.generate:txt2img({ modelId = "m", prompt = "x" },
      { headers = { ["X-Sim-Fault"] = "job_duration=5" } }))
    assert(job:cancel())
    local ok, err = job:wait()
    assert.is_nil(ok)
    assert.are.equal("job_canceled", err.kind)
    assert.are.equal(1, sim:stats().cancels)
  end)

  it("times out, leaving the job running", function()
    local job = assert(client.generate:txt2img({ modelId = "m", prompt = "x" },
      { headers = { ["X-Sim-Fault"] = "job_duration=5" } }))
    local t0 = core.now()
    local ok, err = job:wait { timeout = 0.5 }
    assert.is_nil(ok)
    assert.are.equal("timeout", err.kind)
    assert.is_true(core.now() - t0 < 1.2)
    assert.are.equal(0, sim:stats().cancels)
  end)

  it("times out with cancel_on_timeout: the simulator sees the cancel", function()
    local job = assert(client.generate:txt2img({ modelId = "m", prompt = "x" },
      { headers = { ["X-Sim-Fault"] = "job_duration=5" } }))
    local ok, err = job:wait { timeout = 0.5, cancel_on_timeout = true }
    assert.is_nil(ok)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(1, sim:stats().cancels)
    assert.are.equal(1, sim:count("POST /jobs/{jobId}/action"))
  end)

  it("rebuilds a job from its id to resume waiting", function()
    local id = assert(client.generate:txt2img { modelId = "m", prompt = "x" }).id
    local job = assert(client.jobs:get(id))
    assert.are.equal(id, job.id)
    assert(client.jobs:job(id):wait())
  end)

  it("polls through transient errors", function()
    local job = assert(client.generate:txt2img { modelId = "m", prompt = "x" })
    sim:faults("GET", "/jobs/*", { "status=503", "status=503", "status=503", "reset" })
    assert(job:wait())
    assert.are.equal("success", job.status)
  end)

  it("downloads outputs byte-identical to what the simulator serves", function()
    local job = assert(client.generate:txt2img { modelId = "m", prompt = "bytes", numSamples = 3 })
    assert(job:wait())
    local dir = tmpdir()
    local progress = {}
    local paths = assert(job:download(dir, { on_progress = function(n, path)
      assert.is_true(n >= (progress[path] or 0))
      progress[path] = n
    end }))
    assert.are.equal(3, #paths)
    for i, asset in ipairs(assert(job:assets())) do
      local served = sim_mod.fetch(asset.url)
      assert.are.equal(#served, #read(paths[i]))
      assert.is_true(served == read(paths[i]))
      assert.are.equal(#served, progress[paths[i]])
      assert.matches("/" .. asset.id .. "%.png$", paths[i])
    end
    os.execute("rm -rf " .. dir)
  end)

  it("an interrupted download leaves no file under the final name", function()
    local job = assert(client.generate:txt2img { modelId = "m", prompt = "cut" })
    assert(job:wait())
    local asset = assert(job:assets())[1]
    local dir = tmpdir()
    assert(core.mkdir(dir))
    sim:faults("GET", "/_files/*", { "reset_body", "reset_body", "reset_body" })
    local path = dir .. "/out.png"
    local ok, err = client.assets:download(asset, path)
    assert.is_nil(ok)
    assert.are.equal("connection", err.kind)
    assert.is_nil(io.open(path))
    local p = io.popen("ls -A " .. dir)
    assert.are.equal("", p:read("*a"))
    p:close()
    os.execute("rm -rf " .. dir)
  end)

  it("follows a redirect and never sends Authorization to another host", function()
    local job = assert(client.generate:txt2img { modelId = "m", prompt = "redirect" })
    assert(job:wait())
    local asset = assert(job:assets())[1]
    local dir = tmpdir()
    assert(core.mkdir(dir))
    sim:reset()
    -- the asset url is on the API's own origin, so the first GET carries auth;
    -- the redirect goes to http://localhost:<port>, another host
    local url = asset.url
    local own = sim:client { base_url = url:match("^(https?://[^/]+)") }
    assert(own.assets:download({ url = url, id = asset.id }, dir .. "/a.png",
      { headers = { ["X-Sim-Fault"] = "redirect_other_host" } }))
    local reqs = sim:stats().requests
    assert.are.equal(2, #reqs)
    assert.is_true(reqs[1].auth)
    assert.matches("localhost", reqs[2].host)
    assert.is_false(reqs[2].auth)
    os.execute("rm -rf " .. dir)
  end)
end)

describe("wait_all", function()
  local sim
  setup(function() sim = sim_mod.start { job_duration = 3 } end)
  teardown(function() sim:stop() end)

  it("waits for 200 jobs of 3 s within 3 s + 2 poll intervals, 16 polls at most in flight", function()
    local interval = 2
    local client = sim:client { poll_interval = interval }
    local t0 = core.now()
    local jobs = {}
    local tasks = {}
    for i = 1, 200 do
      tasks[i] = function()
        jobs[i] = assert(client.generate:txt2img { modelId = "m", prompt = "batch " .. i })
      end
    end
    require("scenario.loop").gather(tasks, 16)
    sim:reset()
    local done, errs = client.jobs:wait_all(jobs, { timeout = 60 })
    local wall = core.now() - t0
    assert.are.equal(200, #done)
    assert.are.same({}, errs)
    for _, j in ipairs(done) do assert.are.equal("success", j.status) end
    assert.is_true(wall <= 3 + 2 * interval, "took " .. wall .. " s")
    print(string.format("\n    wait_all: 200 jobs of 3 s in %.2f s of wall time", wall))
    assert.is_true(sim:stats().max_in_flight <= 16, "polls in flight: " .. sim:stats().max_in_flight)
  end)
end)

describe("a 429 while polling", function()
  local sim
  setup(function() sim = sim_mod.start { job_duration = 1.5 } end)
  teardown(function() sim:stop() end)

  it("pushes back every poll of a wait_all, not just the one that got it", function()
    local client = sim:client { poll_interval = 0.1 }
    local jobs = {}
    for i = 1, 5 do jobs[i] = assert(client.generate:txt2img { modelId = "m", prompt = "r" .. i }) end
    sim:reset()
    sim:faults("GET", "/jobs/*", { "status=429,retry_after=1" })
    local done, errs = client.jobs:wait_all(jobs, { timeout = 20 })
    assert.are.equal(5, #done)
    assert.are.same({}, errs)
    local t429, polls = nil, {}
    for _, r in ipairs(sim:stats().requests) do
      if r.route == "GET /jobs/{jobId}" then
        if r.status == 429 then t429 = r.time else polls[#polls + 1] = r.time end
      end
    end
    assert.is_number(t429)
    -- polls already in flight when the 429 came may land just after it;
    -- after that, nobody polls before Retry-After has passed
    local early = 0
    for _, t in ipairs(polls) do
      if t > t429 + 0.05 and t < t429 + 0.9 then early = early + 1 end
    end
    assert.are.equal(0, early)
  end)
end)

describe("scenario.spawn", function()
  local sim
  setup(function() sim = sim_mod.start { job_duration = 0.5 } end)
  teardown(function() sim:stop() end)

  it("waits for a job inside a coroutine while the main code keeps stepping", function()
    local client = sim:client { poll_interval = 0.1 }
    local result
    scenario.spawn(function()
      local job = assert(client.generate:txt2img { modelId = "m", prompt = "bg" })
      result = assert(job:wait())
    end)
    local frames = 0
    while not result do
      scenario.step(0)
      frames = frames + 1
      scenario.sleep(0.001)
    end
    assert.are.equal("success", result.status)
    assert.is_true(frames > 20)
  end)
end)
