--- scenario.resources: a client's resource objects (client.assets,
-- client.models.presets, ...) and client:call.
-- resources/base.lua builds one class per resource path of the generated
-- table, with a method for every operation; the other files of this folder,
-- one per API group (the first part of the resource paths), add the
-- hand-written methods: client.uploads:file is in resources/uploads.lua.
-- spec/layout_spec.lua checks that every group has its file here.
local base = require "scenario.resources.base"
local operations = require "scenario.operations"
local errors = require "scenario.errors"

local M = {}

-- group -> its class, hand-written methods added
M.groups = {
  assets = require "scenario.resources.assets",
  collections = require "scenario.resources.collections",
  generate = require "scenario.resources.generate",
  jobs = require "scenario.resources.jobs",
  models = require "scenario.resources.models",
  oscu = require "scenario.resources.oscu",
  recommendations = require "scenario.resources.recommendations",
  search = require "scenario.resources.search",
  tags = require "scenario.resources.tags",
  uploads = require "scenario.resources.uploads",
  usages = require "scenario.resources.usages",
  workflows = require "scenario.resources.workflows",
}

--- Calls an operation (an entry of the generated table) with already merged
-- fields; see resources/base.lua.
M.call = base.call

--- The class of a resource path ("assets", "models.presets").
M.class = base.class

--- Gives a client its resource objects: client.assets, client.models.presets...
function M.attach(client)
  for _, path in ipairs(base.paths()) do -- parents before children
    local node = client
    local parts = {}
    for part in path:gmatch("[^.]+") do parts[#parts + 1] = part end
    for i = 1, #parts - 1 do
      local sub = table.concat(parts, ".", 1, i)
      if not node[parts[i]] then
        node[parts[i]] = setmetatable({ client = client }, base.class(sub))
      end
      node = node[parts[i]]
    end
    local last = parts[#parts]
    if not rawget(node, last) then
      node[last] = setmetatable({ client = client }, base.class(path))
    end
  end
end

--- client:call(operationId, fields, options)
function M.call_by_id(client, id, fields, options)
  local op = operations[id]
  if not op then
    return nil, errors.new { kind = "validation", operation = tostring(id),
      message = "unknown operation " .. tostring(id) }
  end
  return M.call(client, op, fields or {}, options)
end

return M
