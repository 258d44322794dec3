--- Hand-written asset methods, added to the generated `client.assets`.
local base = require "scenario.resources.base"
local download = require "scenario.download"
local errors = require "scenario.errors"
local check = require "scenario.check"

local Assets = base.class("assets")

-- the options of download.url
local DOWNLOAD_OPTIONS = { timeout = "seconds?", headers = "table?", on_progress = "function?" }

--- client.assets:download(asset_or_id, path, opts) --> path | nil, err
-- An id is looked up first (GET /assets/{id}) for its signed url.
function Assets:download(asset, path, opts)
  local aerr = check.self("client.assets:download", self, Assets) or check.args("client.assets:download",
    "asset_or_id", asset, "id|table", "path", path, "id", "options", opts, DOWNLOAD_OPTIONS)
  if aerr then return nil, aerr end
  if type(asset) == "string" then
    local body, err = self:get(asset)
    if not body then return nil, err end
    asset = body.asset or body
  end
  if type(asset) ~= "table" or type(asset.url) ~= "string" then
    return nil, errors.new { kind = "validation", field = "asset_or_id",
      message = "client.assets:download: asset_or_id: must be an asset id or a record with a url" }
  end
  return download.asset(self.client, asset, path, opts)
end

--- client.assets:upload(path, opts) --> the asset record | nil, err
-- Uploads the file (client.uploads:file, same options), waits until the API
-- has imported it and returns the new asset (GET /assets/{entityId}).
function Assets:upload(path, opts)
  local aerr = check.self("client.assets:upload", self, Assets)
  if aerr then return nil, aerr end
  if type(opts) == "table" and opts.kind == "model" then
    return nil, errors.new { kind = "validation", field = "kind", operation = "PostUploads",
      problems = { "kind: \"model\" makes a model, not an asset (use client.uploads:file)" },
      message = "kind: \"model\" makes a model, not an asset (use client.uploads:file)" }
  end
  local up, err = self.client.uploads:file(path, opts)
  if not up then return nil, err end
  if type(up.entityId) ~= "string" then
    return nil, errors.new { kind = "api", operation = "GetUploads", body = up,
      message = "upload " .. tostring(up.id) .. " was imported without an entityId" }
  end
  local body, gerr = self:get(up.entityId)
  if not body then return nil, gerr end
  return body.asset or body
end

return Assets
