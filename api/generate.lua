-- api/generate.lua: turns the vendored OpenAPI document into the operation
-- table lua/scenario/operations.lua.
--
--   lua5.4 api/generate.lua api/openapi.json lua/scenario/operations.lua api/MAPPING.md
--   (what `make generate` runs; the optional third argument writes the
--   operationId -> method table; an output path "-" writes to stdout)
--
-- The output is deterministic: keys sorted, numbers printed in their shortest
-- exact form, so regenerating from the same document is byte-identical.
-- Descriptions, examples and defaults are never emitted (the document has
-- defaults outside their enums, e.g. optimizeFor "undefined"; the client must
-- never send a default the user did not set).
--
-- Where the document is known to be wrong or silent, the tables below correct
-- it; each correction is listed here so a reader can check it against the
-- document:
--
--   QUERY_COMMON / QUERY_OVERRIDES  every query parameter is typed string in
--       the document; booleans, integers, bounds (stated only in descriptions:
--       pageSize 1..100 for assets, 1..200 for jobs, ...) and comma-separated
--       lists are restored here.
--   INTEGER_FIELDS  body numbers that are counts or pixel sizes are checked as
--       integers (the document has no integer type at all).
--   READ_POSTS / PAID_PUTS  which operations are `unsafe` (not to be retried
--   once they may have reached the server).
--   NAME_OVERRIDES  resource / method names that the path rule gets wrong.

local cjson = require "cjson"

local NULL = cjson.null

-- Query corrections -------------------------------------------------------

local function bool() return { type = "boolean" } end
local function int(min, max) return { type = "integer", minimum = min, maximum = max } end
local function list() return { type = "array", explode = false, items = { type = "string" } } end

-- applied to every operation that declares the parameter
local QUERY_COMMON = {
  blacklisted = bool,
  dryRun = bool,
  hideResults = bool,
  loadedOnly = bool,
  originalAssets = bool,
  originalModels = bool,
  withEmbedding = bool,
  sortDirection = function() return { type = "string", enum = { "asc", "desc" } } end,
}

-- per operation; bounds come from the parameter descriptions
local QUERY_OVERRIDES = {
  DeleteModelsImagesByModelId = { ids = list() },
  GetAssets = { pageSize = int(1, 100), tags = list() },
  GetCanvasAssetSnapshots = { pageSize = int(10, 100) },
  GetCollections = { pageSize = int(1, 100) },
  GetJobs = { pageSize = int(1, 200), types = list() },
  GetModels = { pageSize = int(1, 500), tags = list(), types = list(), collectionIds = list() },
  GetPublicAssets = { pageSize = int(1, 100), tags = list(), types = list() },
  GetPublicModels = { pageSize = int(1, 500), tags = list(), types = list(), collectionIds = list() },
  GetRecommendationsModels = {
    limit = int(1, 30), capabilities = list(), excludeModelIds = list(),
    excludeTypes = list(), tags = list(),
  },
  GetTags = { pageSize = int(1, 100) },
  GetUsages = { activityOffset = int(0), projectIds = list(), type = list(), userIds = list() },
  GetWorkflows = { pageSize = int(1, 200), tags = list() },
}

-- Body corrections --------------------------------------------------------

local INTEGER_FIELDS = {}
for name in ([[numSamples numInferenceSteps numOutputs numResults width height
  targetWidth targetHeight parts fileSize nbEpochs nbRepeats batchSize
  maxTrainSteps numUNetTrainSteps numTextTrainSteps validationFrequency rank
  hitsPerPage page offset limit maxIterations refinementSteps pixelGridSize
  colorPaletteSize]]):gmatch("%S+") do
  INTEGER_FIELDS[name] = true
end

-- Safety ------------------------------------------------------------------

-- POSTs that only read: safe to retry.
local READ_POSTS = {
  PostAssetGetBulk = true, PostModelsGetBulk = true,
  PostSearchAssets = true, PostSearchModels = true,
}
-- PUTs that start paid work: never retried once sent.
local PAID_PUTS = { PutModelsTrainByModelId = true, PutWorkflowRunByWorkflowId = true }

-- Naming ------------------------------------------------------------------
--
-- Rule: the first literal path segment is the resource; further literal
-- segments are nested resources ("/models/{id}/presets" -> models.presets),
-- except segments in VERB_SEGMENTS, which name the method
-- ("/assets/{id}/copy" -> assets.copy). Without a verb segment the HTTP
-- method decides: GET on a path ending in a parameter -> get, other GET ->
-- list, POST -> create, PUT -> update, DELETE -> delete. /generate/<kind> is
-- generate.<kind>. Dashes become underscores.

local VERB_SEGMENTS = {
  action = "action", copy = "copy", lock = "lock", run = "run",
  train = "train", transfer = "transfer", unlock = "unlock",
  ["get-bulk"] = "get_bulk", ["user-approval"] = "approve",
  download = "download_link",
}

local NAME_OVERRIDES = {
  -- /assets/download is a bulk export job, not a link to one asset
  PostDownloadAssets = { "assets", "bulk_download" },
  GetDownloadAssets = { "assets", "get_bulk_download" },
  -- public catalogues are views of the same resources
  GetPublicAssets = { "assets", "list_public" },
  GetPublicAssetsByAssetId = { "assets", "get_public" },
  GetPublicModels = { "models", "list_public" },
  GetPublicModelsByModelId = { "models", "get_public" },
  -- collection membership
  PutAssetsByCollectionId = { "collections.assets", "add" },
  DeleteAssetsByCollectionId = { "collections.assets", "remove" },
  PutModelsByCollectionId = { "collections.models", "add" },
  DeleteModelsByCollectionId = { "collections.models", "remove" },
  -- singular sub-documents and reports
  GetModelsDescriptionByModelId = { "models.description", "get" },
  GetModelsScoresPromptByModelId = { "models.scores", "get_prompt" },
  GetModelsScoresTrainingDatasetByModelId = { "models.scores", "get_training_dataset" },
  PostModelTrainingActionByModelId = { "models", "train_action" },
  PutModelsTrainingImagesPairsByModelId = { "models.training_images", "update_pairs" },
  GetPublicOscuPrices = { "oscu", "get_prices" },
  GetUsages = { "usages", "get" },
  PostSearchAssets = { "search", "assets" },
  PostSearchModels = { "search", "models" },
}

local function underscore(s) return (s:gsub("-", "_")) end

local function derive_name(op)
  local o = NAME_OVERRIDES[op.id]
  if o then return o[1], o[2] end
  local lits, ends_with_param = {}, false
  for seg in op.path:gmatch("[^/]+") do
    if seg:match("^{.*}$") then
      ends_with_param = true
    else
      lits[#lits + 1] = seg
      ends_with_param = false
    end
  end
  if lits[1] == "generate" then
    return "generate", underscore(table.concat(lits, "_", 2))
  end
  local res, verb = { underscore(lits[1]) }, nil
  for i = 2, #lits do
    if VERB_SEGMENTS[lits[i]] and i == #lits then
      verb = VERB_SEGMENTS[lits[i]]
    else
      res[#res + 1] = underscore(lits[i])
    end
  end
  if not verb then
    local m = op.method
    if m == "GET" then
      verb = ends_with_param and "get" or "list"
    elseif m == "POST" then
      verb = "create"
    elseif m == "PUT" then
      verb = "update"
    else
      verb = "delete"
    end
  end
  return table.concat(res, "."), verb
end

-- Schema compaction -------------------------------------------------------

local doc -- the decoded document
local VARYING = {} -- property names whose type differs between operations

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local function resolve(ref)
  local name = ref:match("^#/components/schemas/(.+)$")
  local s = name and doc.components.schemas[name]
  if not s then error("unresolvable $ref " .. ref) end
  return s, name
end

-- A JSON-Schema regex as a Lua pattern, or nil when it cannot be translated.
local function lua_pattern(re)
  local out, i, in_class = {}, 1, false
  local escapes = { d = "%d", w = "%w_", s = "%s", ["."] = "%.", ["-"] = "%-" }
  while i <= #re do
    local c = re:sub(i, i)
    if c == "\\" then
      local e = escapes[re:sub(i + 1, i + 1)]
      if not e then return nil end
      if e == "%w_" and not in_class then e = "[%w_]" end
      out[#out + 1] = e
      i = i + 1
    elseif c == "[" then
      in_class = true
      out[#out + 1] = c
    elseif c == "]" then
      in_class = false
      out[#out + 1] = c
    elseif c == "-" and in_class then
      local prev, nxt = re:sub(i - 1, i - 1), re:sub(i + 1, i + 1)
      out[#out + 1] = (prev == "[" or nxt == "]") and "%-" or "-"
    elseif c:match("[%(%)%%|{}]") then
      return nil
    else
      out[#out + 1] = c
    end
    i = i + 1
  end
  return table.concat(out)
end

local compact

-- allOf: properties and required united, the tightest bounds kept.
local function merge_into(dst, src)
  for k, v in pairs(src) do
    if k == "properties" then
      dst.properties = dst.properties or {}
      for pk, pv in pairs(v) do dst.properties[pk] = pv end
    elseif k == "required" then
      dst.required = dst.required or {}
      local have = {}
      for _, r in ipairs(dst.required) do have[r] = true end
      for _, r in ipairs(v) do
        if not have[r] then dst.required[#dst.required + 1] = r end
      end
      table.sort(dst.required)
    elseif k == "minimum" and dst.minimum then
      dst.minimum = math.max(dst.minimum, v)
    elseif k == "maximum" and dst.maximum then
      dst.maximum = math.min(dst.maximum, v)
    elseif dst[k] == nil then
      dst[k] = v
    end
  end
end

local function num(v)
  local i = math.tointeger(v)
  return i or v
end

-- The compact constraint of a schema. `name` is the property name (for the
-- integer correction and the per-operation type note), `seen` guards cycles.
compact = function(s, name, seen)
  if s["$ref"] then
    local target, ref_name = resolve(s["$ref"])
    if seen[ref_name] then return {} end
    seen[ref_name] = true
    local c = compact(target, name, seen)
    seen[ref_name] = nil
    return c
  end
  local c = {}
  if s.allOf then
    for _, sub in ipairs(s.allOf) do merge_into(c, compact(sub, name, seen)) end
  end
  local alts = s.oneOf or s.anyOf
  if alts then
    local choices = {}
    for _, sub in ipairs(alts) do choices[#choices + 1] = compact(sub, name, seen) end
    if #choices == 1 then merge_into(c, choices[1]) else c.one_of = choices end
  end
  if type(s.type) == "string" then
    c.type = s.type
    if c.type == "number" and INTEGER_FIELDS[name] then c.type = "integer" end
  end
  if s.nullable == true then c.nullable = true end
  if type(s.enum) == "table" then
    local e = {}
    for _, v in ipairs(s.enum) do
      if v == NULL then c.nullable = true else e[#e + 1] = num(v) end
    end
    c.enum = e
  end
  for _, k in ipairs { "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems" } do
    if type(s[k]) == "number" then c[k] = num(s[k]) end
  end
  for _, k in ipairs { "exclusiveMinimum", "exclusiveMaximum" } do
    if s[k] == true then
      c[k] = true
    elseif type(s[k]) == "number" then -- OpenAPI 3.1 form
      c[k:sub(10, 10):lower() .. k:sub(11)] = num(s[k])
      c[k] = true
    end
  end
  if type(s.pattern) == "string" then
    c.pattern = s.pattern
    c.lua_pattern = lua_pattern(s.pattern)
  end
  if type(s.items) == "table" then c.items = compact(s.items, name, seen) end
  if type(s.properties) == "table" then
    local props = {}
    for pk, pv in pairs(s.properties) do
      props[pk] = compact(pv, pk, seen)
      if VARYING[pk] and props[pk].type then props[pk].vary = true end
    end
    c.properties = props
  end
  if type(s.required) == "table" and #s.required > 0 then
    local r = {}
    for _, v in ipairs(s.required) do r[#r + 1] = v end
    table.sort(r)
    c.required = r
  end
  if s.additionalProperties == false then
    c.additionalProperties = false
  elseif type(s.additionalProperties) == "table" then
    c.additionalProperties = compact(s.additionalProperties, nil, seen)
  end
  return c
end

-- Property names typed differently by different operations (`seed` is a
-- string in some bodies and a number in others): their type errors say
-- "for this operation".
local function find_varying(bodies)
  local types = {}
  local function walk(s, seen)
    if type(s) ~= "table" then return end
    if s["$ref"] then
      local target, ref_name = resolve(s["$ref"])
      if seen[ref_name] then return end
      seen[ref_name] = true
      walk(target, seen)
      seen[ref_name] = nil
      return
    end
    if type(s.properties) == "table" then
      for pk, pv in pairs(s.properties) do
        local t = pv.type
        if pv["$ref"] then t = (resolve(pv["$ref"])).type end
        if type(t) == "string" then
          types[pk] = types[pk] or {}
          types[pk][t] = true
        end
        walk(pv, seen)
      end
    end
    walk(s.items, seen)
    for _, k in ipairs { "allOf", "oneOf", "anyOf" } do
      for _, sub in ipairs(s[k] or {}) do walk(sub, seen) end
    end
  end
  for _, b in ipairs(bodies) do walk(b, {}) end
  for name, ts in pairs(types) do
    if next(ts, next(ts)) then VARYING[name] = true end
  end
end

-- Operations --------------------------------------------------------------

local METHODS = { "get", "put", "post", "delete", "patch" }

local function query_constraint(op_id, p)
  local c
  local o = QUERY_OVERRIDES[op_id]
  if o and o[p.name] then
    c = {}
    merge_into(c, o[p.name])
    if c.items then c.items = { type = c.items.type, enum = c.items.enum } end
  elseif QUERY_COMMON[p.name] then
    c = QUERY_COMMON[p.name]()
  else
    c = compact(p.schema or {}, p.name, {})
    if c.type == "array" then
      local style = p.style or "form"
      local explode = p.explode
      if explode == nil then explode = (style == "form") end
      c.explode = explode -- false: comma-joined; true: the name repeated
      if style ~= "form" then c.style = style end
    end
  end
  if p.required then c.required = true end
  return c
end

-- The one field of the answer when a 2xx answer (the lowest) is an object
-- with exactly one property, itself an object: { "asset": {...} } gives
-- "asset". Resource methods return that object, and the whole answer
-- second (scenario.resources.base).
local function result_key(raw)
  local codes = {}
  for code in pairs(raw.responses or {}) do
    if tostring(code):match("^2%d%d$") then codes[#codes + 1] = tostring(code) end
  end
  table.sort(codes)
  local response = codes[1] and raw.responses[codes[1]]
  if not response and codes[1] then response = raw.responses[tonumber(codes[1])] end
  local media = response and response.content and response.content["application/json"]
  local s = media and media.schema
  if s and s["$ref"] then s = resolve(s["$ref"]) end
  local props = s and s.properties
  if not props then return nil end
  local keys = sorted_keys(props)
  if #keys ~= 1 then return nil end
  local p = props[keys[1]]
  if p["$ref"] then p = resolve(p["$ref"]) end
  if (p.type == nil or p.type == "object") and p.items == nil then return keys[1] end
  return nil
end

local function build(path, method, raw)
  local op = {
    id = raw.operationId,
    method = method:upper(),
    path = path,
    path_params = {},
    query = {},
    body_required = false,
    body_is_array = false,
    deprecated = raw.deprecated == true,
    dry_run = false,
    paginated = false,
    -- an operation without security (its own or the document's) is public
    auth = #(raw.security or doc.security or {}) > 0,
  }
  for name in path:gmatch("{([^}]+)}") do op.path_params[#op.path_params + 1] = name end
  local declared = {}
  for _, p in ipairs(raw.parameters or {}) do
    if p["$ref"] then error(op.id .. ": parameter $ref not supported") end
    if p["in"] == "path" then
      declared[p.name] = true
    elseif p["in"] == "query" then
      op.query[p.name] = query_constraint(op.id, p)
      if p.name == "paginationToken" then op.paginated = true end
      if p.name == "dryRun" then op.dry_run = true end
    end
  end
  for _, n in ipairs(op.path_params) do
    if not declared[n] then error(op.id .. ": undeclared path parameter " .. n) end
  end
  if raw.responses and raw.responses["269"] then op.dry_run = true end
  local rb = raw.requestBody
  if rb then
    local media = rb.content and rb.content["application/json"]
    if not media then error(op.id .. ": request body is not application/json") end
    op.body = compact(media.schema or {}, nil, {})
    op.body_required = rb.required == true
    op.body_is_array = op.body.type == "array"
  end
  op.unsafe = (op.method == "POST" and not READ_POSTS[op.id]) or PAID_PUTS[op.id] == true
  op.result = result_key(raw)
  op.resource, op.method_name = derive_name(op)
  return op
end

-- Serialisation -----------------------------------------------------------

local KEY_ORDER = {}
for i, k in ipairs {
  "id", "method", "path", "path_params", "resource", "method_name",
  "auth", "body_required", "body_is_array", "deprecated", "dry_run", "paginated", "unsafe",
  "result",
  "type", "vary", "nullable", "required", "enum", "minimum", "exclusiveMinimum", "maximum",
  "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "lua_pattern",
  "explode", "style", "items", "one_of", "additionalProperties", "properties", "reserved",
  "query", "body",
} do KEY_ORDER[k] = i end

local function key_less(a, b)
  local ra, rb = KEY_ORDER[a], KEY_ORDER[b]
  if ra and rb then return ra < rb end
  if ra or rb then return ra ~= nil end
  return a < b
end

local function fmt_number(v)
  local i = math.tointeger(v)
  if i then return string.format("%d", i) end
  if v ~= v or v == math.huge or v == -math.huge then error("non-finite number in schema") end
  for prec = 1, 17 do
    local s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

local function fmt_key(k)
  if k:match("^[%a_][%w_]*$") then
    local kw = {
      ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
      ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1,
      ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1,
      ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1,
    }
    if not kw[k] then return k end
  end
  return "[" .. string.format("%q", k) .. "]"
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local WIDTH = 100

-- `plain`: v is a map of names (query, properties), sorted alphabetically
local function ser(v, indent, plain)
  local tv = type(v)
  if tv == "string" then return string.format("%q", v) end
  if tv == "number" then return fmt_number(v) end
  if tv == "boolean" then return tostring(v) end
  if tv ~= "table" then error("cannot serialise " .. tv) end
  local parts = {}
  if next(v) ~= nil and is_array(v) then
    for _, x in ipairs(v) do parts[#parts + 1] = ser(x, indent .. "  ") end
  else
    local ks = sorted_keys(v)
    if not plain then table.sort(ks, key_less) end
    for _, k in ipairs(ks) do
      local map = not plain and (k == "query" or k == "properties")
      parts[#parts + 1] = fmt_key(k) .. " = " .. ser(v[k], indent .. "  ", map)
    end
  end
  if #parts == 0 then return "{}" end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #one + #indent <= WIDTH and not one:find("\n", 1, true) then return one end
  local inner = indent .. "  "
  if is_array(v) and type(v[1]) ~= "table" then
    -- scalars (enums): as many to a line as fit
    local lines, line = {}, nil
    for _, p in ipairs(parts) do
      if line and #inner + #line + #p + 2 <= WIDTH then
        line = line .. " " .. p .. ","
      else
        if line then lines[#lines + 1] = inner .. line end
        line = p .. ","
      end
    end
    lines[#lines + 1] = inner .. line
    return "{\n" .. table.concat(lines, "\n") .. "\n" .. indent .. "}"
  end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

-- Main --------------------------------------------------------------------

local function generate(src)
  local f = assert(io.open(src, "rb"))
  local text = f:read("a")
  f:close()
  doc = cjson.decode(text)

  local bodies = {}
  for _, path in ipairs(sorted_keys(doc.paths)) do
    for _, m in ipairs(METHODS) do
      local raw = doc.paths[path][m]
      local media = raw and raw.requestBody and raw.requestBody.content
        and raw.requestBody.content["application/json"]
      if media and media.schema then bodies[#bodies + 1] = media.schema end
    end
  end
  find_varying(bodies)

  local ops, count, names = {}, 0, {}
  for _, path in ipairs(sorted_keys(doc.paths)) do
    for _, m in ipairs(METHODS) do
      local raw = doc.paths[path][m]
      if raw then
        local op = build(path, m, raw)
        if ops[op.id] then error("duplicate operationId " .. op.id) end
        local full = op.resource .. "." .. op.method_name
        if names[full] then
          error(("name %s given to both %s and %s"):format(full, names[full], op.id))
        end
        names[full] = op.id
        ops[op.id] = op
        count = count + 1
      end
    end
  end

  -- Literal routes overlap templated ones (an asset id "public" reaches
  -- GET /assets/public): record, per path parameter, the values that would
  -- reach another route, so that validation can refuse them.
  local split = {}
  for _, op in pairs(ops) do
    if not split[op.path] then
      local segs = {}
      for seg in op.path:gmatch("[^/]+") do segs[#segs + 1] = seg end
      split[op.path] = segs
    end
  end
  for _, op in pairs(ops) do
    local mine = split[op.path]
    for other_path, theirs in pairs(split) do
      if other_path ~= op.path and #theirs == #mine then
        -- routers prefer a literal segment to a parameter at the first
        -- segment where two routes differ
        local clash, param, value = true, nil, nil
        for j = 1, #mine do
          local a, b = mine[j], theirs[j]
          local a_param, b_param = a:match("^{(.*)}$"), b:match("^{.*}$") ~= nil
          if not param then
            local same = (a_param and b_param) or (not a_param and not b_param and a == b)
            if a_param and not b_param then
              param, value = a_param, b
            elseif not same then
              clash = false
              break
            end
          elseif (a_param and not b_param) or (not a_param and not b_param and a ~= b) then
            clash = false
            break
          end
        end
        if clash and param then
          op.reserved = op.reserved or {}
          op.reserved[param] = op.reserved[param] or {}
          local list_ = op.reserved[param]
          local have = false
          for _, v in ipairs(list_) do have = have or v == value end
          if not have then
            list_[#list_ + 1] = value
            table.sort(list_)
          end
        end
      end
    end
  end

  -- a nested resource must not share its name with a method of its parent
  -- (client.models.presets next to client.models:get)
  for full in pairs(names) do
    local parent, child = full:match("^(.+)%.([^.]+)%.[^.]+$")
    if parent and names[parent .. "." .. child] then
      error(("%s is both a method and a nested resource"):format(parent .. "." .. child))
    end
  end

  local out = {
    "-- Generated by api/generate.lua from api/openapi.json: do not edit.",
    "-- Regenerate with `make generate`",
    "-- (lua5.4 api/generate.lua api/openapi.json lua/scenario/operations.lua api/MAPPING.md).",
    ("-- %d operations of %s %s, keyed by operationId."):format(
      count, doc.info and doc.info.title or "the API", doc.info and doc.info.version or ""),
    "--",
    "-- Entry: id, method, path (\"/assets/{assetId}\"), path_params (in path order),",
    "-- resource (\"models.presets\") and method_name (\"create\"), auth (false: public),",
    "-- body_required, body_is_array, deprecated, dry_run (a 269 response or ?dryRun),",
    "-- paginated (?paginationToken), unsafe (never retried once it may have been sent),",
    "-- result (the answer's one field that resource methods return, when the answer",
    "-- is an object with a single object field: \"asset\", \"collection\"...),",
    "-- reserved (path parameter values that reach another route), query (name ->",
    "-- constraint, required = true when required) and body (constraint, absent when",
    "-- the operation takes no body; {} when free-form). A constraint has type,",
    "-- required, enum, minimum, maximum, exclusiveMinimum/exclusiveMaximum = true,",
    "-- minLength, maxLength, pattern (+ lua_pattern), items, properties, one_of,",
    "-- additionalProperties, nullable; vary = true where other operations type the",
    "-- same field differently; explode = false on comma-joined query arrays.",
    "-- scenario.validate checks fields against it.",
    "-- luacheck: ignore 631",
    "return {",
  }
  for _, id in ipairs(sorted_keys(ops)) do
    out[#out + 1] = "  " .. fmt_key(id) .. " = " .. ser(ops[id], "  ") .. ","
  end
  out[#out + 1] = "}"
  return table.concat(out, "\n") .. "\n", count, ops
end

-- The operationId -> resource method table, as Markdown.
local function mapping(ops)
  local ids = sorted_keys(ops)
  table.sort(ids, function(a, b)
    local x, y = ops[a], ops[b]
    if x.resource ~= y.resource then return x.resource < y.resource end
    return x.method_name < y.method_name
  end)
  local out = {
    "# operationId -> resource method",
    "",
    "Generated by `api/generate.lua` (`make generate`) alongside lua/scenario/operations.lua;",
    "do not edit.",
    "Path parameters are positional, then one table of fields (routed to query or body),",
    "then options. Flags: **D** deprecated, **$** dry run (`{ dry_run = true }`),",
    "**P** paginated (`:each`, `:pages`), **U** unsafe (not retried once sent).",
    "",
    "| operationId | HTTP | Lua method | flags |",
    "|---|---|---|---|",
  }
  for _, id in ipairs(ids) do
    local op = ops[id]
    local args = {}
    for _, p in ipairs(op.path_params) do args[#args + 1] = p end
    args[#args + 1] = op.body_is_array and "{ item, ... }" or "{...}"
    local flags = (op.deprecated and "D" or "") .. (op.dry_run and "$" or "")
      .. (op.paginated and "P" or "") .. (op.unsafe and "U" or "")
    out[#out + 1] = ("| %s | %s `%s` | `client.%s:%s(%s)` | %s |"):format(
      id, op.method, op.path, op.resource, op.method_name, table.concat(args, ", "), flags)
  end
  return table.concat(out, "\n") .. "\n"
end

local function write(path, text)
  if path == "-" then return io.write(text) end
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local src, dst, map = arg[1], arg[2], arg[3]
if not src or not dst then
  io.stderr:write("usage: lua5.4 api/generate.lua api/openapi.json"
    .. " lua/scenario/operations.lua [api/MAPPING.md]\n")
  os.exit(2)
end
local text, count, ops = generate(src)
write(dst, text)
if map then write(map, mapping(ops)) end
if dst ~= "-" then io.stderr:write(("%s: %d operations, %d bytes\n"):format(dst, count, #text)) end
