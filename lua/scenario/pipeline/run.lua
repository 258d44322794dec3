--- One run of a pipeline (p:run): a Run object holds what the run knows
-- (plan, state, this run's records, outputs, semaphores, tasks), and its
-- methods are the stages of a step: start (given earlier runs), await its
-- inputs, submit (once), wait for the job, download. See scenario.pipeline
-- for the rules (paid calls never sent twice, pricing, the state file).
local compat = require "scenario.compat"
local errors = require "scenario.errors"
local format = require "scenario.format"
local json = require "scenario.json"
local loop = require "scenario.loop"
local resources = require "scenario.resources"
local plan_mod = require "scenario.pipeline.plan"
local state_mod = require "scenario.pipeline.state"

local M = {}

M.DEFAULT_CONCURRENCY = 4

local plan_error = plan_mod.error

local RUN_OPTIONS = {
  concurrency = "number", max_cost = "number", state_file = "string", on_event = "function",
  download = "string", resubmit_unknown = "boolean", timeout = "number",
}

-- Costs come from JSON: 10.0 -> 10
local function number(v)
  v = tonumber(v)
  return v and (compat.tointeger(v) or v)
end

local function check_options(opts)
  local problems = {}
  for k, v in pairs(opts) do
    if not RUN_OPTIONS[k] then
      problems[#problems + 1] = "options." .. tostring(k) .. ": unknown option"
    elseif type(v) ~= RUN_OPTIONS[k] then
      problems[#problems + 1] = "options." .. k .. ": must be a " .. RUN_OPTIONS[k] .. " (got " .. type(v) .. ")"
    end
  end
  local c = opts.concurrency
  if type(c) == "number" and (not compat.is_integer(c) or c < 1) then
    problems[#problems + 1] = "options.concurrency: must be an integer >= 1 (got " .. tostring(c) .. ")"
  end
  local max = opts.max_cost
  if type(max) == "number" and (max ~= max or max < 0) then
    problems[#problems + 1] = "options.max_cost: must be a number >= 0"
  end
  if #problems > 0 then
    return plan_error("pipeline run: " .. table.concat(problems, "; "), problems)
  end
end

--- Whether a failed submission may have been processed by the API: a 5xx or
-- 408, an unreadable 2xx, or a transfer that failed after sending.
function M.ambiguous(err)
  local status = err.status
  if status then return status >= 500 or status == 408 or status < 300 end
  if err.kind == "connection" or err.kind == "timeout" then return not err.retryable end
  return false
end

local function safe_dir_name(name)
  local s = name:gsub("[^%w%-_.]", "_")
  if s:match("^%.*$") then s = "_" .. s end
  return s
end

--- Cancels a suspended task of the loop, with what it waits on.
function M.cancel(co)
  return loop.cancel(co)
end

-- The tasks of a run: coroutines on the loop that can all be stopped.
local function task_set()
  local set = { list = {}, stopped = false }
  function set.spawn(fn)
    if set.stopped then return end
    set.list[#set.list + 1] = loop.spawn(fn)
  end
  -- Stops every task but the running one: each is closed on the loop (its
  -- transfer or timer canceled, its own spawned coroutines too).
  function set.stop()
    set.stopped = true
    local me = loop.current()
    for _, co in ipairs(set.list) do
      if co ~= me and coroutine.status(co) == "suspended" then M.cancel(co) end
    end
  end
  return set
end

local Run = {}
Run.__index = Run
M.Run = Run

--- A run of pipeline p with its plan and the state of earlier runs.
function Run.new(p, opts, plan, state)
  local self = setmetatable({
    pipeline = p, client = p.client, steps = p.steps, opts = opts, plan = plan, state = state,
    state_file = opts.state_file, concurrency = opts.concurrency or M.DEFAULT_CONCURRENCY,
    result = { steps = {}, order = {}, spend = { spent = 0, by_step = {} } },
    records = {},       -- name -> this run's record (result.steps[name])
    outputs = {},       -- name -> asset ids, once known
    ready = {},         -- name -> event set when the step's outcome is known
    to_price = {},      -- the steps still to submit
    leaf = {},          -- name -> true when no step refers to it
  }, Run)
  for _, s in ipairs(p.steps) do self:add_record(s) end
  return self
end

-- The record of step s, from what earlier runs left in the state.
function Run:add_record(s)
  local st = self.state.steps[s.name]
  local rec = { status = "pending", assets = json.array {}, files = json.array {} }
  self.leaf[s.name] = #self.plan.dependents[s.name] == 0
  self.records[s.name] = rec
  self.result.steps[s.name] = rec
  self.ready[s.name] = loop.event()
  if type(st) == "table" then
    rec.cost = number(st.cost)
    rec.job_id = st.job
    if type(st.assets) == "table" then rec.assets = json.array(st.assets) end
    if type(st.files) == "table" then rec.files = json.array(st.files) end
  end
  local prior = type(st) == "table" and st.status
  if not prior or prior == "failed"
      or (prior == "submitting" and not st.job and self.opts.resubmit_unknown) then
    self.to_price[#self.to_price + 1] = s
  end
  if rec.cost then self:spent(s.name, rec.cost) end
end

function Run:spent(name, cost)
  local spend = self.result.spend
  spend.spent = spend.spent + cost
  spend.by_step[name] = cost
end

function Run:emit(ev)
  if self.opts.on_event then self.opts.on_event(ev) end
end

-- Writes the state file (when there is one); a failure is logged and returned.
function Run:save()
  if not self.state_file then return true end
  local ok, err = state_mod.write(self.state_file, self.state)
  if not ok then self.client.log("info", "%s", tostring(err)) end
  return ok, err
end

-- Pricing ------------------------------------------------------------------------

-- The cost of step s by a dry run (references replaced by stand-ins), or nil, err.
function Run:dry_run(s)
  if not s.op.dry_run then
    return nil, errors.new { kind = "budget", message = s.op.id .. " has no dry run" }
  end
  local fields = plan_mod.fields(self.pipeline, s, self.plan.standins)
  local body, err = resources.call(self.client, s.op, fields,
    { dry_run = true, allow_unknown = s.options.allow_unknown })
  if not body then return nil, err end
  local cost = number(body.creativeUnitsCost)
  if not cost then
    return nil, errors.new { kind = "api", message = "the dry run gave no creativeUnitsCost" }
  end
  return cost
end

-- Prices every step still to submit, before any submission; returns an
-- error of kind "budget" when one cannot be priced or the sum is over
-- max_cost, else nil.
function Run:price()
  local tasks, problems, first_err = {}, {}, nil
  for i, s in ipairs(self.to_price) do
    tasks[i] = function() return self:dry_run(s) end
  end
  local priced = loop.gather(tasks, self.concurrency)
  local estimated, by_step = 0, {}
  for _, s in ipairs(self.steps) do
    local cost = self.records[s.name].cost
    if cost then by_step[s.name], estimated = cost, estimated + cost end
  end
  for i, s in ipairs(self.to_price) do
    local cost, err = priced[i][1], priced[i][2]
    if cost then
      by_step[s.name], estimated = cost, estimated + cost
    else
      problems[#problems + 1] = "step " .. s.name .. ": " .. tostring(err and err.message or err)
      first_err = first_err or err
    end
  end
  self.result.spend.estimated = estimated
  self.result.spend.estimate_by_step = by_step
  if #problems > 0 then
    return errors.new { kind = "budget", problems = problems, cause = first_err,
      message = "pipeline: the plan cannot be priced, nothing was submitted: " .. table.concat(problems, "; ") }
  end
  for _, s in ipairs(self.to_price) do
    self:emit { type = "priced", step = s.name, cost = by_step[s.name], estimated = estimated }
  end
  local max_cost = self.opts.max_cost
  if estimated > max_cost then
    return errors.new { kind = "budget", estimated = estimated, max_cost = max_cost,
      by_step = by_step, message = string.format("pipeline: the plan would cost about %s creative "
        .. "units, over max_cost = %s; nothing was submitted", format.number(estimated),
        format.number(max_cost)) }
  end
end

-- Outcomes -----------------------------------------------------------------------

function Run:finish(name, status, err)
  local rec = self.records[name]
  rec.status = status
  rec.error = err
  self.result.order[#self.result.order + 1] = name
  self.ready[name]:set()
end

function Run:fail(name, err, job)
  self.state.steps[name].error = tostring(err)
  self:save()
  self:finish(name, "failed", err)
  self:emit { type = "failed", step = name, job = job, error = err }
end

function Run:download_dir(s)
  if s.options.download then return s.options.download end
  local dir = self.opts.download
  if dir and self.leaf[s.name] then return dir .. "/" .. safe_dir_name(s.name) end
end

-- Downloads the outputs of step s into dir; false when that failed (the
-- step failed then; its job stays in the state, a later run downloads again).
function Run:download(s, job, dir)
  local rec, st = self.records[s.name], self.state.steps[s.name]
  local files, derr = job:download(dir)
  if not files then
    st.error = tostring(derr)
    self:save()
    rec.status, rec.error = "failed", errors.new { kind = derr.kind, status = derr.status,
      message = "step " .. s.name .. ": the job succeeded but the download failed: " .. tostring(derr.message),
      cause = derr, step = s.name }
    self.result.order[#self.result.order + 1] = s.name
    self:emit { type = "failed", step = s.name, job = job, error = rec.error }
    return false
  end
  rec.files = json.array(files)
  st.files = json.array(files)
  st.status = "done"
  self:save()
  self:emit { type = "downloaded", step = s.name, job = job, files = rec.files }
  return true
end

-- The job of step s is known to have succeeded: outputs, then downloads.
function Run:succeeded(s, job)
  local rec, st = self.records[s.name], self.state.steps[s.name]
  local ids = job:asset_ids()
  self.outputs[s.name] = ids
  rec.assets = json.array(ids)
  st.status, st.assets, st.error = "succeeded", json.array(ids), nil
  self:save()
  self:emit { type = "finished", step = s.name, job = job, assets = rec.assets }
  -- dependents may start now: downloads go on beside them
  self.ready[s.name]:set()
  local dir = self:download_dir(s)
  if dir then
    if not self:download(s, job, dir) then return end
  else
    st.status = "done"
    self:save()
  end
  rec.status = "done"
  self.result.order[#self.result.order + 1] = s.name
end

-- Waits for the job of step s (holding a slot, released here).
function Run:wait_job(s, job)
  local ok, err = job:wait { timeout = s.options.timeout or self.opts.timeout or 600,
    poll_gate = self.poll_gate,
    on_progress = function(j)
      self:emit { type = "progress", step = s.name, job = j, status = j.status, progress = j.progress }
    end }
  self.slots.release()
  if not ok then
    if err.kind == "job_failed" or err.kind == "job_canceled" then
      self.state.steps[s.name].status = "failed"  -- a definite failure: a later run submits again
    end                                           -- otherwise the job may still run: re-attach later
    err.step = s.name
    return self:fail(s.name, err, job)
  end
  self.records[s.name].job = job
  return self:succeeded(s, job)
end

-- Submissions -----------------------------------------------------------------------

-- Waits for the steps s refers to; false when one of them failed or was
-- skipped (s is skipped then).
function Run:await_inputs(s)
  for _, d in ipairs(self.plan.deps[s.name]) do
    loop.await(self.ready[d])
    if self.records[d].status ~= "done" and not self.outputs[d] then
      self:finish(s.name, "skipped", errors.new { kind = "pipeline", step = s.name,
        message = "step " .. s.name .. " was skipped: its input " .. d .. " " .. self.records[d].status })
      self:emit { type = "skipped", step = s.name, because = d }
      return false
    end
  end
  return true
end

-- A submission of step s failed with err: left "submitting" when the API may
-- have processed it (a later run does not send it again either), else failed.
function Run:submission_failed(s, err)
  if M.ambiguous(err) then
    return self:fail(s.name, errors.new { kind = err.kind, status = err.status, step = s.name,
      ambiguous = true, cause = err, request_id = err.request_id, operation = err.operation,
      message = "step " .. s.name .. ": the submission may have reached the API and was not"
        .. " sent again (a paid call is never sent twice): " .. tostring(err.message) })
  end
  self.state.steps[s.name].status = "failed"
  err.step = s.name
  return self:fail(s.name, err)
end

-- Runs step s anew: its inputs, its submission (marked "submitting" in the
-- state first), its job.
function Run:submit(s)
  if not self:await_inputs(s) or self.tasks.stopped then return end
  local rec, st = self.records[s.name], self.state.steps[s.name]
  local problems = {}
  local fields = plan_mod.fields(self.pipeline, s, self.outputs, problems)
  if #problems > 0 then
    st.status = "failed"
    return self:fail(s.name, errors.new { kind = "validation", step = s.name, problems = problems,
      message = "step " .. s.name .. ": " .. table.concat(problems, "; ") })
  end
  self.slots.acquire()
  if self.tasks.stopped then return self.slots.release() end
  st.status, st.job, st.error, st.cost = "submitting", nil, nil, nil
  local ok, serr = self:save()
  if not ok and self.state_file then
    self.slots.release()
    return self:fail(s.name, serr)
  end
  local job, err = resources.call(self.client, s.op, fields, { allow_unknown = s.options.allow_unknown })
  if not job then
    self.slots.release()
    return self:submission_failed(s, err)
  end
  rec.job, rec.job_id, rec.cost = job, job.id, number(job.cost)
  st.status, st.job, st.cost = "submitted", job.id, rec.cost
  if rec.cost then self:spent(s.name, rec.cost) end
  self:save()
  self:emit { type = "submitted", step = s.name, job = job, cost = rec.cost }
  return self:wait_job(s, job)
end

-- Earlier runs -----------------------------------------------------------------------

-- Step s was done in an earlier run: true when its files are all there
-- (nothing to do), false when downloads are to be redone.
function Run:resume_done(s)
  local rec = self.records[s.name]
  local missing = false
  for _, f in ipairs(rec.files) do if not state_mod.file_exists(f) then missing = true end end
  if self:download_dir(s) and #rec.files == 0 and #rec.assets > 0 then missing = true end
  self.outputs[s.name] = rec.assets
  if missing then return false end
  rec.status, rec.resumed = "done", true
  self.result.order[#self.result.order + 1] = s.name
  self.ready[s.name]:set()
  return true
end

-- Step s was submitted in an earlier run: its job is waited for again.
function Run:reattach(s)
  local rec, st = self.records[s.name], self.state.steps[s.name]
  rec.resumed = true
  self.slots.acquire()
  if self.tasks.stopped then return self.slots.release() end
  local job = self.client.jobs:job(st.job)
  rec.job, rec.job_id = job, job.id
  self:emit { type = "submitted", step = s.name, job = job, cost = rec.cost, resumed = true }
  return self:wait_job(s, job)
end

-- What step s does, given the state of earlier runs.
function Run:start(s)
  local st, rec = self.state.steps[s.name], self.records[s.name]
  local prior = st.status
  if prior == "done" then
    if self:resume_done(s) then return end
    prior = "succeeded"
  end
  if prior == "succeeded" and st.job then
    -- outputs known, downloads to (re)do
    rec.resumed, rec.job_id = true, st.job
    local job = self.client.jobs:job { jobId = st.job, status = "success",
      metadata = { assetIds = rec.assets } }
    rec.job = job
    return self:succeeded(s, job)
  end
  if (prior == "submitted" or prior == "succeeded") and st.job then return self:reattach(s) end
  if prior == "submitting" and not self.opts.resubmit_unknown then
    return self:fail(s.name, errors.new { kind = "pipeline", step = s.name, ambiguous = true,
      message = "step " .. s.name .. ": an earlier run stopped while submitting it, so the API may"
        .. " have a job for it; it was not sent again (run with resubmit_unknown = true to send it)" })
  end
  return self:submit(s)
end

-- The whole run ----------------------------------------------------------------------

-- Stops the run at once: error e (raised by on_event) is raised again by execute.
function Run:stop_with(e)
  if self.raised then return end
  self.raised = { e }
  self.tasks.stop()
  self.all_done:set()
end

-- The result, with an error of kind "pipeline" when steps failed or were skipped.
function Run:summary()
  local records, failed, skipped = self.records, {}, {}
  for _, s in ipairs(self.steps) do
    local rec = records[s.name]
    if rec.status == "failed" then failed[#failed + 1] = s.name
    elseif rec.status == "skipped" then skipped[#skipped + 1] = s.name end
  end
  if #failed == 0 and #skipped == 0 then return self.result end
  local parts = {}
  for _, n in ipairs(failed) do
    parts[#parts + 1] = n .. " (" .. tostring(records[n].error and records[n].error.message) .. ")"
  end
  local msg = string.format("pipeline: %d of %d step(s) failed%s%s", #failed, #self.steps,
    #parts > 0 and (": " .. table.concat(parts, "; ")) or "",
    #skipped > 0 and ("; skipped: " .. table.concat(skipped, ", ")) or "")
  local errs = {}
  for _, n in ipairs(failed) do errs[n] = records[n].error end
  return self.result, errors.new { kind = "pipeline", message = msg, failed = failed, skipped = skipped,
    errors = errs, result = self.result }
end

-- Runs every step, a task each, and waits for all of them.
function Run:execute()
  self.remaining = #self.steps
  self.all_done = loop.event()
  for _, s in ipairs(self.steps) do
    self.tasks.spawn(function()
      local ok, e = loop.pcall(self.start, self, s)
      if not ok then self:stop_with(e) end
      if not self.ready[s.name]:done() and not self.raised then self.ready[s.name]:set() end
      self.remaining = self.remaining - 1
      if self.remaining == 0 then self.all_done:set() end
    end)
    if self.raised then break end
  end
  loop.await(self.all_done)
  if self.raised then error(self.raised[1], 0) end
  return self:summary()
end

--- Runs pipeline p (p:run): returns result (and an error of kind "pipeline"
-- summing up failed and skipped steps, when there are any), or nil, err when
-- nothing could start (validation, state file, budget). An error raised by
-- on_event stops the run and is raised again here.
function M.run(p, opts)
  opts = opts or {}
  if type(opts) ~= "table" then return nil, plan_error("pipeline run: options must be a table") end
  local oerr = check_options(opts)
  if oerr then return nil, oerr end
  local plan, perr = plan_mod.make(p)
  if not plan then return nil, perr end
  local state = state_mod.new()
  if opts.state_file then
    local serr
    state, serr = state_mod.read(opts.state_file)
    if not state then return nil, serr end
  end
  local cerr = state_mod.check_fingerprints(state, p.steps, plan, opts.state_file)
  if cerr then return nil, cerr end
  local run = Run.new(p, opts, plan, state)
  if opts.max_cost then
    local berr = run:price()
    if berr then return nil, berr end
  end
  state_mod.stamp(state, p.steps, plan)
  if opts.state_file then
    local ok, err = run:save()
    if not ok then return nil, err end
  end
  run.slots = loop.semaphore(run.concurrency)
  run.poll_gate = loop.semaphore(16)
  run.tasks = task_set()
  -- however the run ends (also when the coroutine running it is cancelled),
  -- no task of it is left on the loop
  return loop.with(setmetatable({}, { __close = function() run.tasks.stop() end }), run.execute, run)
end

return M
