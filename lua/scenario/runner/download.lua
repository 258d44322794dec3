--- scenario-lua download ASSET_ID...: downloads assets into a folder.
local args = require "scenario.runner.args"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s download ASSET_ID... [--out DIR] [--json] [--quiet]

Downloads each asset into DIR (default: the current directory) as
<assetId>.<extension>, written to a temporary name and renamed when
complete. Prints the paths.
]==]

function M.run(words, host)
  local o, ui, exit = args.begin("download", words, host, { values = { out = true } }, M.help)
  if not o then return exit end
  if #o.positional == 0 then
    return ui:fail(output.usage_error("download needs at least one ASSET_ID", "download"))
  end
  local client, cerr = sdk.new_client(o.flags)
  if not client then return ui:fail(cerr) end
  local assets = {}
  for _, id in ipairs(o.positional) do
    local body, err = client.assets:get(id)
    if not body then return ui:fail(err) end
    assets[#assets + 1] = body.asset or body
  end
  local files, err = sdk.download_assets(ui, client, assets, o.values.out or ".")
  for _, f in ipairs(files) do ui:say(f.path) end
  if err then return ui:fail(err, { files = sdk.files_doc(files) }) end
  return ui:done { files = sdk.files_doc(files) }
end

return M
