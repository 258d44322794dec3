--- scenario-lua upload FILE: sends a file (client.uploads:file) under a
-- progress bar and prints the upload record.
local errors = require "scenario.errors"
local progress = require "scenario.progress"
local args = require "scenario.runner.args"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s upload FILE [--kind K] [--json] [--quiet]

Uploads FILE (client.uploads:file) and prints the upload record; K is the
asset kind (image, video, audio, 3d, ...).
]==]

function M.run(words, host)
  local o, ui, exit = args.begin("upload", words, host, { values = { kind = true } }, M.help)
  if not o then return exit end
  local path = o.positional[1]
  if not path or #o.positional > 1 then
    return ui:fail(output.usage_error("upload takes one FILE", "upload"))
  end
  local client, cerr = sdk.new_client(o.flags, ui)
  if not client then return ui:fail(cerr) end
  local f = io.open(path, "rb")
  if not f then
    return ui:fail(errors.new { kind = "io", message = "cannot read " .. path })
  end
  f:close()
  local bar = ui:bar("upload " .. path:match("[^/]*$"))
  local record, err = client.uploads:file(path, { kind = o.values.kind,
    on_progress = function(sent, total)
      if total and total > 0 then
        bar:update(sent / total, progress.bytes(sent) .. " / " .. progress.bytes(total))
      else
        bar:update(nil, progress.bytes(sent))
      end
    end })
  if not record then return ui:fail(err) end
  bar:finish(1)
  if type(record) == "table" then
    local id = record.id or record.uploadId
    local asset = record.assetId or (type(record.asset) == "table" and record.asset.id)
    ui:say(tostring(id), "  ", tostring(record.status or "done"), asset and ("  asset " .. asset) or "")
  end
  return ui:done { upload = record }
end

return M
