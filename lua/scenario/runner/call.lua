--- scenario-lua call OPERATION_ID key=value...: any operation of the API by
-- its operationId, the answer printed as JSON.
local operations = require "scenario.operations"
local args = require "scenario.runner.args"
local fields = require "scenario.runner.fields"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s call OPERATION_ID key=value... [--dry-run] [--send-unknown] [--json]

Calls any operation of the API by its operationId ('%s ops' lists them) and
prints the answer as JSON. Path parameters are fields too
(call GetAssetsByAssetId assetId=asset_123). Values are typed as for
generate; body:=JSON sends a whole JSON body (an array for the operations
whose body is one).
'%s call OPERATION_ID --help' lists the fields of an operation.
]==]

local SPEC = { fields = true, flags = { ["dry-run"] = true, ["send-unknown"] = true } }

-- The operation of an operationId, in any case.
local function find_op(id)
  if operations[id] then return operations[id] end
  local lower = id:lower()
  for key, op in pairs(operations) do
    if key:lower() == lower then return op end
  end
end

local function print_help(op)
  local progname = output.progname
  if op then
    io.stdout:write(string.format("%s call %s: %s %s (client.%s:%s)\nfields:\n%s\n", progname,
      op.id, op.method, op.path, op.resource, op.method_name, fields.lines(op)))
  else
    io.stdout:write(string.format(M.help, progname, progname, progname))
  end
end

function M.run(words, host)
  local o, ui, exit = args.begin("call", words, host, SPEC)
  if not o then return exit end
  local id = o.positional[1]
  local op = id and find_op(id)
  if o.flags.help then
    print_help(op)
    return output.EXIT.ok
  end
  if not id then return ui:fail(output.usage_error("call needs an OPERATION_ID", "call")) end
  if not op then
    return ui:fail(output.usage_error("unknown operation " .. id .. " ('" .. output.progname ..
      " ops " .. id .. "' searches)", "call"))
  end
  if #o.positional > 1 then
    return ui:fail(output.usage_error("unexpected argument " .. o.positional[2] ..
      " (fields are written key=value)", "call"))
  end
  local given, ferr = fields.typed(op, o.fields)
  if not given then return ui:fail(ferr) end
  local client, cerr = sdk.new_client(o.flags)
  if not client then return ui:fail(cerr) end
  local result, err = client:call(op.id, given, o.flags["dry-run"] and { dry_run = true } or nil)
  if not result then return ui:fail(err) end
  if sdk.is_job(result) then result = result.response or { job = result.record } end
  if not ui.json then io.stdout:write(output.pretty(result), "\n") end
  return ui:done(result)
end

return M
