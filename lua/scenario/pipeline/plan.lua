--- The plan of a pipeline: references between steps, the dependency graph
-- (cycles named), the validation of every step's fields (with stand-in asset
-- ids for outputs not known yet) and the fingerprints of the state file.
-- scenario.pipeline (init.lua) builds steps; run.lua runs a plan.
local compat = require "scenario.compat"
local errors = require "scenario.errors"
local json = require "scenario.json"
local validate = require "scenario.validate"

local M = {}

local Step = { __name = "scenario.pipeline.Step" }
Step.__index = Step
M.Step = Step

local Group = { __name = "scenario.pipeline.Group" }
Group.__index = Group
M.Group = Group

local Ref = { __name = "scenario.pipeline.Ref" }
Ref.__index = Ref
M.Ref = Ref

--- An error of kind "validation" (a bad plan or bad options).
function M.error(message, problems)
  return errors.new { kind = "validation", message = message, problems = problems }
end
local plan_error = M.error

-- References ---------------------------------------------------------------

--- A reference to the outputs of target (a Step, a Group, a step name);
-- index nil: every asset id, as an array.
function M.new_ref(target, index, owner)
  if index ~= nil and (not compat.is_integer(index) or index < 1) then
    error(plan_error("asset(i): i must be an integer >= 1 (got " .. tostring(index) .. ")"), 3)
  end
  return setmetatable({ target = target, index = index, owner = owner }, Ref)
end
local new_ref = M.new_ref

--- The i-th output asset id of the step (known once it succeeded).
function Step:asset(i) return new_ref(self, i or 1, self.pipeline) end
--- Every output asset id of the step, as an array.
function Step:assets() return new_ref(self, nil, self.pipeline) end
function Step:__tostring() return "scenario.pipeline.Step " .. self.name end

function Group:asset(i) return new_ref(self, i or 1) end
function Group:assets() return new_ref(self, nil) end

-- The step names a reference target stands for, in order; problems go to `bad`.
local function target_names(p, target, out, bad, seen)
  seen = seen or {}
  local mt = getmetatable(target)
  if type(target) == "string" then
    if p.by_name[target] then out[#out + 1] = target
    else bad[#bad + 1] = "unknown step " .. string.format("%q", target) end
  elseif mt == Step then
    if p.by_name[target.name] ~= target then
      bad[#bad + 1] = "step " .. target.name .. " belongs to another pipeline"
    else
      out[#out + 1] = target.name
    end
  elseif type(target) == "table" and not seen[target] and (mt == Group or mt == nil) then
    seen[target] = true
    for _, item in ipairs(target) do target_names(p, item, out, bad, seen) end
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

local function sub_path(path, k)
  if type(k) == "number" then return path .. "[" .. k .. "]" end
  return path == "" and tostring(k) or path .. "." .. tostring(k)
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
  for _, k in ipairs(keys) do each_ref(v[k], sub_path(path, k), visit, seen) end
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
  for k, x in pairs(v) do out[k] = resolve(x, sub_path(path, k), value_of, problems) end
  local mt = getmetatable(v)
  if mt == json.array_mt then setmetatable(out, mt) end
  return out
end

--- The value of a reference given outputs (step name -> list of asset ids).
function M.value(p, ref, outputs)
  local all = {}
  for _, n in ipairs(target_names(p, ref.target, {}, {})) do
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

--- The fields of step s with every reference replaced by its value in
-- outputs (step name -> asset ids); problems (a list) gets what is missing.
function M.fields(p, s, outputs, problems)
  return resolve(s.fields, "", function(ref) return M.value(p, ref, outputs) end, problems or {})
end

-- Fingerprints ---------------------------------------------------------------

-- A canonical text of the operation and fields, references by name.
local function canonical(p, v, out, seen)
  local ref = as_ref(v)
  if ref then
    local names = target_names(p, ref.target, {}, {})
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
      canonical(p, k, out, seen)
      out[#out + 1] = "="
      canonical(p, v[k], out, seen)
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

local function fingerprint(p, s)
  local out = { s.op.id, "|" }
  canonical(p, s.fields, out, {})
  return digest(table.concat(out))
end

-- Planning -----------------------------------------------------------------

-- The steps each step refers to (plan.deps) and the steps that refer to it
-- (plan.dependents); reference problems go to `problems`.
local function link(p, plan, problems)
  for _, s in ipairs(p.steps) do
    local deps, seen = {}, {}
    each_ref(s.fields, "", function(ref, path)
      local bad = {}
      if ref.owner and ref.owner ~= p then bad[1] = "refers to a step of another pipeline" end
      local names = target_names(p, ref.target, {}, bad)
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
  for _, s in ipairs(p.steps) do
    for _, d in ipairs(plan.deps[s.name]) do
      local list = plan.dependents[d]
      if list then list[#list + 1] = s.name end
    end
  end
end

-- A cycle of references (a list of step names, the first one repeated at
-- the end), or nil: a depth-first search.
local function find_cycle(p, deps)
  local mark, stack = {}, {}
  local cycle
  local function visit(name)
    mark[name] = "open"
    stack[#stack + 1] = name
    for _, d in ipairs(deps[name]) do
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
  for _, s in ipairs(p.steps) do
    if not mark[s.name] then visit(s.name) end
    if cycle then return cycle end
  end
end

-- Stand-in asset ids for every step's outputs: as many as its numSamples or
-- numOutputs (1 to 128), else one.
local function standins(p)
  local n_standin, out = 0, {}
  for _, s in ipairs(p.steps) do
    local n = tonumber(s.fields.numSamples or s.fields.numOutputs) or 1
    n = math.max(1, math.min(math.floor(n), 128))
    local ids = {}
    for i = 1, n do
      n_standin = n_standin + 1
      ids[i] = "asset_standin_" .. n_standin
    end
    out[s.name] = ids
  end
  return out
end

-- Fingerprints every step and validates its fields with the stand-ins.
local function check_fields(p, plan, problems)
  for _, s in ipairs(p.steps) do
    plan.fingerprint[s.name] = fingerprint(p, s)
    local rproblems = {}
    local fields = M.fields(p, s, plan.standins, rproblems)
    local strict = validate.strict_for(s.op, p.client.strict, s.options)
    local routed, vproblems = validate.check(s.op, fields, { strict = strict })
    for _, v in ipairs(routed and {} or vproblems) do rproblems[#rproblems + 1] = v end
    for _, v in ipairs(rproblems) do problems[#problems + 1] = "step " .. s.name .. ": " .. v end
  end
end

--- Validates the whole plan of pipeline p: references, cycles, fields (with
-- stand-ins). Returns the plan { deps, dependents, fingerprint, standins }
-- or nil, err.
function M.make(p)
  local problems = {}
  local plan = { deps = {}, dependents = {}, fingerprint = {} }
  link(p, plan, problems)
  if #problems > 0 then
    return nil, plan_error("pipeline: " .. table.concat(problems, "; "), problems)
  end
  local cycle = find_cycle(p, plan.deps)
  if cycle then
    return nil, plan_error("pipeline: a cycle of references: " .. table.concat(cycle, " -> "),
      { "cycle: " .. table.concat(cycle, " -> ") })
  end
  plan.standins = standins(p)
  check_fields(p, plan, problems)
  if #problems > 0 then
    return nil, plan_error("pipeline: " .. table.concat(problems, "; "), problems)
  end
  return plan
end

return M
