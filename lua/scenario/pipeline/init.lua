--- Pipelines: client-side DAGs of jobs, run on the one loop.
--
--   local pipeline = require "scenario.pipeline"
--   local p = pipeline.new(client)
--   local hero = p:step("hero", "generate.txt2img", { modelId = m, prompt = "...", numSamples = 2 })
--   p:step("hero-nobg", "generate.remove_background", { image = hero:asset(1) }, { download = "out" })
--   local result, err = p:run { concurrency = 4, max_cost = 500, state_file = "batch.state.json" }
--
-- A step is one paid job: an operation ("resource.method" or an operationId)
-- and its fields, which may hold references to other steps' outputs
-- (`step:asset(i)`, `step:assets()`, `group:assets()`, `p:asset(name, i)`).
-- References give the dependencies: a step starts once every step it refers
-- to succeeded, and is skipped when one of them failed or was skipped.
--
-- Paid calls are never sent twice. A submission is one resource call (the C
-- core retries an unsafe POST only on 429 or when nothing was sent); when it
-- fails in a way that leaves open whether the API processed it (5xx, a reset
-- after sending, an unreadable 2xx), the pipeline does not send it again and
-- says so in the step's error. With a state file, a "submitting" mark is
-- written before each submission and the job id right after, so that a later
-- run re-attaches to the job instead of paying for it again.
--
-- Pricing (max_cost): every step still to submit is priced with a dry run
-- before anything is submitted. References to outputs not known yet are
-- replaced by stand-in asset ids ("asset_standin_<n>"; as many for
-- `assets()` as the referenced step's numSamples/numOutputs, else one), so a
-- price that depends on the referenced asset itself is an estimate. A step
-- whose operation has no dry run cannot be priced, which refuses the run.
--
-- The state file (JSON, rewritten whole through a synced temporary file and a
-- rename) holds per step: fingerprint (operation + fields, references by
-- name), status, job, cost, assets, files, error. Statuses: "submitting"
-- (mark written before the POST), "submitted" (job id known), "succeeded"
-- (outputs known, downloads pending), "done", "failed" (a definite failure:
-- the job failed or the API refused the submission; a later run submits it
-- again). On a later run: done steps are skipped (files missing are
-- downloaded again), submitted ones re-attached by job id, "submitting"
-- without a job id fails unless resubmit_unknown = true, and a step whose
-- fingerprint changed refuses the run.
--
-- Events (on_event(ev), ev.step names the step): priced {cost, estimated},
-- submitted {job, cost, resumed}, progress {job, status, progress},
-- finished {job, assets}, failed {error, job}, skipped {because},
-- downloaded {job, files}. An error raised by on_event stops the run at once
-- (no new submission; every poll, pause and download of the run cancelled;
-- the state file left as it was, resumable) and is re-raised from p:run.
-- The code is in three rooms besides this one: pipeline/plan.lua
-- (references, validation, the dependency graph, fingerprints),
-- pipeline/state.lua (the state file) and pipeline/run.lua (a Run object:
-- one p:run).
local operations = require "scenario.operations"
local plan = require "scenario.pipeline.plan"
local run = require "scenario.pipeline.run"
local state = require "scenario.pipeline.state"
local check = require "scenario.check"

local M = {}

M.STATE_VERSION = state.VERSION
M.DEFAULT_CONCURRENCY = run.DEFAULT_CONCURRENCY

local Pipeline = {}
Pipeline.__index = Pipeline
M.Pipeline = Pipeline

local Step, Group = plan.Step, plan.Group
M.Step = Step
M.Group = Group

-- step.asset(1) for step:asset(1) would index a number inside plan.lua (or
-- make a reference to nothing): the reference makers of steps and groups
-- check their self first and raise, as the rest of the builder does.
check.guard_methods(Step, "step", { "asset", "assets" })
check.guard_methods(Group, "group", { "asset", "assets" })

-- Operations that answer a job other than generate.*.
local JOB_OPERATIONS = { PutWorkflowRunByWorkflowId = true }

local STEP_OPTIONS = { download = "string", timeout = "number", allow_unknown = "boolean" }

local plan_error = plan.error

-- A misuse of the builder is a programming error: raised, like scenario.new's.
local function raise(message)
  error(plan_error(message), 3)
end

-- "generate.txt2img" -> op, "PostTxt2imgInferences" -> op
local by_method = {}
for id, op in pairs(operations) do
  by_method[op.resource .. "." .. op.method_name] = id
end

local function find_operation(name)
  if type(name) ~= "string" then return nil end
  return operations[name] or operations[by_method[name] or ""]
end

--- A pipeline for a client. Steps are added with p:step and p:each.
function M.new(client)
  if type(client) ~= "table" or not client.request then
    error(plan_error("scenario.pipeline.new: a client is required"), 2)
  end
  return setmetatable({ client = client, steps = {}, by_name = {} }, Pipeline)
end

function Pipeline:__tostring()
  return string.format("scenario.Pipeline (%d steps)", #self.steps)
end

-- Raises unless opts (of step name) are known step options of the right types.
local function check_step_options(name, opts)
  if type(opts) ~= "table" then raise("pipeline step " .. name .. ": options must be a table") end
  for k, v in pairs(opts) do
    if not STEP_OPTIONS[k] then raise("pipeline step " .. name .. ": unknown option " .. tostring(k)) end
    if type(v) ~= STEP_OPTIONS[k] then
      raise("pipeline step " .. name .. ": option " .. k .. " must be a " .. STEP_OPTIONS[k])
    end
  end
end

--- Adds a step: name (unique), operation ("resource.method" or an
-- operationId of a job operation), fields (path parameters by name;
-- references allowed at any depth), options { download = dir, timeout = s }.
-- Raises on a bad name, a duplicate, an unknown or non-job operation.
function Pipeline:step(name, operation, fields, opts)
  check.raise(check.self("p:step", self, Pipeline))
  if type(name) ~= "string" or name == "" then
    raise("pipeline step: the name must be a non-empty string (got " .. type(name) .. ")")
  end
  if self.by_name[name] then raise("pipeline step " .. name .. ": duplicate step name") end
  local op = find_operation(operation)
  if not op then
    raise("pipeline step " .. name .. ": unknown operation " .. tostring(operation))
  end
  if op.resource ~= "generate" and not JOB_OPERATIONS[op.id] then
    raise("pipeline step " .. name .. ": operation " .. op.id .. " (" .. op.resource .. "."
      .. op.method_name .. ") does not start a job")
  end
  if fields ~= nil and type(fields) ~= "table" then
    raise("pipeline step " .. name .. ": fields must be a table (got " .. type(fields) .. ")")
  end
  opts = opts or {}
  check_step_options(name, opts)
  local s = setmetatable({ name = name, op = op, fields = fields or {}, options = opts,
    pipeline = self }, Step)
  self.steps[#self.steps + 1] = s
  self.by_name[name] = s
  return s
end

--- Fans out: calls fn(item, i) for every item of list and returns the list of
-- what fn returned, a Group (group:assets() refers to every output asset of
-- every step in it, in order; group:asset(i) to the i-th of them).
function Pipeline:each(list, fn)
  check.raise(check.self("p:each", self, Pipeline))
  if type(list) ~= "table" then raise("pipeline each: list must be a table") end
  if type(fn) ~= "function" then raise("pipeline each: fn must be a function") end
  local g = setmetatable({}, Group)
  for i, item in ipairs(list) do g[i] = fn(item, i) end
  return g
end

--- References by step name (the step may be declared later). Steps and
-- groups make theirs (step:asset(i), step:assets(), group:...): plan.lua.
function Pipeline:asset(name, i)
  check.raise(check.self("p:asset", self, Pipeline) or check.args("p:asset", "name", name, "id"))
  return plan.new_ref(name, i or 1, self)
end
function Pipeline:assets(name)
  check.raise(check.self("p:assets", self, Pipeline) or check.args("p:assets", "name", name, "id"))
  return plan.new_ref(name, nil, self)
end

--- Runs the pipeline; see the README and pipeline/run.lua. Returns result
-- (and an error of kind "pipeline" summing up failed and skipped steps, when
-- there are any), or nil, err when nothing could start (validation, state
-- file, budget). An error raised by on_event stops the run and is re-raised
-- here.
function Pipeline:run(opts)
  local err = check.self("p:run", self, Pipeline)
  if err then return nil, err end
  return run.run(self, opts)
end

-- Internals, for tests and tools.
M._value = plan.value
M._ambiguous = run.ambiguous
M._cancel = run.cancel

return M
