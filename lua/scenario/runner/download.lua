--- scenario-lua download ASSET_ID...: downloads assets into a folder, every
-- one it can; the ids that failed are reported after, one line each.
local json = require "scenario.json"
local args = require "scenario.runner.args"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s download ASSET_ID... [--out DIR] [--json] [--quiet]

Downloads each asset into DIR (default: the current directory) as
<assetId>.<extension>, written to a temporary name and renamed when
complete. Prints the paths. An id that fails does not stop the others:
each failure is reported on stderr, one line each, and the exit status
is then 1. With --json: {"files": [{"asset", "path"}...], "errors":
[{"asset", "kind", "message", ...}...]}, plus "error" (the first failure)
when there is one.
]==]

-- The failures as the "errors" of the JSON document: the asset id and the
-- fields of its error.
local function errors_doc(failures)
  local list = {}
  for i, f in ipairs(failures) do
    local doc = output.error_doc(f.err)
    doc.asset = f.asset
    list[i] = doc
  end
  return json.array(list)
end

-- The failures in the order of the ids given.
local function in_order(failures, ids)
  local pos = {}
  for i, id in ipairs(ids) do pos[id] = pos[id] or i end
  table.sort(failures, function(a, b) return (pos[a.asset] or 0) < (pos[b.asset] or 0) end)
  return failures
end

function M.run(words, host)
  local o, ui, exit = args.begin("download", words, host, { values = { out = true } }, M.help)
  if not o then return exit end
  local ids = o.positional
  if #ids == 0 then
    return ui:fail(output.usage_error("download needs at least one ASSET_ID", "download"))
  end
  local client, cerr = sdk.new_client(o.flags, ui)
  if not client then return ui:fail(cerr) end
  local assets, failures = {}, {}
  for _, id in ipairs(ids) do
    local body, err = client.assets:get(id)
    if body then
      local a = body.asset or body
      if type(a) == "table" and a.id == nil then a.id = id end
      assets[#assets + 1] = a
    else
      failures[#failures + 1] = { asset = id, err = err }
    end
  end
  local files, dfailures = sdk.download_assets(ui, client, assets, o.values.out or ".")
  for _, f in ipairs(dfailures) do failures[#failures + 1] = f end
  in_order(failures, ids)
  for _, f in ipairs(files) do ui:say(f.path) end
  local doc = { files = json.array(files), errors = errors_doc(failures) }
  if #failures == 0 then return ui:done(doc) end
  for _, f in ipairs(failures) do
    ui:err(output.progname, ": ", tostring(f.asset), ": ", output.error_text(f.err), "\n")
  end
  if ui.json then
    doc.error = doc.errors[1]
    ui:write_json(doc)
  end
  return output.EXIT.error
end

return M
