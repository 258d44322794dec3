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
--
-- The rooms: workflow/schema.lua (what the API document says, value checks),
-- workflow/builder.lua (new, input, node, references), workflow/compiler.lua
-- (compile), workflow/load.lua (decode, from_api). This module is the
-- public face: it gives the builder its compile methods and re-exports the
-- rest.
local builder = require "scenario.workflow.builder"
local compiler = require "scenario.workflow.compiler"
local load = require "scenario.workflow.load"
local schema = require "scenario.workflow.schema"
local check = require "scenario.check"

local M = {}

M.INPUT_TYPES = schema.INPUT_TYPES
M.NODE_TYPES = schema.NODE_TYPES
M.MAX_NODES = schema.MAX_NODES

M.Workflow = builder.Workflow
M.new = builder.new
M.is_builder = builder.is_builder

--- workflow.ref { node = ..., name = ..., equal = ..., conditional = ..., type = ... }
-- Raises a validation error when the fields are not a table.
function M.ref(fields)
  check.raise(check.args("workflow.ref", "fields", fields, "table"))
  return builder.ref(fields)
end

M.with_arrays = schema.with_arrays
M.check_value = schema.check_value
M.check_run_inputs = schema.check_run_inputs
M.prepare_run_inputs = schema.prepare_run_inputs

--- workflow.decode(text) --> value | nil, err (JSON with empty arrays kept)
function M.decode(text)
  local err = check.args("workflow.decode", "text", text, "string")
  if err then return nil, err end
  return load.decode(text)
end
M.from_api = load.from_api

local Workflow = builder.Workflow

--- wf:compile(opts) --> body of PUT /workflows/{id} | nil, err
-- opts.models: modelId -> model record (with inputs[]) for the custom-model
-- checks; opts.client: fetch the models not given there (GET /models/{id},
-- once each).
function Workflow:compile(opts)
  local err = check.op_args("wf:compile", schema.OP.id, "options", opts,
    { client = "table?", models = "table?" })
  if err then return nil, err end
  return compiler.compile(self, opts)
end

--- The workflow's input definitions as they are sent (for run checks).
function Workflow:input_definitions()
  return compiler.compile_inputs(self, {})
end

-- A method of the builder called with '.' (wf.input("prompt", ...)) would
-- index a string or nil deep inside: every method of the builder's objects
-- (workflow, node, reference) checks its self first and raises a validation
-- error naming the call, as misuse of the pipeline builder raises. What is
-- built wrong (bad names, types, options) is collected instead and returned
-- by wf:compile.
check.guard_methods(Workflow, "wf")
check.guard_methods(builder.Node, "node")
check.guard_methods(builder.Ref, "ref")

return M
