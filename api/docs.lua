-- api/docs.lua: writes the Markdown reference of every resource method
-- (docs/reference.md) from the vendored OpenAPI document and the generated
-- operation table.
--
--   lua5.4 api/docs.lua api/openapi.json lua/scenario/operations.lua docs/reference.md
--   (what `make docs` runs; an output path "-" writes to stdout)
--
-- For each operation: its resource method, HTTP method and path, flags
-- (deprecated, dry run, paginated, never retried once sent), the document's
-- description, what it returns, and every parameter (path, query, body fields
-- with nested ones as `concepts[].scale`) with type, whether required, enum
-- values, bounds, lengths and pattern, and the document's description.
-- Constraints come from lua/scenario/operations.lua (which corrects the
-- document where it is wrong: typed query parameters, integers), descriptions
-- from the document. Hand-written methods (added with base.class in
-- lua/scenario/resources/*.lua) are listed from their `---` comments.
-- The output is deterministic: no dates, everything sorted.
local cjson = require "cjson"

local doc_path, ops_path, out_path = arg[1] or "api/openapi.json",
  arg[2] or "lua/scenario/operations.lua", arg[3] or "docs/reference.md"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local DOC = cjson.decode(read(doc_path))
local OPS = assert(load(read(ops_path), "@" .. ops_path, "t", {}))()

-- Operations whose answer is wrapped in a Job (as scenario.resources does).
local RETURNS_JOB = { PutWorkflowRunByWorkflowId = true, GetJobId = true }

-- Helpers ------------------------------------------------------------------

local function fmt_number(v)
  local i = math.tointeger(v)
  if i then return string.format("%d", i) end
  for prec = 1, 17 do
    local s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t or {}) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function resolve(schema)
  local seen = 0
  while type(schema) == "table" and schema["$ref"] do
    local name = schema["$ref"]:match("^#/components/schemas/(.+)$")
    schema = name and DOC.components.schemas[name]
    seen = seen + 1
    if seen > 20 then return nil end
  end
  return schema
end

-- the document's text as Markdown: `<seed>` would be read as an HTML tag, so
-- angle brackets and ampersands outside code spans become entities
local function text(s)
  if type(s) ~= "string" then return "" end
  s = s:gsub("\r", ""):gsub("%s+$", "")
  local parts, i = {}, 0
  for piece in (s .. "`"):gmatch("([^`]*)`") do
    i = i + 1
    if i % 2 == 1 then
      piece = piece:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;")
    end
    parts[i] = piece
  end
  return table.concat(parts, "`")
end

-- one table cell: single line, no pipes; `raw`: our own text, not the document's
local function cell(s, raw)
  if not raw then s = text(s) end
  s = tostring(s):gsub("|", "\\|"):gsub("\n+", "<br>")
  return s
end

local function code(s)
  return "`" .. tostring(s) .. "`"
end

-- the document's operation object for an entry of OPS
local function doc_op(op)
  local item = DOC.paths[op.path]
  return item and item[op.method:lower()] or {}
end

-- Constraints ----------------------------------------------------------------

local function type_of(node)
  if node.one_of then
    local parts = {}
    for i, alt in ipairs(node.one_of) do parts[i] = type_of(alt) end
    return table.concat(parts, " or ")
  end
  local t = node.type or (node.properties and "object") or "any"
  if t == "array" and node.items then
    return "array of " .. type_of(node.items)
  end
  if node.nullable then t = t .. " or null" end
  return t
end

local function values_of(node)
  local parts = {}
  local enum = node.enum or (node.type == "array" and node.items and node.items.enum)
  if enum then
    local vs = {}
    for i, e in ipairs(enum) do vs[i] = code(type(e) == "number" and fmt_number(e) or tostring(e)) end
    parts[#parts + 1] = (node.enum and "one of " or "items one of ") .. table.concat(vs, ", ")
  end
  if node.minimum then
    parts[#parts + 1] = (node.exclusiveMinimum and "> " or ">= ") .. fmt_number(node.minimum)
  end
  if node.maximum then
    parts[#parts + 1] = (node.exclusiveMaximum and "< " or "<= ") .. fmt_number(node.maximum)
  end
  if node.minLength then parts[#parts + 1] = "length >= " .. node.minLength end
  if node.maxLength then parts[#parts + 1] = "length <= " .. node.maxLength end
  if node.minItems then parts[#parts + 1] = "at least " .. node.minItems .. " items" end
  if node.maxItems then parts[#parts + 1] = "at most " .. node.maxItems .. " items" end
  if node.pattern then parts[#parts + 1] = "matches " .. code(node.pattern) end
  if node.explode == false then parts[#parts + 1] = "a Lua array, sent comma-joined" end
  if node.vary then parts[#parts + 1] = "typed differently by other operations" end
  return table.concat(parts, "; ")
end

-- Rows -------------------------------------------------------------------------

-- rows for body fields: walks the constraint tree with the document's schema
local function body_rows(rows, node, schema, prefix, required_here)
  schema = resolve(schema) or {}
  if node.one_of then return end
  if node.type == "array" and node.items then
    local sub = resolve(schema.items) or {}
    if node.items.properties then
      body_rows(rows, node.items, sub, prefix .. "[]", true)
    end
    return
  end
  local props = node.properties
  if not props then return end
  local required = {}
  for _, k in ipairs(node.required or {}) do required[k] = true end
  local sprops = schema.properties or {}
  for _, k in ipairs(sorted_keys(props)) do
    local sub, ssub = props[k], resolve(sprops[k]) or {}
    local name = prefix == "" and k or prefix .. "." .. k
    rows[#rows + 1] = { name = name, where = "body", type = type_of(sub),
      required = required[k] and required_here, values = values_of(sub),
      description = ssub.description }
    body_rows(rows, sub, ssub, name, required[k] and required_here)
  end
end

local function param_docs(op)
  local out = {}
  for _, p in ipairs(doc_op(op).parameters or {}) do
    out[p["in"] .. ":" .. p.name] = p
  end
  return out
end

local function rows_for(op)
  local rows = {}
  local params = param_docs(op)
  for _, name in ipairs(op.path_params) do
    local p = params["path:" .. name] or {}
    local vals = {}
    if op.reserved and op.reserved[name] then
      local r = {}
      for i, v in ipairs(op.reserved[name]) do r[i] = code(v) end
      vals[1] = "percent-encoded; not " .. table.concat(r, ", ") .. " (another route)"
    else
      vals[1] = "percent-encoded"
    end
    rows[#rows + 1] = { name = name, where = "path", type = "string", required = true,
      values = vals[1], description = p.description }
  end
  for _, name in ipairs(sorted_keys(op.query)) do
    local node = op.query[name]
    local p = params["query:" .. name] or {}
    local desc = p.description
    if name == "dryRun" then
      desc = (desc and text(desc) .. " " or "") .. "Set by the `dry_run` option."
    end
    rows[#rows + 1] = { name = name, where = "query", type = type_of(node),
      required = node.required == true, values = values_of(node), description = desc }
  end
  local body = op.body
  if body then
    local rb = doc_op(op).requestBody
    local schema = rb and rb.content and rb.content["application/json"]
      and rb.content["application/json"].schema
    if op.body_is_array then
      rows[#rows + 1] = { name = "[]", where = "body", type = type_of(body), required = op.body_required,
        values = "the array part of the fields, or `body = {...}`",
        description = (resolve(schema) or {}).description }
      body_rows(rows, body, schema, "", true)
    else
      body_rows(rows, body, schema, "", true)
    end
  end
  return rows
end

local function yes(b) return b and "yes" or "" end

-- Hand-written methods -------------------------------------------------------

-- { [resource path] = { { name, signature, doc } ... } } from the `---`
-- comments of functions added to base.class(path) in lua/scenario/resources/*.lua
-- (dir: lua/scenario); each entry's file is relative to dir
local function hand_written(dir)
  local out = {}
  local p = io.popen('ls "' .. dir .. '"/resources/*.lua 2>/dev/null')
  if not p then return out end
  local files = {}
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  table.sort(files)
  for _, file in ipairs(files) do
    local src = read(file)
    local classes = {}
    for var, path in src:gmatch('local%s+([%w_]+)%s*=%s*base%.class%("([%w_.]+)"%)') do
      classes[var] = path
    end
    local comment = {}
    for line in (src .. "\n"):gmatch("([^\n]*)\n") do
      local c = line:match("^%-%-%-?%s?(.*)$")
      local var, sep, name, params = line:match("^function%s+([%w_]+)([:.])([%w_]+)%((.-)%)")
      if var and classes[var] then
        if sep == "." then params = params:gsub("^[%w_]+,?%s*", "") end
        local entries = out[classes[var]] or {}
        out[classes[var]] = entries
        entries[#entries + 1] = { name = name, params = params,
          doc = table.concat(comment, "\n"), file = file:match("[^/]+/[^/]+$") }
        comment = {}
      elseif c and line:match("^%-%-") then
        if line:match("^%-%-%-") then comment = {} end
        comment[#comment + 1] = c
      else
        comment = {}
      end
    end
  end
  for _, entries in pairs(out) do
    table.sort(entries, function(a, b) return a.name < b.name end)
  end
  return out
end

-- Output ---------------------------------------------------------------------

local by_resource, resources = {}, {}
local n_ops = 0
for _, id in ipairs(sorted_keys(OPS)) do
  local op = OPS[id]
  n_ops = n_ops + 1
  if not by_resource[op.resource] then
    by_resource[op.resource] = {}
    resources[#resources + 1] = op.resource
  end
  local list = by_resource[op.resource]
  list[#list + 1] = op
end
table.sort(resources)
for _, r in ipairs(resources) do
  table.sort(by_resource[r], function(a, b) return a.method_name < b.method_name end)
end

local lua_dir = ops_path:match("^(.*)/[^/]+$") or "."
local extra = hand_written(lua_dir)

local function anchor(resource, name)
  return (resource .. "-" .. name):gsub("[._]", "-")
end

local function signature(op)
  local args = {}
  for _, p in ipairs(op.path_params) do args[#args + 1] = p end
  args[#args + 1] = op.body_is_array and "{ item, ... }" or "fields"
  args[#args + 1] = "options"
  return ("client.%s:%s(%s)"):format(op.resource, op.method_name, table.concat(args, ", "))
end

local out = {}
local function w(...)
  for i = 1, select("#", ...) do out[#out + 1] = select(i, ...) end
end

w("# scenario-lua reference\n\n",
  "Generated by `api/docs.lua` (`make docs`) from `api/openapi.json` (", DOC.info.title, " ",
  DOC.info.version, ") and `lua/scenario/operations.lua`; do not edit.\n\n",
  ("%d operations, %d resources. "):format(n_ops, #resources),
  "Every method takes its path parameters positionally, then one table of fields ",
  "(each routed to the query or the body as listed below; a name that is both is given in ",
  "`query = {...}` or `body = {...}`), then options: `timeout`, `max_retries`, `headers`, ",
  "`dry_run`, `strict`. `client:call(operationId, fields, options)` reaches the same operation with the ",
  "path parameters by name in the fields. Every call returns its result, or `nil, err`; fields ",
  "are validated before anything is sent (see the README).\n\n",
  "Flags: **deprecated** (in the document; still callable, noted once in the debug log), ",
  "**dry run** (`{ dry_run = true }` returns the cost instead of a Job), ",
  "**paginated** (`:each{...}` iterates over every item of every page, `:pages{...}` over pages), ",
  "**never retried once sent** (paid or creating; retried only when the API surely did not ",
  "process it). In the tables, a nested field (`concepts[].scale`) marked required is required ",
  "when its parent is given.\n\n")

-- A hand-written method that replaces a generated one (client.workflows:run)
-- is documented inside the generated entry, not as a second entry.
local overrides = {}
for _, r in ipairs(resources) do
  local names = {}
  for _, op in ipairs(by_resource[r]) do names[op.method_name] = true end
  local kept = {}
  for _, h in ipairs(extra[r] or {}) do
    if names[h.name] then overrides[r .. ":" .. h.name] = h else kept[#kept + 1] = h end
  end
  extra[r] = kept
end

w("## Resources\n\n")
for _, r in ipairs(resources) do
  local links = {}
  for _, op in ipairs(by_resource[r]) do
    links[#links + 1] = ("[%s](#%s)"):format(op.method_name, anchor(r, op.method_name))
  end
  for _, h in ipairs(extra[r] or {}) do
    links[#links + 1] = ("[%s](#%s)"):format(h.name, anchor(r, h.name))
  end
  w("- **client.", r, "**: ", table.concat(links, ", "), "\n")
end
w("\n")

for _, r in ipairs(resources) do
  w("## client.", r, "\n\n")
  for _, op in ipairs(by_resource[r]) do
    local d = doc_op(op)
    w('<a id="', anchor(r, op.method_name), '"></a>\n\n')
    w("### `", signature(op), "`\n\n")
    w("`", op.method, " ", op.path, "` · operationId `", op.id, "`")
    if d.tags and d.tags[1] then w(" · ", table.concat(d.tags, ", ")) end
    w("\n\n")
    local h = overrides[r .. ":" .. op.method_name]
    if h then
      w("Wrapped by a hand-written method (`lua/scenario/", h.file, "`): `client.", r, ":",
        h.name, "(", h.params, ")`.", h.doc ~= "" and (" " .. text(h.doc)) or "", "\n\n")
    end
    local flags = {}
    if op.deprecated then flags[#flags + 1] = "**deprecated**" end
    if op.dry_run then flags[#flags + 1] = "**dry run**" end
    if op.paginated then
      -- the iterator names scenario.resources gives: list -> each / pages,
      -- list_public -> each_public / pages_public
      local suffix = op.method_name:match("^list(.*)$") or ("_" .. op.method_name)
      flags[#flags + 1] = ("**paginated** (`client.%s:each%s{...}` over items, `:pages%s{...}` over pages)")
        :format(r, suffix, suffix)
    end
    if op.unsafe then flags[#flags + 1] = "**never retried once sent**" end
    if op.auth == false then flags[#flags + 1] = "public (no credentials needed)" end
    if #flags > 0 then w("Flags: ", table.concat(flags, ", "), "\n\n") end
    local desc = text(d.summary or d.description)
    if d.summary and d.description then desc = desc .. "\n\n" .. text(d.description) end
    if desc ~= "" then w(desc, "\n\n") end
    if op.resource == "generate" or RETURNS_JOB[op.id] then
      w("Returns a Job (`job:wait()`, `job:download(dir)`), then the whole decoded answer (also",
        " `job.response`) and the response",
        op.dry_run and "; with `{ dry_run = true }` the cost table (`creativeUnitsCost`)" or "",
        ".\n\n")
    elseif op.result then
      w(("Returns the answer's `%s` object, then the whole decoded answer and the response.\n\n")
        :format(op.result))
    else
      w("Returns the decoded JSON answer, then the response.\n\n")
    end
    local rows = rows_for(op)
    if op.body and not op.body.properties and not op.body.type then
      w("The body is free-form: every field goes into it.\n\n")
    end
    if #rows == 0 then
      w("No parameters.\n\n")
    else
      w("| field | in | type | required | values | description |\n|---|---|---|---|---|---|\n")
      for _, row in ipairs(rows) do
        w("| `", row.name, "` | ", row.where, " | ", cell(row.type), " | ", yes(row.required), " | ",
          cell(row.values, true), " | ", cell(row.description), " |\n")
      end
      w("\n")
    end
  end
  for _, h in ipairs(extra[r] or {}) do
    w('<a id="', anchor(r, h.name), '"></a>\n\n')
    w("### `client.", r, ":", h.name, "(", h.params, ")`\n\n")
    w("Hand-written (`lua/scenario/", h.file, "`).\n\n")
    if h.doc ~= "" then w(text(h.doc), "\n\n") end
  end
end

local s = table.concat(out):gsub("\n\n+$", "\n")
if out_path == "-" then
  io.write(s)
else
  local dir = out_path:match("^(.*)/[^/]+$")
  if dir then os.execute('mkdir -p "' .. dir .. '"') end
  local tmp = out_path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  f:write(s)
  f:close()
  assert(os.rename(tmp, out_path))
  io.stderr:write(("docs: wrote %s (%d operations, %d bytes)\n"):format(out_path, n_ops, #s))
end
