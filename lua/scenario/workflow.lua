--- scenario.workflow: server-side Scenario workflows written in Lua.
--
--   local wf = workflow.new { name = "Hero sheet", description = "..." }
--   local prompt = wf:input("prompt", "string", { required = true, maxLength = 500 })
--   local gen = wf:node("gen", "custom-model", { modelId = "model_x",
--     inputs = { prompt = prompt, numSamples = 2 } })
--   local ok = wf:approval("review", { inputs = { images = gen:output("all") } })
--   wf:node("nobg", "remove-background", { inputs = { image = gen:output("image") },
--     depends_on = { ok } })
--   local body, err = wf:compile { client = client }  -- the body of PUT /workflows/{id}
--
-- The builder produces the `flow` and `inputs` of PUT /workflows/{workflowId}
-- (schema PutWorkflowsByWorkflowIdRequest, read at run time from the
-- generated scenario.operations, so option names and types follow the
-- document). Choices the document leaves open, written down here:
--
-- * A constant node input is sent as `value` beside `name` and `type`. The
--   document's node-input schema has no `value` property (it only describes
--   references), but it allows additional properties, and a node needs its
--   constants somewhere.
-- * Every node of a definition carries `status = "pending"`: the flow item
--   schema requires `status` although it only means something inside a run.
-- * The body always holds name, description, privacy ("private"), status
--   ("draft"), tagSet, editorInfo ({}), inputs and flow, the fields a
--   workflow record always has, so that a record fetched back and loaded
--   with from_api compiles to the very body that was deployed.
-- * Node inputs given as a table keyed by name are sent sorted by name; give
--   a list of { name = ..., ... } entries (or add them with node:input) to
--   choose the order. dependsOn is derived from the references (ref.node and
--   ref.conditional) plus depends_on, sorted; a node loaded by from_api keeps
--   the order it had and appends new dependencies after it.
-- * `min`/`max` of an array input bound its number of items.
-- * A node id may not be "workflow": ref.node = "workflow" means a workflow
--   input.
--
-- Every problem (bad option, unknown reference, duplicate, cycle, more than
-- 50 nodes, inputs a custom model does not take or lacks) is collected and
-- returned at once by wf:compile as one scenario.Error of kind "validation"
-- with a `problems` list of "<field>: <reason>" strings; nothing is sent.
local compat = require "scenario.compat"
local operations = require "scenario.operations"
local json = require "scenario.json"
local errors = require "scenario.errors"
local validate = require "scenario.validate"
local num = validate.format_number

local M = {}

local OP = operations.PutWorkflowsByWorkflowId
local BODY = OP.body
local INPUT_SCHEMA = BODY.properties.inputs.items
local NODE_SCHEMA = BODY.properties.flow.items
local NODE_INPUT_SCHEMA = NODE_SCHEMA.properties.inputs.items

M.INPUT_TYPES = INPUT_SCHEMA.properties.type.enum
M.NODE_TYPES = NODE_SCHEMA.properties.type.enum
M.MAX_NODES = 50

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local INPUT_TYPE_SET = set_of(M.INPUT_TYPES)
local NODE_TYPE_SET = set_of(M.NODE_TYPES)

-- Lua type of a scalar input value, and item type of an array input
local SCALAR = { string = "string", number = "number", boolean = "boolean", file = "string",
  model = "string" }
local ITEM = { string_array = "string", number_array = "number", file_array = "string",
  model_array = "string", inputs_array = "table" }

-- input options the document restricts to some input types ("Only available for ...")
local ARRAYS = { string_array = true, number_array = true, file_array = true, model_array = true,
  inputs_array = true }
local function plus(t, extra)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  for k, v in pairs(extra) do out[k] = v end
  return out
end
local FILES = { file = true, file_array = true }
local STRINGS = { string = true, string_array = true }
local ONLY_FOR = {
  min = plus(ARRAYS, { number = true }), max = plus(ARRAYS, { number = true }),
  step = { number = true },
  minLength = STRINGS, maxLength = STRINGS,
  kind = FILES, backgroundBehavior = FILES, parent = FILES,
  modelTypes = { model_array = true },
  inputs = { inputs_array = true },
  color = { string = true }, prompt = { string = true }, promptSpark = { string = true },
  placeholder = { string = true },
}
local REQUIRED_KEYS = { always = "boolean", ifDefined = "table", ifNotDefined = "table",
  conditionalValues = "table" }

-- Small helpers -------------------------------------------------------------

local is_list = validate.is_list

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" then return num(v) end
  if type(v) == "table" then return is_list(v) and next(v) ~= nil and "an array" or "a table" end
  return tostring(v)
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return setmetatable(out, getmetatable(v))
end

-- A copy of v where every array the schema declares is marked as a JSON
-- array (lua-cjson 2.1 decodes [] as an empty table that would encode as {}).
local function with_arrays(schema, v)
  if type(v) ~= "table" or v == json.null then return v end
  local t = schema and (schema.type or (schema.properties and "object"))
  if t == "array" then
    local out = json.array {}
    for i, x in ipairs(v) do out[i] = with_arrays(schema.items, x) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do
    local sub = t == "object" and schema.properties and schema.properties[k]
    out[k] = sub and with_arrays(sub, x) or deep_copy(x)
  end
  return setmetatable(out, getmetatable(v))
end
M.with_arrays = with_arrays

local ARTICLE = { string = "a string", number = "a number", integer = "an integer",
  boolean = "a boolean", array = "an array", object = "an object", table = "a table" }

-- Checks v against a schema node of the document; adds "<path>: <reason>".
local function check_schema(s, v, path, problems)
  local t = s.type or (s.properties and "object")
  local function bad(what)
    problems[#problems + 1] = ("%s: must be %s (got %s)"):format(path, what, show(v))
  end
  if t == "string" then
    if type(v) ~= "string" then return bad("a string") end
    if s.enum and not set_of(s.enum)[v] then
      return bad("one of " .. table.concat(s.enum, ", "))
    end
  elseif t == "number" or t == "integer" then
    if type(v) ~= "number" or v ~= v then return bad(ARTICLE[t]) end
    if t == "integer" and not compat.is_integer(v) then return bad("an integer") end
    if s.minimum and v < s.minimum then return bad(">= " .. num(s.minimum)) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return bad("a boolean") end
  elseif t == "array" then
    if not is_list(v) then return bad("an array") end
    for i, x in ipairs(v) do
      if s.items then check_schema(s.items, x, path .. "[" .. i .. "]", problems) end
    end
  elseif t == "object" then
    if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) then return bad("an object") end
    for _, k in ipairs(s.required or {}) do
      if v[k] == nil then problems[#problems + 1] = path .. "." .. k .. ": required" end
    end
    for k, x in pairs(v) do
      local sub = s.properties and s.properties[k]
      if sub then check_schema(sub, x, path .. "." .. k, problems) end
    end
  end
end

-- Values against input definitions ---------------------------------------

-- Why def (an input definition) requires its input given `values`, or nil.
local function required_reason(def, values)
  local r = def.required
  if type(r) ~= "table" then return nil end
  if r.always == true then return "required" end
  if type(r.ifDefined) == "table" then
    for other, msg in pairs(r.ifDefined) do
      if values[other] ~= nil then
        return type(msg) == "string" and msg ~= "" and ("required when %s is given (%s)"):format(other, msg)
          or ("required when %s is given"):format(other)
      end
    end
  end
  if type(r.ifNotDefined) == "table" then
    for other, msg in pairs(r.ifNotDefined) do
      if values[other] == nil then
        return type(msg) == "string" and msg ~= "" and ("required when %s is not given (%s)"):format(other, msg)
          or ("required when %s is not given"):format(other)
      end
    end
  end
  -- conditionalValues: { other = { values = {...}, operation = "in" | "notIn" ... } };
  -- a shape this SDK does not recognise is not checked
  if type(r.conditionalValues) == "table" then
    for other, rule in pairs(r.conditionalValues) do
      if type(rule) == "table" and type(rule.values) == "table" then
        local hit = false
        for _, x in ipairs(rule.values) do
          if x == values[other] then hit = true end
        end
        if type(rule.operation) == "string" and rule.operation:lower():find("not") then hit = not hit end
        if hit and values[other] ~= nil then
          return ("required when %s is %s"):format(other, show(values[other]))
        end
      end
    end
  end
  return nil
end

local function lua_type_ok(want, v)
  if want == "table" then return type(v) == "table" and (next(v) == nil or not is_list(v)) end
  if want == "number" then return type(v) == "number" and v == v end
  return type(v) == want
end

local check_values

-- Checks one value against its input definition (type, bounds, allowed
-- values); adds "<path>: <reason>" problems.
local function check_value(def, v, path, problems)
  local function add(msg) problems[#problems + 1] = path .. ": " .. msg end
  local typ = def.type
  local allowed = type(def.allowedValues) == "table" and #def.allowedValues > 0 and set_of(def.allowedValues)
  local function check_string(s, where)
    local len = compat.utf8_len(s)
    if type(def.minLength) == "number" and len < def.minLength then
      problems[#problems + 1] = ("%s: must be at least %s characters long (got %d)")
        :format(where, num(def.minLength), len)
    end
    if type(def.maxLength) == "number" and len > def.maxLength then
      problems[#problems + 1] = ("%s: must be at most %s characters long (got %d)")
        :format(where, num(def.maxLength), len)
    end
  end
  local function check_allowed(x, where)
    if allowed and not allowed[x] then
      local shown = {}
      for i, a in ipairs(def.allowedValues) do shown[i] = type(a) == "number" and num(a) or tostring(a) end
      problems[#problems + 1] = ("%s: must be one of %s (got %s)"):format(where,
        table.concat(shown, ", "), show(x))
    end
  end
  if SCALAR[typ] then
    if not lua_type_ok(SCALAR[typ], v) then
      return add(("must be %s for a %s input (got %s)"):format(ARTICLE[SCALAR[typ]], typ, show(v)))
    end
    if typ == "number" then
      if type(def.min) == "number" and v < def.min then
        return add(("must be >= %s (got %s)"):format(num(def.min), num(v)))
      end
      if type(def.max) == "number" and v > def.max then
        return add(("must be <= %s (got %s)"):format(num(def.max), num(v)))
      end
    end
    if typ == "string" then check_string(v, path) end
    check_allowed(v, path)
  elseif ITEM[typ] then
    if not is_list(v) then
      return add(("must be an array for a %s input (got %s)"):format(typ, show(v)))
    end
    if type(def.min) == "number" and #v < def.min then
      add(("must have at least %s items (got %d)"):format(num(def.min), #v))
    end
    if type(def.max) == "number" and #v > def.max then
      add(("must have at most %s items (got %d)"):format(num(def.max), #v))
    end
    for i, x in ipairs(v) do
      local where = path .. "[" .. i .. "]"
      if not lua_type_ok(ITEM[typ], x) then
        problems[#problems + 1] = ("%s: must be %s (got %s)"):format(where,
          ITEM[typ] == "table" and "an object" or ARTICLE[ITEM[typ]], show(x))
      elseif typ == "inputs_array" then
        if type(def.inputs) == "table" then check_values(def.inputs, x, where, problems) end
      else
        if typ == "string_array" then check_string(x, where) end
        check_allowed(x, where)
      end
    end
  end
end
M.check_value = check_value

--- Checks a table of values keyed by input name against a list of input
-- definitions: required rules, types, bounds, allowed values, and names the
-- definitions do not declare. Adds "<prefix><name>: <reason>" to problems.
check_values = function(defs, values, prefix, problems)
  local known = {}
  for _, def in ipairs(defs) do
    if type(def) == "table" and type(def.name) == "string" then
      known[def.name] = true
      local path = prefix ~= "" and prefix .. "." .. def.name or def.name
      local v = values[def.name]
      if v == nil then
        local why = required_reason(def, values)
        if why then problems[#problems + 1] = ("%s: %s (%s)"):format(path, why, tostring(def.type)) end
      else
        check_value(def, v, path, problems)
      end
    end
  end
  for _, k in ipairs(sorted_keys(values)) do
    if not known[k] then
      local path = prefix ~= "" and prefix .. "." .. tostring(k) or tostring(k)
      problems[#problems + 1] = path .. ": not an input of this workflow"
    end
  end
end

--- Problems of run inputs against the workflow's input definitions
-- (list of "<name>: <reason>", empty when they are fine).
function M.check_run_inputs(defs, values)
  local problems = {}
  if type(values) ~= "table" then
    return { ("inputs: must be a table (got %s)"):format(show(values)) }
  end
  check_values(defs, values, "", problems)
  return problems
end

--- A copy of run inputs with array inputs marked as JSON arrays.
function M.prepare_run_inputs(defs, values)
  local out = {}
  local types = {}
  for _, def in ipairs(defs) do
    if type(def) == "table" and def.name then types[def.name] = def.type end
  end
  for k, v in pairs(values) do
    if ITEM[types[k]] and type(v) == "table" then
      out[k] = json.array(compat.slice(v, 1, #v))
    else
      out[k] = v
    end
  end
  return out
end

-- References ----------------------------------------------------------------

local Ref = {}
Ref.__index = Ref
Ref.__name = "scenario.workflow.Ref"

local function new_ref(fields)
  return setmetatable(fields, Ref)
end

-- a copy that shares the nodes it points at (nodes are never copied)
local function ref_copy(r)
  local out = {}
  for k, v in pairs(r) do out[k] = v end
  if type(r.conditional) == "table" then
    out.conditional = compat.slice(r.conditional, 1, #r.conditional)
  end
  return setmetatable(out, Ref)
end

--- The same reference, also gated by if-else nodes (ref.conditional).
function Ref:when(...)
  local out = ref_copy(self)
  out.conditional = out.conditional or {}
  for i = 1, select("#", ...) do out.conditional[#out.conditional + 1] = (select(i, ...)) end
  return out
end

--- The same reference with an explicit node input type.
function Ref:as(typ)
  local out = ref_copy(self)
  out.type = typ
  return out
end

--- A reference built from its parts: { node = <node or id>, name = ...,
-- equal = ..., conditional = { <node or id>, ... }, type = ... }.
function M.ref(fields)
  return ref_copy(fields)
end

-- Workflow inputs ------------------------------------------------------------

local Input = {}
Input.__index = Input
Input.__name = "scenario.workflow.Input"

function Input:__tostring()
  return ("scenario.workflow input %s (%s)"):format(tostring(self.name), tostring(self.type))
end

-- Nodes -----------------------------------------------------------------------

local Node = {}
Node.__index = Node
Node.__name = "scenario.workflow.Node"

function Node:__tostring()
  return ("scenario.workflow node %s (%s)"):format(tostring(self.id), tostring(self.type))
end

--- A reference to an output of this node ("all": every output).
function Node:output(name)
  return new_ref { node = self, name = name }
end

--- A reference to the branch of this if-else node whose value is `value`.
function Node:branch(value)
  return new_ref { node = self, equal = value }
end

--- Adds or replaces an input of the node (value as in the inputs option).
function Node:input(name, value)
  if type(name) ~= "string" or name == "" then
    local p = self.wf._problems
    p[#p + 1] = ("flow.%s.inputs: an input name must be a non-empty string (got %s)"):format(self.id, show(name))
    return self
  end
  for _, e in ipairs(self.inputs) do
    if e.name == name then
      e.value = value
      return self
    end
  end
  self.inputs[#self.inputs + 1] = { name = name, value = value }
  return self
end

--- Adds explicit dependencies (nodes or ids).
function Node:depends_on(...)
  for i = 1, select("#", ...) do self.deps[#self.deps + 1] = (select(i, ...)) end
  return self
end

-- The builder -------------------------------------------------------------------

local Workflow = {}
Workflow.__index = Workflow
Workflow.__name = "scenario.workflow"
M.Workflow = Workflow

function Workflow:__tostring()
  return ("scenario.workflow %s (%d inputs, %d nodes)"):format(tostring(self.id or self.name),
    #self._inputs, #self._nodes)
end

local WF_OPTIONS = {
  name = "string", description = "string", privacy = "privacy", status = "status",
  tags = "tagSet", tagSet = "tagSet", editorInfo = "editorInfo",
  outputAssetKinds = "outputAssetKinds", thumbnail = "thumbnail", before = "before", after = "after",
  id = "string", extra = "table",
}

--- workflow.new { name, description, privacy, status, tags, editorInfo,
-- outputAssetKinds, thumbnail, before, after, id, extra } --> builder
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({ _inputs = {}, _input_by = {}, _nodes = {}, _node_by = {},
    _problems = {}, extra = {} }, Workflow)
  if type(opts) ~= "table" then
    self._problems[1] = ("workflow: options must be a table (got %s)"):format(show(opts))
    return self
  end
  for _, k in ipairs(sorted_keys(opts)) do
    local v = opts[k]
    local what = WF_OPTIONS[k]
    if not what then
      self._problems[#self._problems + 1] = ("%s: unknown option of workflow.new"):format(tostring(k))
    elseif what == "string" or what == "table" then
      if type(v) ~= what then
        self._problems[#self._problems + 1] = ("%s: must be %s (got %s)"):format(k, ARTICLE[what], show(v))
      end
    else
      check_schema(BODY.properties[what], v, k, self._problems)
    end
  end
  self.name, self.description, self.id = opts.name, opts.description, opts.id
  self.privacy, self.status = opts.privacy, opts.status
  self.tags = opts.tags or opts.tagSet
  self.editorInfo = opts.editorInfo
  self.outputAssetKinds = opts.outputAssetKinds
  self.thumbnail, self.before, self.after = opts.thumbnail, opts.before, opts.after
  if type(opts.extra) == "table" then self.extra = opts.extra end
  return self
end

function M.is_builder(v)
  return getmetatable(v) == Workflow
end

local function add(self, msg)
  self._problems[#self._problems + 1] = msg
end

-- Checks the options of an input definition; returns the definition fields.
local function input_fields(self, path, typ, opts, loaded)
  local def = {}
  for _, k in ipairs(sorted_keys(opts)) do
    local v = opts[k]
    local s = INPUT_SCHEMA.properties[k]
    if k == "extra" then
      if type(v) ~= "table" then add(self, path .. ".extra: must be a table (got " .. show(v) .. ")") end
    elseif k == "name" or k == "type" then
      add(self, ("%s.%s: given as an argument, not as an option"):format(path, k))
    elseif not s then
      add(self, ("%s.%s: unknown option (not a property of a workflow input in the API document)")
        :format(path, tostring(k)))
    elseif k == "required" and (v == true or v == false) then
      if v then def.required = { always = true } end
    else
      if k == "required" then
        if type(v) ~= "table" or is_list(v) and next(v) ~= nil then
          add(self, ("%s.required: must be true, false or a table of rules (got %s)"):format(path, show(v)))
        else
          for rk, rv in pairs(v) do
            local want = REQUIRED_KEYS[rk]
            if not want then
              add(self, ("%s.required.%s: unknown rule (always, ifDefined, ifNotDefined, conditionalValues)")
                :format(path, tostring(rk)))
            elseif type(rv) ~= want then
              add(self, ("%s.required.%s: must be %s (got %s)"):format(path, rk, ARTICLE[want], show(rv)))
            end
          end
        end
      else
        check_schema(s, v, path .. "." .. k, self._problems)
      end
      if not loaded and ONLY_FOR[k] and typ and not ONLY_FOR[k][typ] then
        local types = sorted_keys(ONLY_FOR[k])
        add(self, ("%s.%s: only for %s inputs (this one is %s)"):format(path, k, table.concat(types, ", "), typ))
      end
      def[k] = with_arrays(s, v)
    end
  end
  if type(def.min) == "number" and type(def.max) == "number" and def.min > def.max then
    add(self, ("%s.min: must be <= max (%s > %s)"):format(path, num(def.min), num(def.max)))
  end
  if type(def.minLength) == "number" and type(def.maxLength) == "number" and def.minLength > def.maxLength then
    add(self, ("%s.minLength: must be <= maxLength (%s > %s)"):format(path, num(def.minLength),
      num(def.maxLength)))
  end
  if not loaded and typ and is_list(def.allowedValues) then
    local want = SCALAR[typ] or ITEM[typ]
    for i, x in ipairs(def.allowedValues) do
      if want and want ~= "table" and type(x) ~= want then
        add(self, ("%s.allowedValues[%d]: must be %s for a %s input (got %s)"):format(path, i,
          ARTICLE[want], typ, show(x)))
      end
    end
  end
  if typ == "inputs_array" and is_list(def.inputs) and not loaded then
    for i, sub in ipairs(def.inputs) do
      local where = ("%s.inputs[%d]"):format(path, i)
      if type(sub) ~= "table" then
        add(self, where .. ": must be an input definition table (got " .. show(sub) .. ")")
      else
        local subopts = {}
        for k, x in pairs(sub) do
          if k ~= "name" and k ~= "type" then subopts[k] = x end
        end
        if type(sub.name) ~= "string" or sub.name == "" then add(self, where .. ".name: required (a string)") end
        if not INPUT_TYPE_SET[sub.type] then
          add(self, ("%s.type: must be one of %s (got %s)"):format(where, table.concat(M.INPUT_TYPES, ", "),
            show(sub.type)))
        end
        local subdef = input_fields(self, where, sub.type, subopts, loaded)
        subdef.name, subdef.type = sub.name, sub.type
        def.inputs[i] = subdef
      end
    end
  end
  return def
end

--- wf:input(name, type, opts) --> the input (to wire into nodes)
-- opts: the properties of a workflow input in the document (required, label,
-- hint, description, min, max, step, minLength, maxLength, allowedValues,
-- kind, ...); `required = true` stands for { always = true }; extra = {...}
-- is sent as is.
function Workflow:input(name, typ, opts, loaded)
  opts = opts or {}
  local path = "inputs." .. tostring(name)
  if type(name) ~= "string" or name == "" then
    add(self, ("inputs: an input name must be a non-empty string (got %s)"):format(show(name)))
  elseif self._input_by[name] then
    add(self, path .. ": declared twice")
    return self._input_by[name]
  end
  if not INPUT_TYPE_SET[typ] then
    add(self, ("%s.type: must be one of %s (got %s)"):format(path, table.concat(M.INPUT_TYPES, ", "), show(typ)))
  end
  if type(opts) ~= "table" then
    add(self, ("%s: options must be a table (got %s)"):format(path, show(opts)))
    opts = {}
  end
  local input = setmetatable({ wf = self, name = name, type = typ,
    def = input_fields(self, path, typ, opts, loaded), extra = opts.extra }, Input)
  self._inputs[#self._inputs + 1] = input
  if type(name) == "string" then self._input_by[name] = input end
  return input
end

local NODE_OPTIONS = { inputs = true, depends_on = true, modelId = "custom-model",
  workflowId = "workflow", logicType = "logic", logic = true, extra = true, status = true }

--- wf:node(id, type, opts) --> the node
-- opts: inputs ({ name = value, ... } or a list of { name = ..., ... }),
-- depends_on (nodes or ids), modelId (custom-model), workflowId (workflow),
-- logicType and logic (logic; transform takes logic.transform), extra.
function Workflow:node(id, typ, opts)
  opts = opts or {}
  local path = "flow." .. tostring(id)
  local node = setmetatable({ wf = self, id = id, type = typ, inputs = {}, deps = {},
    status = "pending" }, Node)
  if type(id) ~= "string" or id == "" then
    add(self, ("flow: a node id must be a non-empty string (got %s)"):format(show(id)))
  elseif id == "workflow" then
    add(self, "flow.workflow: \"workflow\" is reserved (ref.node = \"workflow\" names a workflow input)")
  elseif self._node_by[id] then
    add(self, path .. ": duplicate node id")
    return node
  end
  if not NODE_TYPE_SET[typ] then
    add(self, ("%s.type: must be one of %s (got %s)"):format(path, table.concat(M.NODE_TYPES, ", "), show(typ)))
  end
  if type(opts) ~= "table" then
    add(self, ("%s: options must be a table (got %s)"):format(path, show(opts)))
    opts = {}
  end
  for _, k in ipairs(sorted_keys(opts)) do
    local v = opts[k]
    local allowed = NODE_OPTIONS[k]
    if not allowed then
      add(self, ("%s.%s: unknown option of a node"):format(path, tostring(k)))
    elseif type(allowed) == "string" and allowed ~= typ then
      add(self, ("%s.%s: only for %s nodes (this one is %s)"):format(path, k, allowed, tostring(typ)))
    elseif NODE_SCHEMA.properties[k] and k ~= "inputs" then
      check_schema(NODE_SCHEMA.properties[k], v, path .. "." .. k, self._problems)
    elseif (k == "inputs" or k == "depends_on" or k == "extra") and type(v) ~= "table" then
      add(self, ("%s.%s: must be a table (got %s)"):format(path, k, show(v)))
    end
  end
  if typ == "custom-model" and type(opts.modelId) ~= "string" then
    add(self, path .. ".modelId: required for a custom-model node (a string)")
  end
  if typ == "workflow" and type(opts.workflowId) ~= "string" then
    add(self, path .. ".workflowId: required for a workflow node (a string)")
  end
  if opts.logic ~= nil and typ ~= "logic" and typ ~= "transform" then
    add(self, ("%s.logic: only for logic and transform nodes (this one is %s)"):format(path, tostring(typ)))
  end
  if typ == "logic" and opts.logicType == nil then
    add(self, path .. ".logicType: required for a logic node (\"if-else\")")
  end
  node.modelId, node.workflowId, node.logicType = opts.modelId, opts.workflowId, opts.logicType
  node.logic = type(opts.logic) == "table" and with_arrays(NODE_SCHEMA.properties.logic, opts.logic) or opts.logic
  if typ == "logic" and opts.logicType == "if-else" then
    local logic = type(node.logic) == "table" and node.logic or {}
    if not is_list(logic.cases) or #logic.cases == 0 then
      add(self, path .. ".logic.cases: an if-else node needs at least one { condition, value } case")
    end
  end
  if typ == "transform" and (type(node.logic) ~= "table" or type(node.logic.transform) ~= "string") then
    add(self, path .. ".logic.transform: required for a transform node (a string)")
  end
  if type(opts.status) == "string" then node.status = opts.status end
  node.extra = type(opts.extra) == "table" and opts.extra or nil
  if type(opts.inputs) == "table" then
    if is_list(opts.inputs) then
      for i, e in ipairs(opts.inputs) do
        if type(e) ~= "table" or type(e.name) ~= "string" then
          add(self, ("%s.inputs[%d]: a listed input must be a table with a name (got %s)"):format(path, i, show(e)))
        else
          local v = {}
          for k, x in pairs(e) do
            if k ~= "name" then v[k] = x end
          end
          if v.ref == nil and v.value == nil then
            add(self, ("%s.inputs.%s: a listed input needs ref or value"):format(path, e.name))
          end
          node:input(e.name, v)
        end
      end
    else
      for _, k in ipairs(sorted_keys(opts.inputs)) do node:input(k, opts.inputs[k]) end
    end
  end
  if type(opts.depends_on) == "table" then
    for _, d in ipairs(opts.depends_on) do node.deps[#node.deps + 1] = d end
  end
  self._nodes[#self._nodes + 1] = node
  if type(id) == "string" then self._node_by[id] = node end
  return node
end

--- Helpers for each node type.
function Workflow:custom_model(id, model_id, opts)
  local o = plus(opts or {}, { modelId = model_id })
  return self:node(id, "custom-model", o)
end

function Workflow:remove_background(id, opts) return self:node(id, "remove-background", opts) end
function Workflow:generate_prompt(id, opts) return self:node(id, "generate-prompt", opts) end
function Workflow:approval(id, opts) return self:node(id, "user-approval", opts) end

function Workflow:subworkflow(id, workflow_id, opts)
  return self:node(id, "workflow", plus(opts or {}, { workflowId = workflow_id }))
end

--- wf:transform(id, { transform = "<expression>", inputs = ..., depends_on = ... })
function Workflow:transform(id, opts)
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do
    if k ~= "transform" then o[k] = v end
  end
  o.logic = plus(type(opts.logic) == "table" and opts.logic or {}, { transform = opts.transform })
  return self:node(id, "transform", o)
end

--- wf:if_else(id, { cases = { { condition = ..., value = ... }, ... }, default = ...,
-- inputs = ..., depends_on = ... }): a logic node with logicType "if-else".
-- Reference a branch with node:branch(value), or gate a reference with ref:when(node).
function Workflow:if_else(id, opts)
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do
    if k ~= "cases" and k ~= "default" then o[k] = v end
  end
  o.logicType = "if-else"
  o.logic = { cases = opts.cases, default = opts.default }
  return self:node(id, "logic", o)
end

--- The node with this id, or the input with this name.
function Workflow:get_node(id) return self._node_by[id] end
function Workflow:get_input(name) return self._input_by[name] end

-- Compilation -------------------------------------------------------------------

-- node or id -> id (nil when neither)
local function id_of(v)
  if getmetatable(v) == Node then return v.id end
  if type(v) == "string" then return v end
  return nil
end

-- The type a node's output has, when the producing node tells it.
local ASSET_NODES = { ["custom-model"] = true, ["remove-background"] = true, workflow = true,
  ["user-approval"] = true }
local function output_type(src, name)
  if not src then return nil end
  if ASSET_NODES[src.type] then return name == "all" and "file_array" or "file" end
  if src.type == "generate-prompt" then return name == "all" and "string_array" or "string" end
  return nil
end

local function infer_constant_type(v)
  local t = type(v)
  if t == "string" or t == "boolean" or t == "number" then return t end
  if is_list(v) and next(v) ~= nil then
    local first = type(v[1])
    if first == "string" then return "string_array" end
    if first == "number" then return "number_array" end
    if first == "table" then return "inputs_array" end
  end
  return nil
end

local function model_input_defs(model)
  local defs = {}
  if type(model) == "table" and type(model.inputs) == "table" then
    for _, d in ipairs(model.inputs) do
      if type(d) == "table" and type(d.name) == "string" then defs[d.name] = d end
    end
    return defs
  end
  return nil
end

-- Compiles one node input entry. Returns the input object and the ids it
-- depends on; adds problems.
local function compile_node_input(self, node, entry, model_defs, problems)
  local path = ("flow.%s.inputs.%s"):format(tostring(node.id), entry.name)
  local function bad(msg) problems[#problems + 1] = path .. ": " .. msg end
  local v = entry.value
  local out = { name = entry.name }
  local ref, value, typ
  local props = {}
  local mt = getmetatable(v)
  if mt == Input or mt == Ref or mt == Node then
    ref = v
  elseif type(v) == "table" and (entry.loaded or not is_list(v) and (v.ref ~= nil or v.value ~= nil)) then
    ref, value, typ = v.ref, v.value, v.type
    for k, x in pairs(v) do
      if k ~= "ref" and k ~= "value" and k ~= "type" then props[k] = x end
    end
  else
    value = v
  end
  if typ ~= nil and not INPUT_TYPE_SET[typ] then
    bad(("type must be one of %s (got %s)"):format(table.concat(M.INPUT_TYPES, ", "), show(typ)))
    typ = nil
  end
  -- extra properties of a node input: the document's input properties, or
  -- kept as is (extra, or fields of a loaded node)
  for _, k in ipairs(sorted_keys(props)) do
    local x = props[k]
    if k == "extra" then
      if type(x) == "table" then
        for ek, ev in pairs(x) do out[ek] = deep_copy(ev) end
      end
    elseif NODE_INPUT_SCHEMA.properties[k] then
      check_schema(NODE_INPUT_SCHEMA.properties[k], x, path .. "." .. k, problems)
      out[k] = with_arrays(NODE_INPUT_SCHEMA.properties[k], x)
    elseif entry.loaded then
      out[k] = deep_copy(x)
    else
      bad(("unknown field %s (use ref, value, type, extra or a property of an input)"):format(tostring(k)))
    end
  end

  local deps = {}
  local ref_type
  if ref ~= nil then
    local r = {}
    local rmt = getmetatable(ref)
    if rmt == Input then
      if ref.wf ~= self then bad("references an input of another workflow") end
      r.node, r.name = "workflow", ref.name
    elseif rmt == Node then
      if ref.wf ~= self then bad("references a node of another workflow") end
      r.node = ref.id
    elseif type(ref) == "table" then
      if rmt == Ref and ref.type then typ = typ or ref.type end
      for k, x in pairs(ref) do
        if k == "node" then
          if getmetatable(x) == Node and x.wf ~= self then bad("references a node of another workflow") end
          r.node = id_of(x) or x
        elseif k == "conditional" then
          if not is_list(x) then
            bad("ref.conditional must be a list of nodes (got " .. show(x) .. ")")
          else
            r.conditional = json.array {}
            for i, c in ipairs(x) do r.conditional[i] = id_of(c) or c end
          end
        elseif k ~= "type" or rmt ~= Ref then
          r[k] = deep_copy(x)
        end
      end
      if type(r.node) == "string" and r.node == "workflow" and getmetatable(r.name) == Input then
        r.name = r.name.name
      end
    else
      bad("ref must be a workflow input, a node, node:output(name) or a ref table (got " .. show(ref) .. ")")
    end
    if r.node == nil and r.conditional == nil then
      bad("ref needs node or conditional")
    end
    if r.node ~= nil and type(r.node) ~= "string" then
      bad("ref.node must be a node id (got " .. show(r.node) .. ")")
    end
    if r.node == "workflow" then
      local input = self._input_by[r.name]
      if type(r.name) ~= "string" then
        bad("a reference to a workflow input needs its name")
      elseif not input then
        bad(("references unknown workflow input %s"):format(r.name))
      else
        ref_type = input.type
      end
    elseif type(r.node) == "string" then
      local src = self._node_by[r.node]
      if not src then
        bad(("references unknown node %s"):format(r.node))
      else
        ref_type = output_type(src, r.name)
      end
      deps[#deps + 1] = r.node
    end
    for _, c in ipairs(r.conditional or {}) do
      if type(c) ~= "string" then
        bad("ref.conditional holds something that is not a node (" .. show(c) .. ")")
      elseif not self._node_by[c] then
        bad(("ref.conditional references unknown node %s"):format(c))
      else
        deps[#deps + 1] = c
      end
    end
    out.ref = r
  end

  local mdef = model_defs and model_defs[entry.name]
  if model_defs and not mdef then
    bad(("model %s has no input %s"):format(tostring(node.modelId), entry.name))
  end
  typ = typ or (mdef and mdef.type) or ref_type or (value ~= nil and infer_constant_type(value))
  if not typ then
    bad("cannot infer the node input type: give { ref = ..., type = ... } or { value = ..., type = ... }")
  end
  out.type = typ
  if mdef and ref_type and mdef.type and ref_type ~= mdef.type and not entry.loaded then
    bad(("model %s takes a %s here, the reference gives a %s"):format(tostring(node.modelId), mdef.type, ref_type))
  end
  if value ~= nil then
    if type(value) == "table" and typ and (ITEM[typ] or is_list(value)) then
      local copy = deep_copy(value)
      value = is_list(copy) and json.array(copy) or copy
    end
    out.value = value
    if mdef then check_value(mdef, value, path, problems) end
  end
  return out, deps
end

-- Finds the cycles of the dependency graph; returns "a -> b -> a" strings.
local function find_cycles(ids, deps_of)
  local state, stack, cycles, seen_cycle = {}, {}, {}, {}
  local function visit(id)
    state[id] = "active"
    stack[#stack + 1] = id
    for _, d in ipairs(deps_of[id] or {}) do
      if state[d] == "active" then
        local from
        for i = #stack, 1, -1 do
          if stack[i] == d then from = i break end
        end
        -- the cycle in the direction of the data: a feeds b feeds ... a
        local loop = {}
        for i = #stack, from, -1 do loop[#loop + 1] = stack[i] end
        -- start the cycle at its smallest id, so that it is named once
        local min_i = 1
        for i = 2, #loop do
          if loop[i] < loop[min_i] then min_i = i end
        end
        local names = {}
        for i = 0, #loop - 1 do names[#names + 1] = loop[(min_i - 1 + i) % #loop + 1] end
        names[#names + 1] = names[1]
        local text = table.concat(names, " -> ")
        if not seen_cycle[text] then
          seen_cycle[text] = true
          cycles[#cycles + 1] = text
        end
      elseif state[d] == nil and deps_of[d] then
        visit(d)
      end
    end
    stack[#stack] = nil
    state[id] = "done"
  end
  for _, id in ipairs(ids) do
    if state[id] == nil then visit(id) end
  end
  return cycles
end

-- The compiled input definitions (and problems found in them).
function Workflow:_compile_inputs(problems)
  local out = json.array {}
  for _, input in ipairs(self._inputs) do
    local def = deep_copy(input.def)
    for k, v in pairs(input.extra or {}) do def[k] = deep_copy(v) end
    def.name, def.type = input.name, input.type
    local r = def.required
    if type(r) == "table" then
      for _, key in ipairs { "ifDefined", "ifNotDefined", "conditionalValues" } do
        for other in pairs(type(r[key]) == "table" and r[key] or {}) do
          if not self._input_by[other] then
            problems[#problems + 1] = ("inputs.%s.required.%s: names unknown input %s")
              :format(input.name, key, tostring(other))
          end
        end
      end
    end
    if def.maskFrom ~= nil and type(def.maskFrom) == "string" then
      local src = self._input_by[def.maskFrom]
      if not src or not FILES[src.type] then
        problems[#problems + 1] = ("inputs.%s.maskFrom: %s is not a file input of the workflow")
          :format(input.name, def.maskFrom)
      end
    end
    out[#out + 1] = def
  end
  return out
end

--- The workflow's input definitions as they are sent (for run checks).
function Workflow:input_definitions()
  return self:_compile_inputs({})
end

-- Fetches the models of custom-model nodes that opts.models does not hold.
local function gather_models(self, opts, problems)
  local models = {}
  for k, v in pairs(type(opts.models) == "table" and opts.models or {}) do models[k] = v end
  if not opts.client then return models end
  local fetched = {}
  for _, node in ipairs(self._nodes) do
    local mid = node.modelId
    if node.type == "custom-model" and type(mid) == "string" and models[mid] == nil and not fetched[mid] then
      fetched[mid] = true
      local body, err = opts.client.models:get(mid)
      if body then
        models[mid] = body.model or body
      elseif err.kind == "not_found" or err.kind == "forbidden" then
        problems[#problems + 1] = ("flow.%s.modelId: model %s %s"):format(node.id, mid,
          err.kind == "not_found" and "not found" or "is not accessible")
      else
        return nil, err
      end
    end
  end
  return models
end

--- wf:compile(opts) --> body of PUT /workflows/{id} | nil, err
-- opts.models: modelId -> model record (with inputs[]) for the custom-model
-- checks; opts.client: fetch the models not given there (GET /models/{id},
-- once each).
function Workflow:compile(opts)
  opts = opts or {}
  local problems = {}
  for _, p in ipairs(self._problems) do problems[#problems + 1] = p end
  local models, err = gather_models(self, opts, problems)
  if not models then return nil, err end

  if type(self.name) ~= "string" or self.name == "" then
    problems[#problems + 1] = "name: required (a non-empty string)"
  end
  if #self._nodes > M.MAX_NODES then
    problems[#problems + 1] = ("flow: a workflow has at most %d nodes (got %d)"):format(M.MAX_NODES, #self._nodes)
  end

  local body = {
    name = self.name,
    description = self.description or "",
    privacy = self.privacy or "private",
    status = self.status or "draft",
    tagSet = json.array(deep_copy(self.tags or {})),
    editorInfo = deep_copy(self.editorInfo or {}),
    inputs = self:_compile_inputs(problems),
  }
  if self.outputAssetKinds ~= nil then body.outputAssetKinds = json.array(deep_copy(self.outputAssetKinds)) end
  for _, k in ipairs { "thumbnail", "before", "after" } do
    if self[k] ~= nil then body[k] = self[k] end
  end
  for k, v in pairs(self.extra or {}) do
    if body[k] == nil then body[k] = deep_copy(v) end
  end

  local flow = json.array {}
  local deps_of, ids = {}, {}
  for _, node in ipairs(self._nodes) do
    local path = "flow." .. tostring(node.id)
    local n = {}
    for k, v in pairs(node.extra or {}) do n[k] = deep_copy(v) end
    n.id, n.type, n.status = node.id, node.type, node.status
    n.modelId, n.workflowId, n.logicType = node.modelId, node.workflowId, node.logicType
    if node.logic ~= nil then n.logic = deep_copy(node.logic) end
    local model_defs
    if node.type == "custom-model" and node.modelId then
      model_defs = model_input_defs(models[node.modelId])
    end
    local derived = {}
    local inputs = json.array {}
    local given = {}
    for _, entry in ipairs(node.inputs) do
      local compiled, deps = compile_node_input(self, node, entry, model_defs, problems)
      inputs[#inputs + 1] = compiled
      given[entry.name] = compiled.value ~= nil and compiled.value or compiled.ref or true
      for _, d in ipairs(deps) do derived[d] = true end
    end
    if model_defs then
      for _, name in ipairs(sorted_keys(model_defs)) do
        local def = model_defs[name]
        if given[name] == nil then
          local why = required_reason(def, given)
          if why then
            problems[#problems + 1] = ("%s.inputs.%s: %s by model %s (%s)"):format(path, name,
              why == "required" and "required" or why, node.modelId, tostring(def.type))
          end
        end
      end
    end
    if not node.no_inputs_key or #inputs > 0 then n.inputs = inputs end
    for _, d in ipairs(node.deps) do
      local id = id_of(d)
      if getmetatable(d) == Node and d.wf ~= self then
        problems[#problems + 1] = path .. ".depends_on: a node of another workflow (" .. tostring(d.id) .. ")"
      elseif not id then
        problems[#problems + 1] = path .. ".depends_on: must hold nodes or node ids (got " .. show(d) .. ")"
      elseif not self._node_by[id] then
        problems[#problems + 1] = path .. ".depends_on: unknown node " .. id
      else
        derived[id] = true
      end
    end
    local list = json.array {}
    local listed = {}
    for _, d in ipairs(node.loaded_deps or {}) do
      list[#list + 1], listed[d] = d, true
    end
    local extra_deps = {}
    for d in pairs(derived) do
      if not listed[d] then extra_deps[#extra_deps + 1] = d end
    end
    table.sort(extra_deps)
    for _, d in ipairs(extra_deps) do list[#list + 1] = d end
    if #list > 0 or node.loaded_deps then n.dependsOn = list end
    if type(node.id) == "string" then
      ids[#ids + 1] = node.id
      deps_of[node.id] = list
    end
    flow[#flow + 1] = n
  end
  body.flow = flow

  for _, c in ipairs(find_cycles(ids, deps_of)) do
    problems[#problems + 1] = "flow: cycle: " .. c
  end

  if #problems > 0 then
    return nil, errors.new { kind = "validation", operation = OP.id, problems = problems,
      message = table.concat(problems, "; ") }
  end
  return body
end

-- Loading ------------------------------------------------------------------------

-- Reads a JSON text as lua-cjson does, but keeps empty arrays as JSON arrays
-- (json.array {}) instead of empty tables that would encode as {}: free-form
-- fields such as editorInfo then come back exactly.
local EMPTY = "\0scenario-empty-array"
local EMPTY_JSON = '{"\\u0000scenario-empty-array":true}'

local function restore_arrays(v)
  if type(v) ~= "table" then return v end
  if v[EMPTY] == true and next(v, next(v)) == nil and next(v) == EMPTY then return json.array {} end
  for k, x in pairs(v) do v[k] = restore_arrays(x) end
  return v
end

function M.decode(text)
  local parts, last, pos = {}, 1, 1
  while true do
    local s = text:find('["%[]', pos)
    if not s then break end
    if text:sub(s, s) == '"' then
      local j = s + 1
      while true do
        local q = text:find('["\\]', j)
        if not q then return json.decode(text) end -- malformed: let the decoder say why
        if text:sub(q, q) == "\\" then j = q + 2 else j = q + 1 break end
      end
      pos = j
    else
      local e = text:match("^%[%s*%]()", s)
      if e then
        parts[#parts + 1] = text:sub(last, s - 1)
        parts[#parts + 1] = EMPTY_JSON
        last, pos = e, e
      else
        pos = s + 1
      end
    end
  end
  parts[#parts + 1] = text:sub(last)
  local v, err = json.decode(table.concat(parts))
  if v == nil then return nil, err end
  return restore_arrays(v)
end

local NODE_MODELED = { id = true, type = true, status = true, modelId = true, workflowId = true,
  logicType = true, logic = true, dependsOn = true, inputs = true }

--- workflow.from_api(definition) --> builder
-- definition: a workflow record (GET /workflows/{id} `body.workflow`, or the
-- whole body). Fields of the PUT body the builder does not model
-- (editorInfo, unknown node or input fields) are kept as they are; the
-- record's read-only fields (id aside: wf.id) are dropped.
function M.from_api(definition)
  local rec = type(definition) == "table" and type(definition.workflow) == "table" and definition.workflow
    or definition
  if type(rec) ~= "table" then
    local wf = M.new {}
    add(wf, ("workflow: from_api takes a workflow record (got %s)"):format(show(rec)))
    return wf
  end
  local function asset_id(v)
    if type(v) == "table" then return v.assetId end
    return v
  end
  local wf = M.new {}
  wf.id, wf.name, wf.description = rec.id, rec.name, rec.description
  wf.privacy, wf.status = rec.privacy, rec.status
  wf.tags = rec.tagSet and with_arrays(BODY.properties.tagSet, rec.tagSet)
  wf.editorInfo = deep_copy(rec.editorInfo)
  if rec.outputAssetKinds ~= nil then
    wf.outputAssetKinds = with_arrays(BODY.properties.outputAssetKinds, rec.outputAssetKinds)
  end
  wf.thumbnail, wf.before, wf.after = asset_id(rec.thumbnail), asset_id(rec.before), asset_id(rec.after)

  for _, def in ipairs(type(rec.inputs) == "table" and rec.inputs or {}) do
    local opts, extra = {}, {}
    for k, v in pairs(def) do
      if k ~= "name" and k ~= "type" then
        if INPUT_SCHEMA.properties[k] then opts[k] = v else extra[k] = deep_copy(v) end
      end
    end
    if next(extra) then opts.extra = extra end
    wf:input(def.name, def.type, opts, true)
  end

  for _, rn in ipairs(type(rec.flow) == "table" and rec.flow or {}) do
    local extra = {}
    for k, v in pairs(rn) do
      if not NODE_MODELED[k] then
        extra[k] = NODE_SCHEMA.properties[k] and with_arrays(NODE_SCHEMA.properties[k], v) or deep_copy(v)
      end
    end
    local node = wf:node(rn.id, rn.type, { modelId = rn.modelId, workflowId = rn.workflowId,
      logicType = rn.logicType, logic = rn.logic, status = rn.status,
      extra = next(extra) and extra or nil })
    node.loaded_deps = rn.dependsOn and with_arrays(NODE_SCHEMA.properties.dependsOn, rn.dependsOn) or nil
    node.no_inputs_key = rn.inputs == nil
    for _, ri in ipairs(type(rn.inputs) == "table" and rn.inputs or {}) do
      local v = {}
      for k, x in pairs(ri) do
        if k ~= "name" then v[k] = x end
      end
      if type(ri.ref) == "table" then
        v.ref = with_arrays(NODE_INPUT_SCHEMA.properties.ref, ri.ref)
      end
      node.inputs[#node.inputs + 1] = { name = ri.name, value = v, loaded = true }
    end
  end
  return wf
end

return M
