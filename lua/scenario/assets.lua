--- Hand-written asset methods, added to the generated `client.assets`.
local resources = require "scenario.resources"
local download = require "scenario.download"
local errors = require "scenario.errors"

local Assets = resources.class("assets")

--- client.assets:download(asset_or_id, path, opts) --> path | nil, err
-- An id is looked up first (GET /assets/{id}) for its signed url.
function Assets:download(asset, path, opts)
  if type(asset) == "string" then
    local body, err = self:get(asset)
    if not body then return nil, err end
    asset = body.asset or body
  end
  if type(asset) ~= "table" or type(asset.url) ~= "string" then
    return nil, errors.new { kind = "validation", message = "asset: must be an asset id or a record with a url" }
  end
  return download.url(self.client, asset.url, path, opts)
end

return Assets
