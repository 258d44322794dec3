--- The workflow builder: workflow.new, wf:input, wf:node and the node
-- helpers, references (node:output, node:branch, ref:when, ref:as,
-- workflow.ref). Building records what was asked and every problem found
-- (wf._problems); workflow/compiler.lua turns a builder into the body of
-- PUT /workflows/{workflowId}.
local compat = require "scenario.compat"
local schema = require "scenario.workflow.schema"

local M = {}

local BODY, INPUT_SCHEMA, NODE_SCHEMA = schema.BODY, schema.INPUT_SCHEMA, schema.NODE_SCHEMA
local INPUT_TYPE_SET, NODE_TYPE_SET = schema.INPUT_TYPE_SET, schema.NODE_TYPE_SET
local SCALAR, ITEM, ARTICLE = schema.SCALAR, schema.ITEM, schema.ARTICLE
local ONLY_FOR, REQUIRED_KEYS = schema.ONLY_FOR, schema.REQUIRED_KEYS
local show, sorted_keys, is_list, plus = schema.show, schema.sorted_keys, schema.is_list, schema.plus
local with_arrays, check_schema, num = schema.with_arrays, schema.check_schema, schema.num

-- References ----------------------------------------------------------------

local Ref = {}
Ref.__index = Ref
Ref.__name = "scenario.workflow.Ref"
M.Ref = Ref

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
M.Input = Input

function Input:__tostring()
  return ("scenario.workflow input %s (%s)"):format(tostring(self.name), tostring(self.type))
end

-- Nodes -----------------------------------------------------------------------

local Node = {}
Node.__index = Node
Node.__name = "scenario.workflow.Node"
M.Node = Node

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

--- Records a problem of the builder (reported by wf:compile).
local function add(self, msg)
  self._problems[#self._problems + 1] = msg
end
M.add = add

-- wf:input ---------------------------------------------------------------------

local input_fields

-- Checks the `required` option of an input definition, given as a table of
-- rules (always, ifDefined, ifNotDefined, conditionalValues).
local function check_required_rules(self, path, v)
  if type(v) ~= "table" or is_list(v) and next(v) ~= nil then
    add(self, ("%s.required: must be true, false or a table of rules (got %s)"):format(path, show(v)))
    return
  end
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

-- Checks option k = v of an input definition of type typ and keeps it in def.
local function input_option(self, def, path, typ, k, v, loaded)
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
      check_required_rules(self, path, v)
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

-- Checks the options of a definition against each other and its type:
-- min <= max, minLength <= maxLength, allowed values of the input's type.
local function check_input_bounds(self, def, path, typ, loaded)
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
end

-- The definitions of the items of an inputs_array input (def.inputs),
-- checked like the workflow's own.
local function input_subdefs(self, def, path, loaded)
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
        add(self, ("%s.type: must be one of %s (got %s)"):format(where, table.concat(schema.INPUT_TYPES, ", "),
          show(sub.type)))
      end
      local subdef = input_fields(self, where, sub.type, subopts, loaded)
      subdef.name, subdef.type = sub.name, sub.type
      def.inputs[i] = subdef
    end
  end
end

-- Checks the options of an input definition; returns the definition fields.
input_fields = function(self, path, typ, opts, loaded)
  local def = {}
  for _, k in ipairs(sorted_keys(opts)) do input_option(self, def, path, typ, k, opts[k], loaded) end
  check_input_bounds(self, def, path, typ, loaded)
  if typ == "inputs_array" and is_list(def.inputs) and not loaded then input_subdefs(self, def, path, loaded) end
  return def
end

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
    add(self, ("%s.type: must be one of %s (got %s)"):format(path, table.concat(schema.INPUT_TYPES, ", "), show(typ)))
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


-- wf:node ----------------------------------------------------------------------

local NODE_OPTIONS = { inputs = true, depends_on = true, modelId = "custom-model",
  workflowId = "workflow", logicType = "logic", logic = true, extra = true, status = true }

-- Checks the options of a node of type typ: known, for this type, of the
-- document's types; and those its type requires.
local function check_node_options(self, path, typ, opts)
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
end

-- The logic of a logic or transform node: if-else cases, a transform.
local function node_logic(self, node, path, typ, opts)
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
end

-- The inputs option of a node: { name = value, ... } (sorted by name) or a
-- list of { name = ..., ref or value, ... } entries.
local function node_inputs(self, node, path, inputs)
  if not is_list(inputs) then
    for _, k in ipairs(sorted_keys(inputs)) do node:input(k, inputs[k]) end
    return
  end
  for i, e in ipairs(inputs) do
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
end

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
    add(self, ("%s.type: must be one of %s (got %s)"):format(path, table.concat(schema.NODE_TYPES, ", "), show(typ)))
  end
  if type(opts) ~= "table" then
    add(self, ("%s: options must be a table (got %s)"):format(path, show(opts)))
    opts = {}
  end
  check_node_options(self, path, typ, opts)
  node.modelId, node.workflowId, node.logicType = opts.modelId, opts.workflowId, opts.logicType
  node_logic(self, node, path, typ, opts)
  if type(opts.status) == "string" then node.status = opts.status end
  node.extra = type(opts.extra) == "table" and opts.extra or nil
  if type(opts.inputs) == "table" then node_inputs(self, node, path, opts.inputs) end
  if type(opts.depends_on) == "table" then
    for _, d in ipairs(opts.depends_on) do node.deps[#node.deps + 1] = d end
  end
  self._nodes[#self._nodes + 1] = node
  if type(id) == "string" then self._node_by[id] = node end
  return node
end

-- Helpers for each node type -----------------------------------------------------

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

return M
