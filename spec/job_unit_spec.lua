-- Job logic against a scripted client (no network): unknown statuses,
-- get-bulk batching, and safe file names for downloads.
local job_mod = require "scenario.job"
local download = require "scenario.download"
local errors = require "scenario.errors"

local function fake_client(answers)
  local c = { poll_interval = 0.01, timeout = 5, requests = {}, lines = {} }
  c.log = function(level, fmt, ...)
    c.lines[#c.lines + 1] = level .. " " .. (select("#", ...) > 0 and fmt:format(...) or fmt)
  end
  function c.request(_, method, path, opts)
    c.requests[#c.requests + 1] = { method = method, path = path, opts = opts }
    return answers(method, path, opts, #c.requests)
  end
  return c
end

describe("Job", function()
  it("keeps polling through an unknown status, logging it once", function()
    local statuses = { "pending", "mystery-state", "mystery-state", "mystery-state", "success" }
    local client = fake_client(function(_, _, _, n)
      return { job = { jobId = "j1", status = statuses[math.min(n, #statuses)], progress = 0 } }
    end)
    local job = job_mod.new(client, { jobId = "j1", status = "queued" })
    assert(job:wait { timeout = 5, poll_interval = 0.01 })
    assert.are.equal("success", job.status)
    local unknown = 0
    for _, l in ipairs(client.lines) do
      if l:find("unknown status", 1, true) then unknown = unknown + 1 end
    end
    assert.are.equal(1, unknown)
  end)

  it("treats succeeded and failed as terminal", function()
    for status, kind in pairs { succeeded = true, failed = "job_failed", cancelled = "job_canceled" } do
      local client = fake_client(function() return { job = { jobId = "j", status = status } } end)
      local job = job_mod.new(client, { jobId = "j", status = status })
      local ok, err = job:wait { timeout = 1 }
      if kind == true then
        assert.are.equal(job, ok)
      else
        assert.is_nil(ok)
        assert.are.equal(kind, err.kind)
        assert.is_true(errors.is(err))
      end
      assert.are.equal(0, #client.requests)
    end
  end)

  it("ends every pause between polls on a tenth of a second of the loop's clock", function()
    -- a clock of the spec's own, moved only by the pauses: no real time passes
    local loop, core = require "scenario.loop", require "scenario.core"
    local sleep, real_now, clock, ends = loop.sleep, core.now, 1000.037, {}
    core.now = function() return clock end
    loop.sleep = function(seconds)
      assert(seconds > 0, "a pause of " .. seconds)
      clock = clock + seconds
      ends[#ends + 1] = clock
    end
    local statuses = { "queued", "in-progress", "in-progress", "success" }
    local client = fake_client(function(_, _, _, n)
      clock = clock + 0.013                        -- each answer takes a while
      return { job = { jobId = "j", status = statuses[n], progress = 0.1 * n } }
    end)
    local ok, err = pcall(function()
      return job_mod.new(client, { jobId = "j", status = "queued" }):wait { poll_interval = 0.03 }
    end)
    core.now, loop.sleep = real_now, sleep
    assert.is_true(ok, tostring(err))
    assert.are.equal(4, #ends)
    for _, t in ipairs(ends) do
      local tenths = t * 10
      assert.is_true(math.abs(tenths - math.floor(tenths + 0.5)) < 1e-6, "a pause ends at " .. t)
    end
  end)

  it("never asks for a negative pause, whatever the clock says", function()
    -- 0.9000000000000001 is one ulp over 0.9, where ceil(t / 0.1) * 0.1 < t
    local loop, core = require "scenario.loop", require "scenario.core"
    local sleep, real_now, asked = loop.sleep, core.now, {}
    core.now = function() return 0.9000000000000001 end
    loop.sleep = function(seconds) asked[#asked + 1] = seconds end
    local statuses = { "in-progress", "success" }
    local client = fake_client(function(_, _, _, n)
      return { job = { jobId = "j", status = statuses[n] } }
    end)
    local ok, err = pcall(function()
      return job_mod.new(client, { jobId = "j", status = "queued" }):wait { poll_interval = 0, timeout = 5 }
    end)
    core.now, loop.sleep = real_now, sleep
    assert.is_true(ok, tostring(err))
    assert.are.equal(2, #client.requests)
    for _, s in ipairs(asked) do assert.is_true(s > 0, ("a pause of %.17g s"):format(s)) end
  end)

  it("holds back a poll that was already sleeping when another poll of its gate got a 429", function()
    local loop, core = require "scenario.loop", require "scenario.core"
    local times, limited = {}, false
    local client = fake_client(function(_, path)
      times[#times + 1] = { path = path, t = core.now() }
      if not limited then                          -- the first poll, of either job
        limited = true
        return nil, errors.new { kind = "rate_limit", status = 429, retry_after = "1",
          message = "slow down" }
      end
      return { job = { jobId = path:match("[^/]+$"), status = "success" } }
    end)
    local gate = loop.semaphore(16)
    local a = job_mod.new(client, { jobId = "a", status = "queued" })
    local b = job_mod.new(client, { jobId = "b", status = "queued" })
    -- both sleep until the same tenth of a second: the first to poll gets
    -- the 429 while the other is still asleep
    local results = loop.gather({
      function() return a:wait { poll_gate = gate, poll_interval = 0.05, timeout = 5 } end,
      function() return b:wait { poll_gate = gate, poll_interval = 0.05, timeout = 5 } end,
    }, 2)
    assert.are.equal(a, results[1][1])
    assert.are.equal(b, results[2][1])
    local t429 = times[1].t
    for i = 2, #times do
      assert.is_true(times[i].t >= t429 + 0.9,
        ("%s was polled %.3f s after the 429"):format(times[i].path, times[i].t - t429))
    end
  end)

  it("stops polling on an error that will not pass (not_found)", function()
    local client = fake_client(function()
      return nil, errors.new { kind = "not_found", status = 404, message = "no such job" }
    end)
    local job = job_mod.new(client, "gone")
    local ok, err = job:wait { timeout = 2, poll_interval = 0.01 }
    assert.is_nil(ok)
    assert.are.equal("not_found", err.kind)
    assert.are.equal(1, #client.requests)
  end)

  it("fetches output assets with get-bulk in batches of 100", function()
    local ids = {}
    for i = 1, 250 do ids[i] = "asset_" .. i end
    local client = fake_client(function(_, _, opts)
      local out = {}
      for _, id in ipairs(opts.body.assetIds) do out[#out + 1] = { id = id } end
      return { assets = out }
    end)
    local job = job_mod.new(client, { jobId = "j", status = "success", metadata = { assetIds = ids } })
    local assets = assert(job:assets())
    assert.are.equal(250, #assets)
    assert.are.equal(3, #client.requests)
    assert.are.equal(100, #client.requests[1].opts.body.assetIds)
    assert.are.equal(50, #client.requests[3].opts.body.assetIds)
    assert.are.equal("/assets/get-bulk", client.requests[1].path)
    assert.are.equal("asset_250", assets[250].id)
  end)
end)

describe("download file names", function()
  it("come from the asset id and MIME type, never a path a server could choose", function()
    assert.are.equal("asset_1.png", download.file_name { id = "asset_1", mimeType = "image/png" })
    assert.are.equal("asset_2.jpg", download.file_name { id = "asset_2", mimeType = "image/jpeg; q=1" })
    assert.are.equal("___etc_passwd.bin", download.file_name { id = "../etc/passwd" })
    assert.are.equal("_abs.bin", download.file_name { id = "/abs" })
    assert.are.equal("a_b_c.bin", download.file_name { id = "a\0b\nc", mimeType = "x/unknown" })
    assert.are.equal("asset.bin", download.file_name { id = ".." })
    assert.are.equal("asset.bin", download.file_name {})
    for _, bad in ipairs { "../../x", "..", "/", "\0", "a/../../b" } do
      local name = download.file_name { id = bad, mimeType = "image/png" }
      assert.is_nil(name:find("/", 1, true))
      assert.is_nil(name:find("..", 1, true))
    end
  end)
end)
