--- scenario-lua ops [FILTER]: the operations of the API with their method,
-- path and client method.
local operations = require "scenario.operations"
local json = require "scenario.json"
local args = require "scenario.runner.args"
local output = require "scenario.runner.output"

local M = {}

M.help = [==[
usage: %s ops [FILTER] [--json]

Lists the operations of the API: operationId, method, path and the client
method that calls it. FILTER keeps those whose id, path or method contains
it (any case); a FILTER that keeps none is an error (exit status 2).
]==]

-- The operations whose id, path or client method contains filter (lower
-- case; nil: all), sorted by id.
local function matching(filter)
  local list = {}
  for id, op in pairs(operations) do
    local method = "client." .. op.resource .. ":" .. op.method_name
    if not filter or id:lower():find(filter, 1, true) or op.path:lower():find(filter, 1, true)
      or method:lower():find(filter, 1, true) then
      list[#list + 1] = { id = id, method = op.method, path = op.path,
        client_method = method, dry_run = op.dry_run, paginated = op.paginated }
    end
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  return list
end

function M.run(words, host)
  local o, ui, exit = args.begin("ops", words, host, {}, M.help)
  if not o then return exit end
  if #o.positional > 1 then return ui:fail(output.usage_error("ops takes one FILTER", "ops")) end
  local filter = o.positional[1]
  local list = matching(filter and filter:lower())
  if #list == 0 then
    -- an empty list would read as success to a script: a filter that keeps
    -- nothing is a mistake of the words, like an unknown operation in call
    return ui:fail(output.usage_error("no operation matches '" .. filter .. "'", "ops"))
  end
  if not ui.json then
    local width = 0
    for _, e in ipairs(list) do width = math.max(width, #e.id) end
    for _, e in ipairs(list) do
      ui:out(string.format("%-" .. width .. "s  %-6s  %s  %s\n", e.id, e.method, e.path,
        e.client_method))
    end
  end
  return ui:done { operations = json.array(list) }
end

return M
