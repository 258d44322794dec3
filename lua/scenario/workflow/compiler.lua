--- The workflow compiler: a builder (workflow/builder.lua) to the body of
-- PUT /workflows/{workflowId} (wf:compile), or every problem found at once.
-- Node inputs become { name, type, ref or value }; dependsOn is derived from
-- the references plus depends_on; custom-model nodes are checked against
-- their model's inputs; cycles are named.
local errors = require "scenario.errors"
local json = require "scenario.json"
local builder = require "scenario.workflow.builder"
local schema = require "scenario.workflow.schema"

local M = {}

local Ref, Input, Node = builder.Ref, builder.Input, builder.Node
local INPUT_TYPE_SET, NODE_INPUT_SCHEMA = schema.INPUT_TYPE_SET, schema.NODE_INPUT_SCHEMA
local ITEM, FILES = schema.ITEM, schema.FILES
local show, sorted_keys, is_list = schema.show, schema.sorted_keys, schema.is_list
local deep_copy, with_arrays, check_schema = schema.deep_copy, schema.with_arrays, schema.check_schema

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

-- Node inputs --------------------------------------------------------------------

-- The parts of a node input entry: ref, value, type and its other fields.
local function entry_parts(entry)
  local v = entry.value
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
  return ref, value, typ, props
end

-- The other fields of a node input into out: the document's input
-- properties, or kept as is (extra, or fields of a loaded node).
local function entry_props(out, props, entry, path, problems, bad)
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
end

-- The `ref` of a node input from what was given: a workflow input, a node,
-- a Ref (node:output ...) or a ref table. Returns it and the type a Ref
-- states (ref:as), if any.
local function ref_object(self, ref, bad)
  local r, typ = {}, nil
  local rmt = getmetatable(ref)
  if rmt == Input then
    if ref.wf ~= self then bad("references an input of another workflow") end
    r.node, r.name = "workflow", ref.name
  elseif rmt == Node then
    if ref.wf ~= self then bad("references a node of another workflow") end
    r.node = ref.id
  elseif type(ref) == "table" then
    if rmt == Ref and ref.type then typ = ref.type end
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
  return r, typ
end

-- Checks what ref r points at: returns the type of what it gives (when the
-- source tells it) and the ids of the nodes the input depends on.
local function ref_target(self, r, bad)
  local deps, ref_type = {}, nil
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
  return ref_type, deps
end

-- Compiles one node input entry. Returns the input object and the ids it
-- depends on; adds problems.
local function compile_node_input(self, node, entry, model_defs, problems)
  local path = ("flow.%s.inputs.%s"):format(tostring(node.id), entry.name)
  local function bad(msg) problems[#problems + 1] = path .. ": " .. msg end
  local out = { name = entry.name }
  local ref, value, typ, props = entry_parts(entry)
  if typ ~= nil and not INPUT_TYPE_SET[typ] then
    bad(("type must be one of %s (got %s)"):format(table.concat(schema.INPUT_TYPES, ", "), show(typ)))
    typ = nil
  end
  entry_props(out, props, entry, path, problems, bad)
  local deps, ref_type = {}, nil
  if ref ~= nil then
    local r, stated = ref_object(self, ref, bad)
    typ = typ or stated
    ref_type, deps = ref_target(self, r, bad)
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
    if mdef then schema.check_value(mdef, value, path, problems) end
  end
  return out, deps
end

-- Nodes ------------------------------------------------------------------------------

-- Problems of a custom-model node: the inputs its model requires (given
-- the others) that the node does not give.
local function check_model_required(node, path, model_defs, given, problems)
  for _, name in ipairs(sorted_keys(model_defs)) do
    local def = model_defs[name]
    if given[name] == nil then
      local why = schema.required_reason(def, given)
      if why then
        problems[#problems + 1] = ("%s.inputs.%s: %s by model %s (%s)"):format(path, name,
          why == "required" and "required" or why, node.modelId, tostring(def.type))
      end
    end
  end
end

-- The dependsOn list of a node: the one it had when loaded, in its order,
-- then the derived dependencies (references and depends_on), sorted.
local function depends_on_list(self, node, path, derived, problems)
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
  return list
end

-- A node of the flow as it is sent, and its dependsOn list.
local function compile_node(self, node, models, problems)
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
  local derived, inputs, given = {}, json.array {}, {}
  for _, entry in ipairs(node.inputs) do
    local compiled, deps = compile_node_input(self, node, entry, model_defs, problems)
    inputs[#inputs + 1] = compiled
    given[entry.name] = compiled.value ~= nil and compiled.value or compiled.ref or true
    for _, d in ipairs(deps) do derived[d] = true end
  end
  if model_defs then check_model_required(node, path, model_defs, given, problems) end
  if not node.no_inputs_key or #inputs > 0 then n.inputs = inputs end
  local list = depends_on_list(self, node, path, derived, problems)
  if #list > 0 or node.loaded_deps then n.dependsOn = list end
  return n, list
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

-- The workflow ------------------------------------------------------------------------

--- The compiled input definitions of builder wf (and problems found in them).
function M.compile_inputs(self, problems)
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

-- The fields of the body but the flow.
local function body_fields(self, problems)
  local body = {
    name = self.name,
    description = self.description or "",
    privacy = self.privacy or "private",
    status = self.status or "draft",
    tagSet = json.array(deep_copy(self.tags or {})),
    editorInfo = deep_copy(self.editorInfo or {}),
    inputs = M.compile_inputs(self, problems),
  }
  if self.outputAssetKinds ~= nil then body.outputAssetKinds = json.array(deep_copy(self.outputAssetKinds)) end
  for _, k in ipairs { "thumbnail", "before", "after" } do
    if self[k] ~= nil then body[k] = self[k] end
  end
  for k, v in pairs(self.extra or {}) do
    if body[k] == nil then body[k] = deep_copy(v) end
  end
  return body
end

--- Compiles builder wf (wf:compile): the body of PUT /workflows/{id}, or
-- nil, err (kind "validation" with every problem; or the error of a model
-- fetch that failed otherwise than not found / forbidden).
function M.compile(self, opts)
  opts = opts or {}
  local problems = {}
  for _, p in ipairs(self._problems) do problems[#problems + 1] = p end
  local models, err = gather_models(self, opts, problems)
  if not models then return nil, err end
  if type(self.name) ~= "string" or self.name == "" then
    problems[#problems + 1] = "name: required (a non-empty string)"
  end
  if #self._nodes > schema.MAX_NODES then
    problems[#problems + 1] = ("flow: a workflow has at most %d nodes (got %d)"):format(schema.MAX_NODES,
      #self._nodes)
  end
  local body = body_fields(self, problems)
  local flow, deps_of, ids = json.array {}, {}, {}
  for _, node in ipairs(self._nodes) do
    local n, list = compile_node(self, node, models, problems)
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
    return nil, errors.new { kind = "validation", operation = schema.OP.id, problems = problems,
      message = table.concat(problems, "; ") }
  end
  return body
end

return M
