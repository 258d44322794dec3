-- A job's timestamps are read as UTC in plain arithmetic (no os.time, which
-- reads local time); the expected values are `date -u -d ... +%s`.
local job = require "scenario.job"
local core = require "scenario.core"

describe("job timestamps", function()
  it("reads ISO 8601 UTC times as seconds since the epoch", function()
    assert.are.equal(0, job.parse_iso("1970-01-01T00:00:00Z"))
    assert.are.equal(951827696.5, job.parse_iso("2000-02-29T12:34:56.5Z"))   -- a leap day
    assert.are.equal(946684799, job.parse_iso("1999-12-31T23:59:59Z"))
    assert.are.equal(1709251200, job.parse_iso("2024-03-01T00:00:00Z"))
    assert.is_true(math.abs(job.parse_iso("2026-11-24T22:08:33.123Z") - 1795558113.123) < 1e-6)
  end)

  it("gives nil for what is not such a time", function()
    assert.is_nil(job.parse_iso(nil))
    assert.is_nil(job.parse_iso("2026-11-24 22:08:33"))
    assert.is_nil(job.parse_iso("2026-11-24T22:08:33+01:00"))
  end)

  it("estimates the time left from the progress and the creation time", function()
    local created = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(core.time()) - 30)
    local j = job.new({}, { jobId = "job_x", status = "in-progress", progress = 0.75, createdAt = created })
    local eta = j:eta()
    -- 30 s (and up to 1 s more) for 75%: about 10 s left
    assert.is_true(eta >= 10 and eta <= 10.5, "eta " .. tostring(eta))
    j.progress = 0.01
    assert.is_nil(j:eta())                -- too early to tell
    -- a record with another creation time: the ETA follows it
    j:_update { jobId = "job_x", status = "in-progress", progress = 0.75,
      createdAt = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(core.time()) - 60) }
    eta = j:eta()
    assert.is_true(eta >= 20 and eta <= 20.5, "eta " .. tostring(eta))
    j:_update { jobId = "job_x", status = "in-progress", progress = 0.75, createdAt = "not a time" }
    assert.is_nil(j:eta())
    -- not a string at all (the decoder takes NaN): no time, no error
    j:_update(require("scenario.json").decode(
      '{"jobId":"job_x","status":"in-progress","progress":0.5,"createdAt":NaN}'))
    assert.is_nil(j:eta())
  end)
end)
