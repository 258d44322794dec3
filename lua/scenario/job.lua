--- Jobs: what a generation returns. A Job knows its id, status and progress,
-- refreshes itself, waits (polling on the loop's timers, yielding inside
-- scenario.spawn), cancels, and fetches or downloads its output assets.
local compat = require "scenario.compat"
local core = require "scenario.core"
local loop = require "scenario.loop"
local errors = require "scenario.errors"
local download = require "scenario.download"
local track = require "scenario.track"
local check = require "scenario.check"
local util = require "scenario.util"

local M = {}

local Job = {}
Job.__index = Job
M.Job = Job

-- Terminal statuses, with the older spellings some endpoints still use.
M.TERMINAL = { success = "success", succeeded = "success", failure = "failure",
  failed = "failure", canceled = "canceled", cancelled = "canceled" }
M.RUNNING = { pending = true, queued = true, ["warming-up"] = true,
  ["in-progress"] = true, finalizing = true }

local MAX_POLL_INTERVAL = 10
local MIN_POLL_PAUSE = 0.2
local POLL_GRID = 0.1

-- The types of the options of job:wait (client.jobs:wait_all adds concurrency),
-- job:refresh and job:download (the options of download.assets and download.url).
M.WAIT_OPTIONS = check.closed { timeout = "seconds?", on_progress = "function?",
  cancel_on_timeout = "boolean?", poll_interval = "seconds?", poll_gate = "table?" }
local REFRESH_OPTIONS = check.closed { timeout = "seconds?", max_retries = "number?" }
local DOWNLOAD_OPTIONS = check.closed { concurrency = "count?", on_progress = "function?",
  timeout = "seconds?", headers = "table?" }

-- nil when self is a Job, else the error of job:<name> called with '.'
local function not_job(self, name)
  return check.self("job:" .. name, self, Job)
end

-- Days from 1970-01-01 to a date of the proleptic Gregorian calendar
-- (H. Hinnant's days_from_civil), in plain arithmetic: os.time reads local
-- time, and glibc's mktime stats /etc/localtime on every call (twice per
-- poll of every job, when it was used here).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

-- "2026-11-24T22:08:33.123Z" -> seconds since the epoch, or nil
local function parse_iso(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, frac = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)Z$")
  if not y then return nil end
  return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) + (tonumber("0" .. frac) or 0)
end
M.parse_iso = parse_iso

-- A job's createdAt, parsed once: every poll asks for the ETA of its job
-- again. The texts of the last 256 jobs are kept.
local created_memo, created_count = {}, 0
local function created_at(text)
  local t = created_memo[text]
  if t == nil and type(text) == "string" then
    t = parse_iso(text) or false
    if created_count >= 256 then created_memo, created_count = {}, 0 end
    created_memo[text], created_count = t, created_count + 1
  end
  return t or nil
end

--- Seconds until the job should end, from its progress so far, or nil.
-- The API reports progress in [0, 1]; a job at 60% after 3 s has about 2 s left.
function Job:eta()
  local aerr = not_job(self, "eta")
  if aerr then return nil, aerr end
  local p, created = self.progress, created_at(self.record and self.record.createdAt)
  if not created or p <= 0.05 or p >= 1 then return nil end
  local elapsed = core.time() - created
  if elapsed <= 0 then return nil end
  return elapsed * (1 - p) / p
end

-- What a job record says of its id, status, progress and type; the values
-- it leaves out stay the job's own (prev_*): the one mapping of a record to
-- a Job, for M.new and Job:_update.
local function record_fields(record, prev_id, prev_status, prev_progress, prev_type)
  return record.jobId or record.id or prev_id, record.status or prev_status or "pending",
    tonumber(record.progress) or prev_progress or 0, record.jobType or prev_type
end

--- Builds a Job from a job record (the API's `job` object) or an id.
function M.new(client, record)
  if type(record) == "string" then record = { jobId = record } end
  -- the fields made at once: one allocation of the table
  local id, status, progress, kind = record_fields(record)
  local self = setmetatable({ client = client, record = record, id = id, status = status,
    progress = progress, type = kind }, Job)
  -- reported while it runs (one that has already ended would be forgotten at once)
  if not M.TERMINAL[status] then track.job_created(self) end
  return self
end

function Job:_update(record)
  self.record = record
  self.id, self.status, self.progress, self.type =
    record_fields(record, self.id, self.status, self.progress, self.type)
  if M.TERMINAL[self.status] then track.job_ended(self) end
  return self
end

function Job:__tostring()
  return string.format("scenario.Job %s (%s, %d%%)", tostring(self.id), self.status,
    math.floor(self.progress * 100 + 0.5))
end

--- The job's terminal state: "success", "failure", "canceled" or nil.
function Job:outcome()
  local aerr = not_job(self, "outcome")
  if aerr then return nil, aerr end
  return M.TERMINAL[self.status]
end

-- job:refresh with checked options: the poll of job:wait. A scenario
-- client sends it without the argument checks of client:request
-- (client:_send); any other object given as the job's client, through its
-- request method.
local function refresh(self, opts)
  local client, path = self.client, "/jobs/" .. util.urlencode(self.id)
  local ropts = { operation = "GetJobId", timeout = opts and opts.timeout,
    max_retries = opts and opts.max_retries }
  local body, err
  if client._send then
    body, err = client:_send("GET", path, ropts)
  else
    body, err = client:request("GET", path, ropts)
  end
  if not body then return nil, err end
  return self:_update(body.job or body)
end

--- Fetches the job again. Returns the job or nil, err.
function Job:refresh(opts)
  local aerr = not_job(self, "refresh") or check.args("job:refresh", "options", opts, REFRESH_OPTIONS)
  if aerr then return nil, aerr end
  return refresh(self, opts)
end

--- Asks the API to cancel the job. Returns the job or nil, err.
function Job:cancel()
  local aerr = not_job(self, "cancel")
  if aerr then return nil, aerr end
  local body, err = self.client:request("POST", "/jobs/" .. util.urlencode(self.id) .. "/action",
    { body = { action = "cancel" }, operation = "PostJobActionByJobId", unsafe = false })
  if not body then return nil, err end
  -- the approval answers { job = {...} }, which the resource method gives as the job
  local record = type(body.job) == "table" and body.job or body
  if record.jobId then self:_update(record) end
  return self
end

function Job:asset_ids()
  local meta = self.record and self.record.metadata
  local ids = {}
  if type(meta) == "table" and type(meta.assetIds) == "table" then
    for _, id in ipairs(meta.assetIds) do ids[#ids + 1] = id end
  end
  return ids
end

--- The nodes of a workflow run, from metadata.flow: a list of
-- { id, type, status, assets = { { assetId, url }, ... }, jobId } (empty
-- for other jobs).
function Job:nodes()
  local aerr = not_job(self, "nodes")
  if aerr then return nil, aerr end
  local meta = self.record and self.record.metadata
  local out = {}
  if type(meta) ~= "table" or type(meta.flow) ~= "table" then return out end
  for _, n in ipairs(meta.flow) do
    if type(n) == "table" then
      out[#out + 1] = { id = n.id, type = n.type, status = n.status, jobId = n.jobId,
        assets = type(n.assets) == "table" and n.assets or {} }
    end
  end
  return out
end

-- "id=status,..." of a workflow run's nodes: a change is progress too
local function node_statuses(self)
  local meta = self.record and self.record.metadata
  if type(meta) ~= "table" or type(meta.flow) ~= "table" then return "" end
  local parts = {}
  for _, n in ipairs(meta.flow) do
    if type(n) == "table" then parts[#parts + 1] = tostring(n.id) .. "=" .. tostring(n.status) end
  end
  return table.concat(parts, ",")
end

--- Releases the user-approval node `node_id` of this workflow run
-- (PUT /workflows/{id}/user-approval). Returns the job or nil, err.
function Job:approve(node_id, opts)
  local aerr = not_job(self, "approve") or check.args("job:approve", "node_id", node_id, "id",
    "options", opts, "table?")
  if aerr then return nil, aerr end
  local meta = type(self.record) == "table" and self.record.metadata
  meta = type(meta) == "table" and meta or {}
  local wid = self.workflow_id or meta.workflowId
  if type(wid) ~= "string" then
    return nil, errors.new { kind = "validation", operation = "PutWorkflowUserApprovalByWorkflowId",
      message = "job " .. tostring(self.id) .. " is not a workflow run (no metadata.workflowId)" }
  end
  local body, err = self.client.workflows:approve(wid,
    { workflowJobId = meta.workflowJobId or self.id, nodeId = node_id }, opts)
  if not body then return nil, err end
  -- the approval answers { job = {...} }, which the resource method gives as the job
  local record = type(body.job) == "table" and body.job or body
  if record.jobId then self:_update(record) end
  return self
end

local function job_error(self)
  local outcome = self:outcome()
  local reason = self.record and (self.record.error or self.record.errorMessage
    or (type(self.record.metadata) == "table" and self.record.metadata.error))
  if type(reason) == "table" then reason = reason.message or reason.code end
  return errors.new {
    kind = outcome == "failure" and "job_failed" or "job_canceled",
    message = string.format("job %s %s%s", self.id,
      outcome == "failure" and "failed" or "was canceled",
      reason and (": " .. tostring(reason)) or ""),
    job = self, retryable = false,
  }
end

-- errors worth polling through: the job is still running somewhere
local TRANSIENT = { server = true, connection = true, timeout = true, rate_limit = true }

-- Sleeps `pause`, then on as long as the gate is held: a 429 that a poll
-- sharing the gate got while this one slept holds it back too. Each pause
-- ends on a tenth of a second of the loop's clock (a poll comes at most
-- 0.1 s later), so that the waits of many jobs that end together wake the
-- loop once instead of one by one (B2: a third fewer steps); never past
-- the deadline.
local function pause_until_held(pause, gate, deadline)
  local now = core.now
  repeat
    if gate and gate.hold_until then pause = math.max(pause, gate.hold_until - now()) end
    local t = now()
    pause = math.min(math.ceil((t + pause) / POLL_GRID) * POLL_GRID - t, deadline - t)
    if pause > 0 then loop.sleep(pause) end
    pause = 0
  until not (gate and gate.hold_until and gate.hold_until > now() and now() < deadline)
end

--- Waits for the job to end. opts: timeout (s, default 600), on_progress
-- (fn(job) on every change of status or progress, or of the status of a
-- node of a workflow run), cancel_on_timeout,
-- poll_interval, poll_gate (a loop.semaphore shared by many waits).
-- Returns the job, or nil, err (job_failed, job_canceled,
-- timeout, or the error that stopped polling). An error raised by
-- on_progress comes out of this call unchanged; it runs between polls, so
-- no request is in flight then.
function Job:wait(opts)
  local aerr = not_job(self, "wait") or check.args("job:wait", "options", opts, M.WAIT_OPTIONS)
  if aerr then return nil, aerr end
  return M._wait(self, opts or {})
end

--- job:wait with its options checked already (client.jobs:wait_all checks
-- them once for all its jobs). Internal, as every name starting with "_".
function M._wait(self, opts)
  local client = self.client
  local timeout = opts.timeout or 600
  local now = core.now
  local deadline = now() + timeout
  local interval = opts.poll_interval or client.poll_interval
  local last_status, last_progress, last_nodes
  local gate = opts.poll_gate
  local warned_unknown = false
  while true do
    local nodes = node_statuses(self)
    if self.status ~= last_status or self.progress ~= last_progress or nodes ~= last_nodes then
      last_status, last_progress, last_nodes = self.status, self.progress, nodes
      if opts.on_progress then opts.on_progress(self) end
    end
    local outcome = self:outcome()
    if outcome == "success" then return self end
    if outcome then return nil, job_error(self) end
    if not M.RUNNING[self.status] and not warned_unknown then
      warned_unknown = true
      client.log("info", "job %s has an unknown status %q; still polling", self.id, self.status)
    end
    local left = deadline - now()
    if left <= 0 then
      if opts.cancel_on_timeout then self:cancel() end
      return nil, errors.new { kind = "timeout", job = self, retryable = true,
        message = string.format("job %s still %s after %gs", self.id, self.status, timeout) }
    end
    -- the next poll comes after the poll interval, or just after the job
    -- should end if its progress says that is sooner
    local pause = interval * (0.9 + 0.2 * math.random())
    local eta = self:eta()
    if eta then pause = math.min(pause, math.max(eta * 1.05 + 0.05, MIN_POLL_PAUSE)) end
    pause_until_held(pause, gate, deadline)
    interval = math.min(interval * 1.5, MAX_POLL_INTERVAL)
    -- no retries inside a poll: the loop polls again anyway, and a 429 must
    -- reach it at once to hold back every poll sharing the gate
    local poll = { timeout = math.max(1, math.min(client.timeout, deadline - now())),
      max_retries = 0 }
    local ok, err
    if gate then
      -- the gate's permit goes back however the poll ends (also when a
      -- gather cancels this wait because another task raised)
      ok, err = loop.with(gate.acquire(), refresh, self, poll)
    else
      ok, err = refresh(self, poll)
    end
    if not ok then
      if not TRANSIENT[err.kind] then return nil, err end
      if err.kind == "rate_limit" then
        -- a 429 pushes back every poll that shares this job's gate
        local ra = tonumber(err.retry_after)
        interval = math.min(math.max(interval * 2, ra or 0), 60)
        if gate then gate.hold_until = math.max(gate.hold_until or 0, now() + interval) end
      end
      client.log("debug", "job %s: poll failed (%s), polling on", self.id, err.kind)
    end
  end
end

--- The output assets (asset records), fetched in batches of 100.
function Job:assets()
  local aerr = not_job(self, "assets")
  if aerr then return nil, aerr end
  local ids = self:asset_ids()
  local out = {}
  for i = 1, #ids, 100 do
    local batch = compat.slice(ids, i, math.min(i + 99, #ids))
    local body, err = self.client:request("POST", "/assets/get-bulk",
      { body = { assetIds = batch }, operation = "PostAssetGetBulk", unsafe = false })
    if not body then return nil, err end
    for _, a in ipairs(body.assets or {}) do out[#out + 1] = a end
  end
  return out
end

--- Downloads every output asset into dir; returns the list of paths written.
function Job:download(dir, opts)
  local aerr = not_job(self, "download") or check.args("job:download", "dir", dir, "id",
    "options", opts, DOWNLOAD_OPTIONS)
  if aerr then return nil, aerr end
  local assets, err = self:assets()
  if not assets then return nil, err end
  return download.assets(self.client, assets, dir, opts)
end

return M
