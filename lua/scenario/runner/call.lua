--- scenario-lua call OPERATION_ID key=value...: any operation of the API by
-- its operationId, the answer printed as JSON; --all walks every page of a
-- list that pages, --jsonl prints its items one per line.
local operations = require "scenario.operations"
local errors = require "scenario.errors"
local json = require "scenario.json"
local pager = require "scenario.pager"
local args = require "scenario.runner.args"
local fields = require "scenario.runner.fields"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s call OPERATION_ID key=value... [--dry-run] [--send-unknown] [--json]
       %s call OPERATION_ID key=value... [--all] [--json | --jsonl]

Calls any operation of the API by its operationId ('%s ops' lists them) and
prints the answer as JSON. Path parameters are fields too
(call GetAssetsByAssetId assetId=asset_123). Values are typed as for
generate; body:=JSON sends a whole JSON body (an array for the operations
whose body is one).
The lists that page (GetAssets, GetModels, GetJobs...; 'ops --json' marks
them "paginated") answer one page, as the API does, unless:
  --all      every page is fetched (following nextPaginationToken) and the
             answer is one object: the items of all pages under the list's
             key ({"assets": [...]}), without nextPaginationToken
  --jsonl    each item is printed on a line of its own (compact JSON) as its
             page arrives: the first page's, or with --all every page's
'%s call OPERATION_ID --help' lists the fields of an operation.
]==]

local SPEC = { fields = true, flags = { ["dry-run"] = true, ["send-unknown"] = true,
  all = true, jsonl = true } }

-- The operation of an operationId, in any case.
local function find_op(id)
  if operations[id] then return operations[id] end
  local lower = id:lower()
  for key, op in pairs(operations) do
    if key:lower() == lower then return op end
  end
end

local function print_help(ui, op)
  local progname = output.progname
  if op then
    ui:out(string.format("%s call %s: %s %s (client.%s:%s)%s\nfields:\n%s\n", progname,
      op.id, op.method, op.path, op.resource, op.method_name, op.paginated and ", paginated" or "",
      fields.lines(op)))
  else
    ui:out(string.format(M.help, progname, progname, progname, progname))
  end
end

-- The operations that page, sorted, for the message of --all on one that does not.
local function paginated_ids()
  local ids = {}
  for id, op in pairs(operations) do
    if op.paginated then ids[#ids + 1] = id end
  end
  table.sort(ids)
  return table.concat(ids, ", ")
end

-- The operation of the words, or nil, a usage error.
local function operation_of(o)
  local id = o.positional[1]
  local op = id and find_op(id)
  if not id then return nil, output.usage_error("call needs an OPERATION_ID", "call") end
  if not op then
    return nil, output.usage_error("unknown operation " .. id .. " ('" .. output.progname ..
      " ops " .. id .. "' searches)", "call")
  end
  if #o.positional > 1 then
    return nil, output.usage_error("unexpected argument " .. o.positional[2] ..
      " (fields are written key=value)", "call")
  end
  if o.flags.json and o.flags.jsonl then
    return nil, output.usage_error("--json and --jsonl: give one of them", "call")
  end
  local flag = (o.flags.all and "--all") or (o.flags.jsonl and "--jsonl")
  if flag and not op.paginated then
    return nil, output.usage_error(flag .. ": " .. op.id .. " does not page (those that do: " ..
      paginated_ids() .. ")", "call")
  end
  return op
end

-- The items of a page and the key they are under (scenario.pager's rule).
local function items_of(body)
  local items = pager.items_of(body)
  for k, v in pairs(body) do
    if v == items then return k, items end
  end
  return "items", items
end

-- --all / --jsonl: the items of the first page, or of every page with
-- --all (scenario.pager, over client:call), each printed as it comes with
-- --jsonl, else gathered into one answer.
local function walk(ui, client, op, given, o)
  local pages = pager.methods(function(_, f, options) return client:call(op.id, f, options) end, 0)
  local key, items = nil, json.array()
  local ok, err = pcall(function()
    -- --dry-run goes on, for the SDK to refuse (no list has a dry run)
    for body in pages(nil, given, o.flags["dry-run"] and { dry_run = true } or nil) do
      local k, page = items_of(body)
      key = key or k
      for _, item in ipairs(page) do
        if ui.jsonl then ui:write_json(item) else items[#items + 1] = item end
      end
      if not o.flags.all then break end
    end
  end)
  if not ok then
    if not errors.is(err) then error(err, 0) end -- a bug, or Ctrl-C: not a failed page
    return ui:fail(err)
  end
  if ui.jsonl then return output.EXIT.ok end
  local doc = { [key or "items"] = items }
  if not ui.json then ui:write_pretty(doc) end
  return ui:done(doc)
end

function M.run(words, host)
  local o, ui, exit = args.begin("call", words, host, SPEC)
  if not o then return exit end
  if o.flags.help then
    print_help(ui, o.positional[1] and find_op(o.positional[1]))
    return output.EXIT.ok
  end
  local op, uerr = operation_of(o)
  if not op then return ui:fail(uerr) end
  local given, ferr = fields.typed(op, o.fields)
  if not given then return ui:fail(ferr) end
  local client, cerr = sdk.new_client(o.flags, ui)
  if not client then return ui:fail(cerr) end
  if o.flags.all or o.flags.jsonl then return walk(ui, client, op, given, o) end
  local result, err = client:call(op.id, given, o.flags["dry-run"] and { dry_run = true } or nil)
  if not result then return ui:fail(err) end
  if sdk.is_job(result) then result = result.response or { job = result.record } end
  if not ui.json then ui:write_pretty(result) end
  return ui:done(result)
end

return M
