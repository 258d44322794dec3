--- scenario-lua generate <type> key=value...: starts a generation, and with
-- --wait or --out waits for its job (then downloads the outputs).
local operations = require "scenario.operations"
local format = require "scenario.format"
local args = require "scenario.runner.args"
local fields = require "scenario.runner.fields"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s generate <type> key=value... [--wait] [--out DIR] [--dry-run]
                   [--timeout SECONDS] [--send-unknown] [--json] [--quiet]

Starts a generation and prints its job (--json: {"jobs": [job]}, the job
object of 'jobs get'). <type> is a generate operation
(txt2img, img2img, upscale, remove-background... listed below) or
custom:<modelId>. Fields are typed by the API document: numbers, booleans
(true/false), arrays as a,b,c or JSON, objects as JSON; key:=JSON gives any
JSON value. A field the document does not list is refused unless
--send-unknown is given (free-form bodies such as custom models take any).
  --wait         wait for the job (a progress bar on a terminal)
  --out DIR      wait, then download the outputs into DIR
  --dry-run      print the cost in creative units; nothing is generated
  --timeout S    give up waiting after S seconds (default 600)
'%s generate <type> --help' lists the fields of a type.
]==]

local SPEC = { fields = true,
  flags = { wait = true, ["dry-run"] = true, ["send-unknown"] = true },
  values = { out = true, timeout = true } }

-- the generate operations, by method name
local function generate_ops()
  local list = {}
  for _, op in pairs(operations) do
    if op.resource == "generate" then list[#list + 1] = op end
  end
  table.sort(list, function(a, b) return a.method_name < b.method_name end)
  return list
end

-- The operation of a generate type, and the fields it implies.
local function generate_op(kind)
  local model = kind:match("^custom:(.+)$")
  if model then return operations.PostGenerateCustom, { modelId = model } end
  local wanted = kind:gsub("%-", "_")
  for _, op in ipairs(generate_ops()) do
    if op.method_name == wanted or op.id == kind then return op, {} end
  end
end

-- --help: the fields of a type, or the usage and the list of types
local function print_help(ui, kind)
  local progname = output.progname
  local op = kind and generate_op(kind)
  if op then
    ui:out(string.format("%s generate %s: %s %s (%s)\nfields:\n%s\n", progname, kind,
      op.method, op.path, op.id, fields.lines(op)))
    return
  end
  ui:out(string.format(M.help, progname, progname), "\ntypes:\n")
  for _, g in ipairs(generate_ops()) do
    if g.method_name ~= "custom" then
      ui:out(string.format("  %-32s %s\n", g.method_name:gsub("_", "-"), g.path))
    end
  end
  ui:out(string.format("  %-32s %s\n", "custom:<modelId>", "/generate/custom/{modelId}"))
end

local function dry_run(ui, client, op, given)
  local cost, err = client:call(op.id, given, { dry_run = true })
  if not cost then return ui:fail(err) end
  ui:say("cost: ", format.number(cost.creativeUnitsCost), " creative units",
    cost.creativeUnitsDiscount and (" (discount " .. format.number(cost.creativeUnitsDiscount) .. ")")
    or "")
  return ui:done(cost)
end

-- --wait / --out: waits for the job, then downloads its outputs into --out
local function wait_for(ui, client, job, o, timeout)
  local errs = sdk.wait_jobs(ui, client, { job }, timeout)
  local werr = sdk.worst(errs, { job })
  if werr then return ui:fail(werr, sdk.jobs_doc({ job }, nil, errs)) end
  ui:say(output.job_line(job))
  local files
  if o.values.out then
    local derr
    files, derr = sdk.download_outputs(ui, client, { job }, o.values.out)
    if derr then return ui:fail(derr, sdk.jobs_doc({ job }, files)) end
  else
    for _, id in ipairs(job:asset_ids()) do ui:say("  asset ", id) end
  end
  return ui:done(sdk.jobs_doc({ job }, files))
end

-- The operation of the words and the fields its type implies, or nil, the
-- error.
local function operation_of(o)
  local kind = o.positional[1]
  if not kind then return nil, output.usage_error("generate needs a type, e.g. txt2img", "generate") end
  if #o.positional > 1 then
    return nil, output.usage_error("unexpected argument " .. o.positional[2] ..
      " (fields are written key=value)", "generate")
  end
  local op, implied = generate_op(kind)
  if not op then return nil, output.usage_error("unknown generate type " .. kind, "generate") end
  return op, implied
end

function M.run(words, host)
  local o, ui, exit = args.begin("generate", words, host, SPEC)
  if not o then return exit end
  if o.flags.help then
    print_help(ui, o.positional[1])
    return output.EXIT.ok
  end
  local op, implied = operation_of(o)
  if not op then return ui:fail(implied) end
  local timeout = sdk.timeout_of(o)
  if not timeout then return ui:fail(output.usage_error("--timeout needs a number of seconds", "generate")) end
  local given, ferr = fields.typed(op, o.fields)
  if not given then return ui:fail(ferr) end
  for k, v in pairs(implied) do given[k] = v end
  local client, cerr = sdk.new_client(o.flags, ui)
  if not client then return ui:fail(cerr) end
  if o.flags["dry-run"] then return dry_run(ui, client, op, given) end

  local job, err = client:call(op.id, given)
  if not job then return ui:fail(err) end
  if not sdk.is_job(job) then -- an answer without a job: show it as it is
    if not ui.json then ui:write_pretty(job) end
    return ui:done(job)
  end
  if o.values.out or o.flags.wait then return wait_for(ui, client, job, o, timeout) end
  ui:say(output.job_line(job))
  return ui:done(sdk.jobs_doc { job })
end

return M
