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
local compat = require "scenario.compat"
local core = require "scenario.core"
local loop = require "scenario.loop"
local errors = require "scenario.errors"
local json = require "scenario.json"
local operations = require "scenario.operations"
local resources = require "scenario.resources"
local validate = require "scenario.validate"

local M = {}

M.STATE_VERSION = 1
M.DEFAULT_CONCURRENCY = 4

local Pipeline = {}
Pipeline.__index = Pipeline
M.Pipeline = Pipeline

local Step = { __name = "scenario.pipeline.Step" }
Step.__index = Step
M.Step = Step

local Group = { __name = "scenario.pipeline.Group" }
Group.__index = Group
M.Group = Group

local Ref = { __name = "scenario.pipeline.Ref" }
Ref.__index = Ref

-- Operations that answer a job other than generate.*.
local JOB_OPERATIONS = { PutWorkflowRunByWorkflowId = true }

local STEP_OPTIONS = { download = "string", timeout = "number" }
local RUN_OPTIONS = {
  concurrency = "number", max_cost = "number", state_file = "string", on_event = "function",
  download = "string", resubmit_unknown = "boolean", timeout = "number",
}

-- Costs come from JSON: 10.0 -> 10
local function number(v)
  v = tonumber(v)
  return v and (compat.tointeger(v) or v)
end

local function plan_error(message, problems)
  return errors.new { kind = "validation", message = message, problems = problems }
end

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

--- Adds a step: name (unique), operation ("resource.method" or an
-- operationId of a job operation), fields (path parameters by name;
-- references allowed at any depth), options { download = dir, timeout = s }.
-- Raises on a bad name, a duplicate, an unknown or non-job operation.
function Pipeline:step(name, operation, fields, opts)
  if type(name) ~= "string" or name == "" then
    raise("pipeline step: the name must be a non-empty string (got " .. type(name) .. ")")
  end
  if self.by_name[name] then raise("pipeline step " .. name .. ": duplicate step name") end
  local op = find_operation(operation)
  if not op then
    raise("pipeline step " .. name .. ": unknown operation " .. tostring(operation))
  end
  if op.resource ~= "generate" and not JOB_OPERATIONS[op.id] then
    raise("pipeline step " .. name .. ": " .. op.id .. " (" .. op.resource .. "." .. op.method_name
      .. ") does not start a job")
  end
  if fields ~= nil and type(fields) ~= "table" then
    raise("pipeline step " .. name .. ": fields must be a table (got " .. type(fields) .. ")")
  end
  opts = opts or {}
  if type(opts) ~= "table" then raise("pipeline step " .. name .. ": options must be a table") end
  for k, v in pairs(opts) do
    if not STEP_OPTIONS[k] then raise("pipeline step " .. name .. ": unknown option " .. tostring(k)) end
    if type(v) ~= STEP_OPTIONS[k] then
      raise("pipeline step " .. name .. ": option " .. k .. " must be a " .. STEP_OPTIONS[k])
    end
  end
  local s = setmetatable({ name = name, op = op, fields = fields or {}, options = opts,
    pipeline = self }, Step)
  self.steps[#self.steps + 1] = s
  self.by_name[name] = s
  return s
end

--- Fans out: calls fn(item, i) for every item of list and returns the list of
-- what fn returned, a Group (group:assets() refers to every output asset of
-- every step in it, in order; group:asset(i) to the i-th of them).
function Pipeline.each(_, list, fn)
  if type(list) ~= "table" then raise("pipeline each: list must be a table") end
  if type(fn) ~= "function" then raise("pipeline each: fn must be a function") end
  local g = setmetatable({}, Group)
  for i, item in ipairs(list) do g[i] = fn(item, i) end
  return g
end

-- References ---------------------------------------------------------------

local function new_ref(target, index, owner)
  if index ~= nil and (not compat.is_integer(index) or index < 1) then
    error(plan_error("asset(i): i must be an integer >= 1 (got " .. tostring(index) .. ")"), 3)
  end
  return setmetatable({ target = target, index = index, owner = owner }, Ref)
end

--- The i-th output asset id of the step (known once it succeeded).
function Step:asset(i) return new_ref(self, i or 1, self.pipeline) end
--- Every output asset id of the step, as an array.
function Step:assets() return new_ref(self, nil, self.pipeline) end
function Step:__tostring() return "scenario.pipeline.Step " .. self.name end

function Group:asset(i) return new_ref(self, i or 1) end
function Group:assets() return new_ref(self, nil) end

--- References by step name (the step may be declared later).
function Pipeline:asset(name, i) return new_ref(name, i or 1, self) end
function Pipeline:assets(name) return new_ref(name, nil, self) end

-- The step names a reference target stands for, in order; problems go to `bad`.
local function target_names(self, target, out, bad, seen)
  seen = seen or {}
  local mt = getmetatable(target)
  if type(target) == "string" then
    if self.by_name[target] then out[#out + 1] = target
    else bad[#bad + 1] = "unknown step " .. string.format("%q", target) end
  elseif mt == Step then
    if self.by_name[target.name] ~= target then
      bad[#bad + 1] = "step " .. target.name .. " belongs to another pipeline"
    else
      out[#out + 1] = target.name
    end
  elseif type(target) == "table" and not seen[target] and (mt == Group or mt == nil) then
    seen[target] = true
    for _, item in ipairs(target) do target_names(self, item, out, bad, seen) end
  end
  return out
end

-- A reference in a field, or a Step / Group placed there directly (taken as
-- its assets()).
local function as_ref(v)
  local mt = getmetatable(v)
  if mt == Ref then return v end
  if mt == Step or mt == Group then return setmetatable({ target = v }, Ref) end
end

-- Calls visit(ref, path) for every reference in v.
local function each_ref(v, path, visit, seen)
  local ref = as_ref(v)
  if ref then return visit(ref, path) end
  if type(v) ~= "table" then return end
  seen = seen or {}
  if seen[v] then return end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  for _, k in ipairs(keys) do
    local sub = type(k) == "number" and (path .. "[" .. k .. "]")
      or (path == "" and tostring(k) or path .. "." .. tostring(k))
    each_ref(v[k], sub, visit, seen)
  end
end

-- A copy of fields with every reference replaced by its value; value_of(ref,
-- path) gives the value or nil, problem.
local function resolve(v, path, value_of, problems)
  local ref = as_ref(v)
  if ref then
    local val, why = value_of(ref, path)
    if val == nil then problems[#problems + 1] = path .. ": " .. why end
    return val
  end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    local sub = type(k) == "number" and (path .. "[" .. k .. "]")
      or (path == "" and tostring(k) or path .. "." .. tostring(k))
    out[k] = resolve(x, sub, value_of, problems)
  end
  local mt = getmetatable(v)
  if mt == json.array_mt then setmetatable(out, mt) end
  return out
end

-- Fingerprints ---------------------------------------------------------------

-- A canonical text of the operation and fields, references by name.
local function canonical(self, v, out, seen)
  local ref = as_ref(v)
  if ref then
    local names = target_names(self, ref.target, {}, {})
    out[#out + 1] = "ref(" .. table.concat(names, ",") .. ";" .. tostring(ref.index or "*") .. ")"
    return
  end
  local t = type(v)
  if t == "string" then out[#out + 1] = "s" .. #v .. ":" .. v
  elseif t == "number" then
    out[#out + 1] = compat.is_integer(v) and ("i" .. compat.integer_text(v)) or string.format("f%.17g", v)
  elseif t == "table" then
    if v == json.null then out[#out + 1] = "null" return end
    if seen[v] then out[#out + 1] = "cycle" return end
    seen[v] = true
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) < type(b)
    end)
    out[#out + 1] = json.is_array(v) and "[" or "{"
    for _, k in ipairs(keys) do
      canonical(self, k, out, seen)
      out[#out + 1] = "="
      canonical(self, v[k], out, seen)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
    seen[v] = nil
  else
    out[#out + 1] = tostring(v)
  end
end

-- Two polynomial hashes modulo primes below 2^31, as 16 hex digits. Plain
-- arithmetic (no bit operators, every product below 2^53) gives the same
-- digits on every Lua version, so a state file moves between interpreters.
local P1, P2 = 2147483629, 2147483587
local function digest(s)
  local a, b = 0, 0
  for i = 1, #s do
    local c = s:byte(i)
    a = (a * 257 + c) % P1
    b = (b * 263 + c) % P2
  end
  return string.format("%08x%08x", a, b)
end

local function fingerprint(self, s)
  local out = { s.op.id, "|" }
  canonical(self, s.fields, out, {})
  return digest(table.concat(out))
end

-- Planning -----------------------------------------------------------------

-- Validates the whole plan: references, cycles, fields (with stand-ins).
-- Returns plan or nil, err.
local function make_plan(self)
  local problems = {}
  local plan = { deps = {}, dependents = {}, fingerprint = {} }
  for _, s in ipairs(self.steps) do
    local deps, seen = {}, {}
    each_ref(s.fields, "", function(ref, path)
      local bad = {}
      if ref.owner and ref.owner ~= self then bad[1] = "refers to a step of another pipeline" end
      local names = target_names(self, ref.target, {}, bad)
      for _, b in ipairs(bad) do problems[#problems + 1] = "step " .. s.name .. ": " .. path .. ": " .. b end
      for _, n in ipairs(names) do
        if n == s.name then
          problems[#problems + 1] = "step " .. s.name .. ": " .. path .. ": refers to the step itself"
        elseif not seen[n] then
          seen[n] = true
          deps[#deps + 1] = n
        end
      end
    end)
    plan.deps[s.name] = deps
    plan.dependents[s.name] = plan.dependents[s.name] or {}
  end
  for _, s in ipairs(self.steps) do
    for _, d in ipairs(plan.deps[s.name]) do
      local list = plan.dependents[d]
      if list then list[#list + 1] = s.name end
    end
  end
  if #problems > 0 then
    return nil, plan_error("pipeline: " .. table.concat(problems, "; "), problems)
  end
  -- cycles: depth-first search, naming the cycle
  local mark, stack = {}, {}
  local cycle
  local function visit(name)
    if cycle then return end
    mark[name] = "open"
    stack[#stack + 1] = name
    for _, d in ipairs(plan.deps[name]) do
      if mark[d] == "open" then
        local from
        for i = #stack, 1, -1 do if stack[i] == d then from = i break end end
        cycle = compat.slice(stack, from, #stack)
        cycle[#cycle + 1] = d
        return
      elseif not mark[d] then
        visit(d)
        if cycle then return end
      end
    end
    stack[#stack] = nil
    mark[name] = "done"
  end
  for _, s in ipairs(self.steps) do
    if not mark[s.name] then visit(s.name) end
    if cycle then
      return nil, plan_error("pipeline: a cycle of references: " .. table.concat(cycle, " -> "),
        { "cycle: " .. table.concat(cycle, " -> ") })
    end
  end
  -- fields, with stand-ins for the outputs
  local n_standin = 0
  local standins = {}
  for _, s in ipairs(self.steps) do
    local n = tonumber(s.fields.numSamples or s.fields.numOutputs) or 1
    n = math.max(1, math.min(math.floor(n), 128))
    local ids = {}
    for i = 1, n do
      n_standin = n_standin + 1
      ids[i] = "asset_standin_" .. n_standin
    end
    standins[s.name] = ids
  end
  plan.standins = standins
  for _, s in ipairs(self.steps) do
    plan.fingerprint[s.name] = fingerprint(self, s)
    local rproblems = {}
    local fields = resolve(s.fields, "", function(ref) return M._value(self, ref, standins) end, rproblems)
    local routed, vproblems = validate.check(s.op, fields, { strict = self.client.strict })
    for _, p in ipairs(routed and {} or vproblems) do rproblems[#rproblems + 1] = p end
    for _, p in ipairs(rproblems) do problems[#problems + 1] = "step " .. s.name .. ": " .. p end
  end
  if #problems > 0 then
    return nil, plan_error("pipeline: " .. table.concat(problems, "; "), problems)
  end
  return plan
end

-- The value of a reference given outputs (step name -> list of asset ids).
function M._value(self, ref, outputs)
  local all = {}
  for _, n in ipairs(target_names(self, ref.target, {}, {})) do
    for _, id in ipairs(outputs[n] or {}) do all[#all + 1] = id end
  end
  if ref.index == nil then return json.array(all) end
  local v = all[ref.index]
  if v == nil then
    return nil, string.format("asset(%d) does not exist: the referenced outputs are %d asset(s)",
      ref.index, #all)
  end
  return v
end

-- The state file ---------------------------------------------------------------

local function dir_of(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local function io_error(message)
  return errors.new { kind = "io", message = message }
end

-- Reads the state file: the table, {} when there is none, or nil, err.
local function read_state(path)
  local f = io.open(path, "rb")
  if not f then return { version = M.STATE_VERSION, steps = {} } end
  local text = f:read("*a")   -- "*a": Lua 5.1 and 5.2 know no "a"
  f:close()
  local state = json.decode(text or "")
  if type(state) ~= "table" or type(state.steps) ~= "table" then
    return nil, io_error("pipeline: the state file " .. path .. " is not a pipeline state"
      .. " (invalid JSON or no steps); fix or remove it")
  end
  if state.version ~= M.STATE_VERSION then
    return nil, io_error("pipeline: the state file " .. path .. " has version "
      .. tostring(state.version) .. "; this SDK writes version " .. M.STATE_VERSION)
  end
  return state
end

-- Flushes a file (and a directory) to the disk when the core can.
local function sync(path)
  if core.fsync then return core.fsync(path) end
  return true
end

-- Writes the whole state: a temporary file in the same directory, flushed
-- and synced, renamed over the state file, then the directory synced, so
-- that a crash leaves either the old state or the new one.
local function write_state(path, state)
  state.updated = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local text, jerr = json.encode(state)
  if not text then return nil, io_error("pipeline: cannot encode the state: " .. tostring(jerr)) end
  local dir = dir_of(path)
  local dok, derr = core.mkdir(dir)
  if not dok then return nil, io_error("pipeline: cannot create directory " .. tostring(derr)) end
  local tmp = string.format("%s.tmp-%d", path, math.random(1, 2^30))
  local f, ferr = io.open(tmp, "wb")
  if not f then return nil, io_error("pipeline: cannot write " .. tmp .. ": " .. tostring(ferr)) end
  local ok, werr = f:write(text, "\n")
  if ok then ok, werr = f:flush() end
  f:close()
  if ok then ok, werr = sync(tmp) end
  if not ok then
    os.remove(tmp)
    return nil, io_error("pipeline: cannot write " .. tmp .. ": " .. tostring(werr))
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, io_error("pipeline: cannot rename " .. tmp .. " to " .. path .. ": " .. tostring(rerr))
  end
  sync(dir)
  return true
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Submissions ----------------------------------------------------------------

-- Whether a failed submission may have been processed by the API: a 5xx or
-- 408, an unreadable 2xx, or a transfer that failed after sending.
local function ambiguous(err)
  local status = err.status
  if status then return status >= 500 or status == 408 or status < 300 end
  if err.kind == "connection" or err.kind == "timeout" then return not err.retryable end
  return false
end
M._ambiguous = ambiguous

local function safe_dir_name(name)
  local s = name:gsub("[^%w%-_.]", "_")
  if s:match("^%.*$") then s = "_" .. s end
  return s
end

-- Run ------------------------------------------------------------------------

local function check_run_options(opts)
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
      if co ~= me and coroutine.status(co) == "suspended" then M._cancel(co) end
    end
  end
  return set
end

-- Cancels a suspended task of the loop, with what it waits on.
function M._cancel(co)
  return loop.cancel(co)
end

--- Runs the pipeline; see the README. Returns result (and an error of kind
-- "pipeline" summing up failed and skipped steps, when there are any), or
-- nil, err when nothing could start (validation, state file, budget).
-- An error raised by on_event stops the run and is re-raised here.
function Pipeline:run(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return nil, plan_error("pipeline run: options must be a table") end
  local oerr = check_run_options(opts)
  if oerr then return nil, oerr end
  local client = self.client
  local plan, perr = make_plan(self)
  if not plan then return nil, perr end
  local concurrency = opts.concurrency or M.DEFAULT_CONCURRENCY
  local on_event = opts.on_event
  local state_file = opts.state_file

  -- the state of earlier runs
  local state = { version = M.STATE_VERSION, steps = {} }
  if state_file then
    local serr
    state, serr = read_state(state_file)
    if not state then return nil, serr end
  end
  local changed = {}
  for _, s in ipairs(self.steps) do
    local st = state.steps[s.name]
    if type(st) == "table" and st.fingerprint ~= plan.fingerprint[s.name] then
      changed[#changed + 1] = s.name
    end
  end
  if #changed > 0 then
    return nil, plan_error("pipeline: the state file " .. state_file .. " was written for other "
      .. "operations or fields of step(s) " .. table.concat(changed, ", ")
      .. "; restore them, or remove their entries (or the state file) to run them anew", changed)
  end

  local result = { steps = {}, order = {}, spend = { spent = 0, by_step = {} } }
  local records = {}       -- name -> this run's record (result.steps[name])
  local outputs = {}       -- name -> asset ids, once known
  local ready = {}         -- name -> event set when the step's outcome is known
  local to_price = {}
  local leaf = {}
  for _, s in ipairs(self.steps) do
    leaf[s.name] = #plan.dependents[s.name] == 0
    local st = state.steps[s.name]
    local rec = { status = "pending", assets = json.array {}, files = json.array {} }
    records[s.name] = rec
    result.steps[s.name] = rec
    ready[s.name] = loop.event()
    if type(st) == "table" then
      rec.cost = number(st.cost)
      rec.job_id = st.job
      if type(st.assets) == "table" then rec.assets = json.array(st.assets) end
      if type(st.files) == "table" then rec.files = json.array(st.files) end
    end
    local prior = type(st) == "table" and st.status
    if not prior or prior == "failed" or (prior == "submitting" and not st.job and opts.resubmit_unknown) then
      to_price[#to_price + 1] = s
    end
    if rec.cost then
      result.spend.spent = result.spend.spent + rec.cost
      result.spend.by_step[s.name] = rec.cost
    end
  end

  local function emit(ev)
    if on_event then on_event(ev) end
  end

  -- pricing: dry runs of every step still to submit, before any submission
  if opts.max_cost then
    local tasks, problems = {}, {}
    for i, s in ipairs(to_price) do
      tasks[i] = function()
        if not s.op.dry_run then
          return nil, errors.new { kind = "budget", message = s.op.id .. " has no dry run" }
        end
        local fields = resolve(s.fields, "", function(ref) return M._value(self, ref, plan.standins) end, {})
        local body, err = resources.call(client, s.op, fields, { dry_run = true })
        if not body then return nil, err end
        local cost = number(body.creativeUnitsCost)
        if not cost then
          return nil, errors.new { kind = "api", message = "the dry run gave no creativeUnitsCost" }
        end
        return cost
      end
    end
    local priced = loop.gather(tasks, concurrency)
    local estimated, by_step = 0, {}
    for _, s in ipairs(self.steps) do
      if records[s.name].cost then
        by_step[s.name] = records[s.name].cost
        estimated = estimated + records[s.name].cost
      end
    end
    local first_err
    for i, s in ipairs(to_price) do
      local cost, err = priced[i][1], priced[i][2]
      if cost then
        by_step[s.name] = cost
        estimated = estimated + cost
      else
        problems[#problems + 1] = "step " .. s.name .. ": " .. tostring(err and err.message or err)
        first_err = first_err or err
      end
    end
    result.spend.estimated = estimated
    result.spend.estimate_by_step = by_step
    if #problems > 0 then
      return nil, errors.new { kind = "budget", problems = problems, cause = first_err,
        message = "pipeline: the plan cannot be priced, nothing was submitted: " .. table.concat(problems, "; ") }
    end
    for _, s in ipairs(to_price) do
      emit { type = "priced", step = s.name, cost = by_step[s.name], estimated = estimated }
    end
    if estimated > opts.max_cost then
      return nil, errors.new { kind = "budget", estimated = estimated, max_cost = opts.max_cost,
        by_step = by_step, message = string.format("pipeline: the plan would cost about %s creative "
          .. "units, over max_cost = %s; nothing was submitted", validate.format_number(estimated),
          validate.format_number(opts.max_cost)) }
    end
  end

  -- the state of this run
  local function save()
    if not state_file then return true end
    local ok, err = write_state(state_file, state)
    if not ok then client.log("info", "%s", tostring(err)) end
    return ok, err
  end
  for _, s in ipairs(self.steps) do
    local st = state.steps[s.name]
    if type(st) ~= "table" then
      st = { operation = s.op.id }
      state.steps[s.name] = st
    end
    st.fingerprint = plan.fingerprint[s.name]
  end
  if state_file then
    local ok, err = save()
    if not ok then return nil, err end
  end

  local slots = loop.semaphore(concurrency)
  local poll_gate = loop.semaphore(16)
  local tasks = task_set()
  -- however run ends (also when the coroutine running it is cancelled), no
  -- task of it is left on the loop
  return loop.with(setmetatable({}, { __close = function() tasks.stop() end }), function()
    local remaining = #self.steps
    local all_done = loop.event()
    local raised

    local function finish(name, status, err)
      local rec = records[name]
      rec.status = status
      rec.error = err
      result.order[#result.order + 1] = name
      ready[name]:set()
    end

    local function fail(name, err, job)
      local st = state.steps[name]
      st.error = tostring(err)
      save()
      finish(name, "failed", err)
      emit { type = "failed", step = name, job = job, error = err }
    end

    local function download_dir(s)
      if s.options.download then return s.options.download end
      if opts.download and leaf[s.name] then return opts.download .. "/" .. safe_dir_name(s.name) end
    end

    -- the job is known to have succeeded: outputs, downloads
    local function succeeded(s, job)
      local rec, st = records[s.name], state.steps[s.name]
      local ids = job:asset_ids()
      outputs[s.name] = ids
      rec.assets = json.array(ids)
      st.status, st.assets, st.error = "succeeded", json.array(ids), nil
      save()
      emit { type = "finished", step = s.name, job = job, assets = rec.assets }
      -- dependents may start now: downloads go on beside them
      ready[s.name]:set()
      local dir = download_dir(s)
      if dir then
        local files, derr = job:download(dir)
        if not files then
          st.error = tostring(derr)
          save()
          rec.status, rec.error = "failed", errors.new { kind = derr.kind, status = derr.status,
            message = "step " .. s.name .. ": the job succeeded but the download failed: " .. tostring(derr.message),
            cause = derr, step = s.name }
          result.order[#result.order + 1] = s.name
          emit { type = "failed", step = s.name, job = job, error = rec.error }
          return
        end
        rec.files = json.array(files)
        st.files = json.array(files)
        st.status = "done"
        save()
        emit { type = "downloaded", step = s.name, job = job, files = rec.files }
      else
        st.status = "done"
        save()
      end
      rec.status = "done"
      result.order[#result.order + 1] = s.name
    end

    local function wait_job(s, job)
      local rec = records[s.name]
      local st_opts = s.options
      local ok, err = job:wait { timeout = st_opts.timeout or opts.timeout or 600, poll_gate = poll_gate,
        on_progress = function(j)
          emit { type = "progress", step = s.name, job = j, status = j.status, progress = j.progress }
        end }
      slots.release()
      if not ok then
        local st = state.steps[s.name]
        if err.kind == "job_failed" or err.kind == "job_canceled" then
          st.status = "failed"     -- a definite failure: a later run submits again
        end                        -- otherwise the job may still run: re-attach later
        err.step = s.name
        return fail(s.name, err, job)
      end
      rec.job = job
      return succeeded(s, job)
    end

    local function run_step(s)
      local rec, st = records[s.name], state.steps[s.name]
      -- inputs first
      for _, d in ipairs(plan.deps[s.name]) do
        loop.await(ready[d])
        if records[d].status ~= "done" and not outputs[d] then
          finish(s.name, "skipped", errors.new { kind = "pipeline", step = s.name,
            message = "step " .. s.name .. " was skipped: its input " .. d .. " " .. records[d].status })
          emit { type = "skipped", step = s.name, because = d }
          return
        end
      end
      if tasks.stopped then return end
      local problems = {}
      local fields = resolve(s.fields, "", function(ref) return M._value(self, ref, outputs) end, problems)
      if #problems > 0 then
        st.status = "failed"
        return fail(s.name, errors.new { kind = "validation", step = s.name, problems = problems,
          message = "step " .. s.name .. ": " .. table.concat(problems, "; ") })
      end
      slots.acquire()
      if tasks.stopped then return slots.release() end
      st.status, st.job, st.error, st.cost = "submitting", nil, nil, nil
      local ok, serr = save()
      if not ok and state_file then
        slots.release()
        return fail(s.name, serr)
      end
      local job, err = resources.call(client, s.op, fields, {})
      if not job then
        slots.release()
        if ambiguous(err) then
          -- left "submitting": a later run does not send it again either
          return fail(s.name, errors.new { kind = err.kind, status = err.status, step = s.name,
            ambiguous = true, cause = err, request_id = err.request_id, operation = err.operation,
            message = "step " .. s.name .. ": the submission may have reached the API and was not"
              .. " sent again (a paid call is never sent twice): " .. tostring(err.message) })
        end
        st.status = "failed"
        err.step = s.name
        return fail(s.name, err)
      end
      rec.job, rec.job_id, rec.cost = job, job.id, number(job.cost)
      st.status, st.job, st.cost = "submitted", job.id, rec.cost
      if rec.cost then
        result.spend.spent = result.spend.spent + rec.cost
        result.spend.by_step[s.name] = rec.cost
      end
      save()
      emit { type = "submitted", step = s.name, job = job, cost = rec.cost }
      return wait_job(s, job)
    end

    -- what each step does, given the state of earlier runs
    local function start(s)
      local st = state.steps[s.name]
      local rec = records[s.name]
      local prior = st.status
      if prior == "done" then
        local missing = false
        for _, f in ipairs(rec.files) do if not file_exists(f) then missing = true end end
        if download_dir(s) and #rec.files == 0 and #rec.assets > 0 then missing = true end
        outputs[s.name] = rec.assets
        if not missing then
          rec.status, rec.resumed = "done", true
          result.order[#result.order + 1] = s.name
          ready[s.name]:set()
          return
        end
        prior = "succeeded"
      end
      if prior == "succeeded" and st.job then
        -- outputs known, downloads to (re)do
        rec.resumed, rec.job_id = true, st.job
        local job = client.jobs:job { jobId = st.job, status = "success",
          metadata = { assetIds = rec.assets } }
        rec.job = job
        return succeeded(s, job)
      end
      if (prior == "submitted" or prior == "succeeded") and st.job then
        rec.resumed = true
        slots.acquire()
        if tasks.stopped then return slots.release() end
        local job = client.jobs:job(st.job)
        rec.job, rec.job_id = job, job.id
        emit { type = "submitted", step = s.name, job = job, cost = rec.cost, resumed = true }
        return wait_job(s, job)
      end
      if prior == "submitting" and not opts.resubmit_unknown then
        return fail(s.name, errors.new { kind = "pipeline", step = s.name, ambiguous = true,
          message = "step " .. s.name .. ": an earlier run stopped while submitting it, so the API may"
            .. " have a job for it; it was not sent again (run with resubmit_unknown = true to send it)" })
      end
      return run_step(s)
    end

    local function stop_with(e)
      if raised then return end
      raised = { e }
      tasks.stop()
      all_done:set()
    end

    for _, s in ipairs(self.steps) do
      tasks.spawn(function()
        local ok, e = loop.pcall(start, s)
        if not ok then stop_with(e) end
        if not ready[s.name]:done() and not raised then ready[s.name]:set() end
        remaining = remaining - 1
        if remaining == 0 then all_done:set() end
      end)
      if raised then break end
    end
    loop.await(all_done)
    if raised then error(raised[1], 0) end

    -- the summary
    local failed, skipped = {}, {}
    for _, s in ipairs(self.steps) do
      local rec = records[s.name]
      if rec.status == "failed" then failed[#failed + 1] = s.name
      elseif rec.status == "skipped" then skipped[#skipped + 1] = s.name end
    end
    if #failed == 0 and #skipped == 0 then return result end
    local parts = {}
    for _, n in ipairs(failed) do
      parts[#parts + 1] = n .. " (" .. tostring(records[n].error and records[n].error.message) .. ")"
    end
    local msg = string.format("pipeline: %d of %d step(s) failed%s%s", #failed, #self.steps,
      #parts > 0 and (": " .. table.concat(parts, "; ")) or "",
      #skipped > 0 and ("; skipped: " .. table.concat(skipped, ", ")) or "")
    local errs = {}
    for _, n in ipairs(failed) do errs[n] = records[n].error end
    return result, errors.new { kind = "pipeline", message = msg, failed = failed, skipped = skipped,
      errors = errs, result = result }
  end)
end

return M
