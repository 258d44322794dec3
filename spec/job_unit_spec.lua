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
    local loop, core = require "scenario.loop", require "scenario.core"
    local sleep, ends = loop.sleep, {}
    loop.sleep = function(seconds)
      ends[#ends + 1] = core.now() + seconds
      return sleep(seconds)
    end
    local statuses = { "queued", "in-progress", "in-progress", "success" }
    local client = fake_client(function(_, _, _, n)
      return { job = { jobId = "j", status = statuses[n], progress = 0.1 * n } }
    end)
    local ok, err = pcall(function()
      return job_mod.new(client, { jobId = "j", status = "queued" }):wait { poll_interval = 0.03 }
    end)
    loop.sleep = sleep
    assert.is_true(ok, tostring(err))
    assert.are.equal(4, #ends)
    for _, t in ipairs(ends) do
      local tenths = t * 10
      assert.is_true(math.abs(tenths - math.floor(tenths + 0.5)) < 0.01, "a pause ends at " .. t)
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
