--- Hand-written workflow methods, added to the generated `client.workflows`:
-- deploy a scenario.workflow builder, load a deployed workflow back into
-- one, and run with the run inputs checked against the workflow's inputs.
local base = require "scenario.resources.base"
local workflow = require "scenario.workflow"
local errors = require "scenario.errors"
local job = require "scenario.job"
local check = require "scenario.check"

local Workflows = base.class("workflows")

-- the generated PUT /workflows/{workflowId}/run, wrapped below
local generated_run = Workflows.run

-- request options the generated methods take (deploy passes them on)
local REQUEST_OPTIONS = { timeout = true, max_retries = true, headers = true }

local function remember(client, id, inputs)
  client._workflow_inputs = client._workflow_inputs or {}
  client._workflow_inputs[id] = inputs
end

--- client.workflows:deploy(wf, opts) --> the workflow record | nil, err
-- Compiles wf with the client (so the inputs of custom models are checked
-- against GET /models/{id}), creates the workflow (POST /workflows) when
-- wf.id is nil, then sends the definition (PUT /workflows/{id}) and sets
-- wf.id. opts: models (modelId -> model record, not fetched again), timeout,
-- max_retries, headers. Nothing is sent when the compilation fails.
function Workflows:deploy(wf, opts)
  local aerr = check.self("client.workflows:deploy", self, Workflows)
    or check.op_args("client.workflows:deploy", "PutWorkflowsByWorkflowId", "options", opts, "table?")
  if aerr then return nil, aerr end
  opts = opts or {}
  if not workflow.is_builder(wf) then
    return nil, errors.new { kind = "validation", operation = "PutWorkflowsByWorkflowId",
      problems = { "wf: must be a scenario.workflow builder" },
      message = "wf: must be a scenario.workflow builder (workflow.new or workflow.from_api)" }
  end
  local request_opts, problems = {}, {}
  for k, v in pairs(opts) do
    if REQUEST_OPTIONS[k] then request_opts[k] = v
    elseif k ~= "models" then problems[#problems + 1] = "opts." .. tostring(k) .. ": unknown option" end
  end
  if #problems > 0 then
    return nil, errors.new { kind = "validation", operation = "PutWorkflowsByWorkflowId",
      problems = problems, message = table.concat(problems, "; ") }
  end
  local body, err = wf:compile { client = self.client, models = opts.models }
  if not body then return nil, err end
  if not wf.id then
    local created, cerr = self:create({ name = body.name, description = body.description }, request_opts)
    if not created then return nil, cerr end
    wf.id = created.id
  end
  -- the builder has checked the body against the document already; node
  -- inputs carry their constants in `value`, which the document does not
  -- list, so a strict client must not refuse them here
  request_opts.strict = false
  local updated, uerr = self:update(wf.id, body, request_opts)
  if not updated then return nil, uerr end
  wf.deployed = body
  remember(self.client, wf.id, body.inputs)
  return updated
end

--- client.workflows:load(id) --> builder | nil, err
-- GET /workflows/{id} read into a scenario.workflow builder (from_api),
-- keeping empty arrays of free-form fields (editorInfo) as arrays.
function Workflows:load(id, opts)
  local aerr = check.self("client.workflows:load", self, Workflows)
    or check.op_args("client.workflows:load", "GetWorkflowsByWorkflowId", "id", id, "id", "options", opts, "table?")
  if aerr then return nil, aerr end
  local record, err = self:get(id, {}, opts)
  if not record then return nil, err end
  local wf = workflow.from_api(record)   -- json.decode kept its empty arrays
  remember(self.client, wf.id or id, wf:input_definitions())
  return wf
end

--- client.workflows:run(id_or_wf, inputs, options) --> Job | nil, err
-- inputs: the workflow's inputs keyed by name. When the workflow's input
-- definitions are known (a builder, or a workflow deployed or loaded by this
-- client) they are checked first: required rules, types, min/max, lengths,
-- allowed values, unknown names; nothing is sent when one is wrong.
-- options: timeout, max_retries, headers, dry_run (answers the cost table).
function Workflows:run(target, inputs, options)
  local aerr = check.self("client.workflows:run", self, Workflows)
    or check.op_args("client.workflows:run", "PutWorkflowRunByWorkflowId", "id_or_wf", target, "id|table",
      "inputs", inputs, "table?", "options", options, "table?")
  if aerr then return nil, aerr end
  if type(target) == "table" and not workflow.is_builder(target) then
    -- the generated form: run{ workflowId = ..., <inputs> }, options
    return generated_run(self, target, inputs)
  end
  local id, defs = target, nil
  if workflow.is_builder(target) then
    id = target.id
    if not id then
      return nil, errors.new { kind = "validation", operation = "PutWorkflowRunByWorkflowId",
        problems = { "workflowId: the workflow is not deployed (no id): deploy it first" },
        message = "workflowId: the workflow is not deployed (no id): deploy it first" }
    end
    defs = target:input_definitions()
  elseif type(id) == "string" then
    defs = self.client._workflow_inputs and self.client._workflow_inputs[id]
  end
  inputs = inputs or {}
  if defs then
    local problems = workflow.check_run_inputs(defs, inputs)
    if #problems > 0 then
      return nil, errors.new { kind = "validation", operation = "PutWorkflowRunByWorkflowId",
        problems = problems, message = table.concat(problems, "; ") }
    end
    inputs = workflow.prepare_run_inputs(defs, inputs)
  end
  if type(inputs) ~= "table" then
    return nil, errors.new { kind = "validation", operation = "PutWorkflowRunByWorkflowId",
      problems = { "inputs: must be a table" }, message = "inputs: must be a table (got " .. type(inputs) .. ")" }
  end
  -- the inputs go in an explicit body: an input named like a query
  -- parameter (dryRun) or a path parameter stays in the body
  local j, answer, res = generated_run(self, id, { body = inputs }, options)
  if j and type(j) == "table" and getmetatable(j) == job.Job then
    j.workflow_id = id
  end
  return j, answer, res
end

return Workflows
