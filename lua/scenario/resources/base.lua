--- The machinery of the resource layer: one class per resource path of the
-- generated table (lua/scenario/operations.lua), with one method for every
-- operation of the OpenAPI document, and each/pages iterators for the list
-- methods that page.
--   client.assets:get(assetId, fields, options)
--   client.models.presets:create(modelId, fields, options)
-- Path parameters come first, positionally (or by name in fields), then one
-- table of fields routed to query or body by the document, then options:
-- timeout, max_retries, headers, dry_run, strict, allow_unknown.
-- The files beside this one (resources/assets.lua, ...), one per API group,
-- add the hand-written methods to these classes; resources/init.lua gives a
-- client its resource objects.
local operations = require "scenario.operations"
local validate = require "scenario.validate"
local errors = require "scenario.errors"
local job = require "scenario.job"
local pager = require "scenario.pager"
local check = require "scenario.check"
local compat = require "scenario.compat"

local M = {}

-- Operations whose answer is a job to wait on.
local RETURNS_JOB = { PutWorkflowRunByWorkflowId = true, GetJobId = true }

-- strict: overrides the client's strict mode for one call; allow_unknown:
-- sends fields the document does not declare (validate.strict_for)
local OPTION_KEYS = { timeout = true, max_retries = true, headers = true, dry_run = true,
  strict = true, allow_unknown = true, max_response_bytes = true }

local function validation_error(op, problems)
  local message = table.concat(problems, "; ")
  for _, p in ipairs(problems) do
    if p:find(": unknown field", 1, true) then
      message = message .. " (" .. op.id .. " does not declare it; pass { allow_unknown = true }"
        .. " as the call's options to send it anyway)"
      break
    end
  end
  return errors.new { kind = "validation", operation = op.id, problems = problems,
    message = message }
end

-- Fields sent although the document does not declare them: a likely typo
-- (one with a suggestion) is a warning, once per operation and field; the
-- others are noted at the debug level.
local function note_unknown(client, op, routed)
  local warned = client._unknown_warned or {}
  client._unknown_warned = warned
  local quiet = {}
  for _, u in ipairs(routed.unknown) do
    local s = routed.suggestions and routed.suggestions[u]
    local key = op.id .. " " .. u
    if s and not warned[key] then
      warned[key] = true
      client.log("warn", "%s: sending %s, which the API document does not list (did you mean %s?)",
        op.id, u, s)
    elseif not s then
      quiet[#quiet + 1] = u
    end
  end
  if #quiet > 0 then
    client.log("debug", "%s: sending fields the API document does not list: %s", op.id,
      table.concat(quiet, ", "))
  end
end

local BOOLEAN_OPTIONS = { "dry_run", "strict" }

local function check_options(op, options)
  if type(options) ~= "table" then
    return { "options: must be a table (got " .. type(options) .. ")" }
  end
  local problems = {}
  for k in pairs(options) do
    if not OPTION_KEYS[k] then
      problems[#problems + 1] = "options." .. tostring(k) .. ": unknown option"
    end
  end
  for _, k in ipairs(BOOLEAN_OPTIONS) do
    if options[k] ~= nil and type(options[k]) ~= "boolean" then
      problems[#problems + 1] = "options." .. k .. ": must be a boolean (got " .. check.show(options[k]) .. ")"
    end
  end
  if options.dry_run and not op.dry_run then
    problems[#problems + 1] = "options.dry_run: " .. op.id .. " has no dry run"
  end
  if #problems > 0 then return problems end
end

-- No options: shared, never written.
local NO_OPTIONS = setmetatable({}, { __newindex = function() error("read-only", 2) end })

-- Fields sent although undeclared, and a deprecated operation: noted in the log.
local function note(client, op, routed)
  if #routed.unknown > 0 then note_unknown(client, op, routed) end
  if op.deprecated then
    client._deprecated = client._deprecated or {}
    if not client._deprecated[op.id] then
      client._deprecated[op.id] = true
      client.log("debug", "%s (%s %s) is deprecated in the API document", op.id, op.method, op.path)
    end
  end
end

-- Sends a validated call (its path, query and body routed) and shapes the
-- answer: a Job for a generation, else the body; then the response.
local function run(client, op, path, query, body, options)
  local answer, res = client:_send(op.method, path, {
    query = query, body = body, unsafe = op.unsafe, operation = op.id,
    public = not op.auth,
    timeout = options.timeout, max_retries = options.max_retries,
    headers = options.headers, dry_run = options.dry_run,
    max_response_bytes = options.max_response_bytes,
  })
  if not answer then return nil, res end
  if not options.dry_run and type(answer) == "table" and type(answer.job) == "table"
    and (op.resource == "generate" or RETURNS_JOB[op.id]) then
    local j = job.new(client, answer.job)
    j.cost = answer.creativeUnitsCost
    j.response = answer
    return j, res
  end
  return answer, res
end

--- Calls an operation with already merged fields (path parameters by name).
-- Returns body, response; generations return a Job (dry runs the cost table).
function M.call(client, op, fields, options)
  if options == nil or (type(options) == "table" and next(options) == nil) then
    options = NO_OPTIONS
  else
    local problems = check_options(op, options)
    if problems then return nil, validation_error(op, problems) end
  end
  if type(fields) ~= "table" then
    return nil, validation_error(op, { "fields: must be a table (got " .. type(fields) .. ")" })
  end
  -- a read of one resource by its id needs no routing (validate.path_only)
  local routed = validate.path_only(op, fields)
  if not routed then
    local vproblems
    routed, vproblems = validate.check(op, fields,
      { strict = validate.strict_for(op, client.strict, options) })
    if not routed then return nil, validation_error(op, vproblems) end
  end
  note(client, op, routed)
  return run(client, op, routed.path, routed.query, routed.body, options)
end

-- A generated method's arguments: the leading strings and numbers are the
-- path parameters, in path order; then fields, then options. Returns the
-- number of path parameters given and the packed arguments.
local function split_args(n_path, ...)
  local args = compat.pack(...)
  local given = 0
  while given < n_path and given < args.n and
    (type(args[given + 1]) == "string" or type(args[given + 1]) == "number") do
    given = given + 1
  end
  return given, args
end

-- where a method of op is, for messages: "client.assets:get"
local function where_of(op, name)
  return "client." .. op.resource .. ":" .. (name or op.method_name)
end

-- What a resource method gives back (README, "Calls, results and errors"):
-- the resource itself when the answer is an object with one object field
-- (op.result: "asset", "collection", ...), a Job for a generation, else the
-- answer; then the whole answer, then the response. client:call and
-- client:request give the answer and the response, as M.call does.
local function shaped(op, value, res)
  if value == nil then return nil, res end
  if getmetatable(value) == job.Job then return value, value.response, res end
  local key = op.result
  if key and type(value) == "table" and type(value[key]) == "table" then
    return value[key], value, res
  end
  return value, value, res
end

local function method_for(op, class)
  local names = op.path_params
  local where = where_of(op)
  local function method(self, ...)
    -- client.assets.get(id): self is the id, not the resource object
    local serr = check.self(where, self, class, op.id)
    if serr then return nil, serr end
    local given, args = split_args(#names, ...)
    local fields = {}
    local user_fields, options = args[given + 1], args[given + 2]
    if user_fields ~= nil and type(user_fields) ~= "table" then
      return nil, validation_error(op, { "fields: must be a table (got " .. type(user_fields) .. ")" })
    end
    for k, v in pairs(user_fields or {}) do fields[k] = v end
    for i = 1, given do fields[names[i]] = args[i] end
    return shaped(op, M.call(self.client, op, fields, options))
  end
  if #names ~= 1 then return method end
  -- one path parameter (a get, update or delete by id), given as a string:
  -- the same, without packing the arguments
  local name = names[1]
  return function(self, id, user_fields, options, ...)
    if getmetatable(self) ~= class or type(id) ~= "string" or select("#", ...) > 0
        or (user_fields ~= nil and type(user_fields) ~= "table") then
      return method(self, id, user_fields, options, ...)
    end
    local no_options = options == nil or (type(options) == "table" and next(options) == nil)
    if user_fields == nil and no_options and not op.deprecated then
      -- client.jobs:get(id): the path is all there is to check and send
      local path = validate.single_path(op, id)
      if path then return shaped(op, run(self.client, op, path, nil, nil, NO_OPTIONS)) end
    end
    local fields = { [name] = id }
    if user_fields then
      for k, v in pairs(user_fields) do
        if k ~= name then fields[k] = v end
      end
    end
    return shaped(op, M.call(self.client, op, fields, options))
  end
end

-- each/pages raise what goes wrong (a failed page raises when the loop
-- reaches it): a call with '.', or fields or options that are not tables,
-- raise their validation error at once, before the iterator is made.
local function iterator_for(fn, op, class, name)
  local where = where_of(op, name)
  return function(self, ...)
    check.raise(check.self(where, self, class, op.id))
    local given, args = split_args(#op.path_params, ...)
    check.raise(check.op_args(where, op.id, "fields", args[given + 1], "table?",
      "options", args[given + 2], "table?"))
    return fn(self, ...)
  end
end

-- Resource classes are built once: resource path -> class table.
local classes = {}

local function class_for(path)
  local c = classes[path]
  if not c then
    c = { _path = path }
    c.__index = c
    c.__tostring = function() return "scenario resource " .. path end
    classes[path] = c
  end
  return c
end

for _, op in pairs(operations) do
  local c = class_for(op.resource)
  c[op.method_name] = method_for(op, c)
end

-- list methods that page get iterators: list -> each / pages,
-- list_public -> each_public / pages_public
for _, op in pairs(operations) do
  if op.paginated then
    local c = class_for(op.resource)
    local suffix = op.method_name:match("^list(.*)$") or ("_" .. op.method_name)
    local pages, each = pager.methods(c[op.method_name], #op.path_params)
    c["pages" .. suffix] = iterator_for(pages, op, c, "pages" .. suffix)
    c["each" .. suffix] = iterator_for(each, op, c, "each" .. suffix)
  end
end

--- The class of a resource path ("assets", "models.presets"), so that the
-- group files (resources/assets.lua, ...) can add hand-written methods.
function M.class(path)
  return class_for(path)
end

--- The resource paths of every class ("assets", "assets.snapshots", ...),
-- sorted: parents before children.
function M.paths()
  local paths = {}
  for path in pairs(classes) do paths[#paths + 1] = path end
  table.sort(paths)
  return paths
end

return M
