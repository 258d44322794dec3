--- Loading workflows: workflow.decode (JSON with empty arrays kept) and
-- workflow.from_api (a workflow record read back into a builder).
local json = require "scenario.json"
local builder = require "scenario.workflow.builder"
local schema = require "scenario.workflow.schema"

local M = {}

local BODY, INPUT_SCHEMA, NODE_SCHEMA = schema.BODY, schema.INPUT_SCHEMA, schema.NODE_SCHEMA
local NODE_INPUT_SCHEMA = schema.NODE_INPUT_SCHEMA
local show, deep_copy, with_arrays = schema.show, schema.deep_copy, schema.with_arrays
local add = builder.add

--- workflow.decode(text): a JSON text as scenario.json decodes it, empty
-- arrays kept as JSON arrays (json.array {}) rather than empty tables that
-- would encode as {}: free-form fields such as editorInfo then come back
-- exactly. Every decoded answer does the same now (json.lua); the name stays.
M.decode = json.decode

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
    local wf = builder.new {}
    add(wf, ("workflow: from_api takes a workflow record (got %s)"):format(show(rec)))
    return wf
  end
  local function asset_id(v)
    if type(v) == "table" then return v.assetId end
    return v
  end
  local wf = builder.new {}
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
