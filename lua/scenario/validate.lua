--- Validation and routing of an operation's fields, before anything is sent.
--
-- `validate.check(op, fields, opts)` takes an entry of `scenario.operations`
-- and the caller's flat table of fields and returns the routed request
--
--     { path = "/assets/abc%20d", query = { name = "string", ... },
--       body = <table or nil>, unknown = { "field", ... } }
--
-- or `nil, problems`, a list of every problem found (not only the first),
-- each "<field path>: <what is wrong>", e.g. "concepts[2].scale: must be <= 2
-- (got 3)". Array indexes in field paths are 1-based, as in Lua.
--
-- Routing. Path parameters are taken by name and percent-encoded. Every other
-- field goes where the operation declares it: query parameter or body field.
-- A name declared in both must be given in an explicit `query = {...}` or
-- `body = {...}` sub-table (these keys are routing sub-tables only when they
-- hold a table and the operation declares no field of that name). Fields the
-- operation does not declare are sent anyway (the API moves faster than its
-- document): into the body, or into the query when the operation has no JSON
-- object body, and listed in `unknown` (nested ones by path, e.g.
-- "concepts[1].extra"); with `opts.strict` they are problems instead. An
-- operation whose body is free-form (generate.custom, workflows.run) takes
-- any field into its body without calling it unknown. `projectId`, used by the
-- API but declared nowhere, is a query parameter of every operation.
--
-- An operation whose body is a JSON array takes the items as the array part
-- of `fields` (or as `body = {...}`). Arrays in the returned body are marked
-- with the JSON array marker of `scenario.json` (so `{}` encodes as `[]`);
-- the body is a copy, the caller's tables are not modified.
--
-- Query values are serialised: booleans "true"/"false", integral numbers
-- without ".0", arrays with explode=false comma-joined (a string given for an
-- array parameter is taken as already joined; explode=true arrays come back
-- as a list of strings, none in the current document).
local cjson = require "cjson"
local compat = require "scenario.compat"
local format = require "scenario.format"
local field_path = format.field_path
local util = require "scenario.util"
local find, substring = string.find, string.sub

local M = {}

local NULL = cjson.null

local array_mt
do
  local ok, json = pcall(require, "scenario.json")
  array_mt = ok and type(json) == "table" and json.array_mt or { __name = "scenario.json.array" }
end
M.array_mt = array_mt

--- Query parameters accepted by every operation although no operation
-- declares them.
M.IMPLICIT_QUERY = { projectId = { type = "string" } }

-- Formatting (scenario.format) ---------------------------------------------

local fmt_number = format.number

-- a string value in a message: quoted, cut to 40 bytes
local function quote(s)
  if #s > 40 then s = s:sub(1, 37) .. "..." end
  return format.quote(s)
end

local function is_sequence(t)
  local n = 0
  for k in pairs(t) do
    if not compat.is_integer(k) or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end

--- True when v is a JSON array: marked with scenario.json.array, or a table
-- whose keys are exactly 1..n (an empty table counts).
function M.is_list(v)
  return type(v) == "table" and (getmetatable(v) == array_mt or is_sequence(v))
end

-- what a value is, for "(got ...)" after a type error
local function kind_of(v)
  if v == NULL then return "null" end
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "table" then
    if next(v) == nil then return "empty table" end
    return is_sequence(v) and "array" or "table"
  end
  return t
end

-- the value itself, for "(got ...)" after a range or enum error
local function show(v)
  if type(v) == "number" then return fmt_number(v) end
  if type(v) == "string" then return quote(v) end
  return kind_of(v)
end

local ARTICLE = {
  string = "a string", number = "a number", integer = "an integer", boolean = "a boolean",
  array = "an array", object = "an object",
}

local NO_KEYS = {}

local function sorted_string_keys(t)
  if next(t) == nil then return NO_KEYS end       -- most calls have no query, no extra fields
  local ks = {}
  for k in pairs(t) do
    if type(k) == "string" then ks[#ks + 1] = k end
  end
  table.sort(ks)
  return ks
end

-- Suggestions -------------------------------------------------------------

-- The edit distance of a and b (optimal string alignment: insertions,
-- deletions, substitutions and swaps of two neighbours), ignoring case;
-- stops early and returns limit + 1 once it is known to exceed limit.
local function distance(a, b, limit)
  a, b = a:lower(), b:lower()
  local la, lb = #a, #b
  if math.abs(la - lb) > limit then return limit + 1 end
  local prev2, prev, cur = {}, {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local best = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = ca == b:byte(j) and 0 or 1
      local d = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and ca == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d = math.min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
      if d < best then best = d end
    end
    if best > limit then return limit + 1 end
    prev2, prev, cur = prev, cur, prev2
  end
  return prev[lb]
end

--- The name among `candidates` (a list of strings) closest to `name`, when
-- it is close enough to be a likely typo: an edit distance of at most 1 for
-- names of up to 4 letters, 2 up to 8, then 3. Ties go to the first in
-- sorted order. Returns nil when none is close.
function M.suggest(name, candidates)
  if type(name) ~= "string" then return nil end
  local limit = #name <= 4 and 1 or (#name <= 8 and 2 or 3)
  local best, best_d
  local sorted = {}
  for i = 1, #candidates do sorted[i] = candidates[i] end
  table.sort(sorted)
  for _, c in ipairs(sorted) do
    if c ~= name then
      local d = distance(name, c, best_d and best_d - 1 or limit)
      if d <= limit and (not best_d or d < best_d) then best, best_d = c, d end
    end
  end
  return best
end

-- Notes a field that the operation does not declare; `known` is the table
-- of the names declared beside it (a properties table), for the suggestion
-- (top-level fields get theirs in M.check, from every name of the operation).
local function note_unknown(ctx, path, known)
  ctx.unknown[#ctx.unknown + 1] = path
  if known then ctx.known[path] = known end
end

-- Problems ----------------------------------------------------------------

local function add(ctx, path, msg)
  -- nil: the body itself; "": its field of an empty name (shown as before)
  ctx.problems[#ctx.problems + 1] = ((path == nil or path == "") and "body" or path) .. ": " .. msg
end

local function type_problem(ctx, path, node, v)
  add(ctx, path, ("must be %s%s (got %s)"):format(
    ARTICLE[node.type] or node.type, node.vary and " for this operation" or "", kind_of(v)))
end

local function enum_text(enum)
  local parts = {}
  for i, e in ipairs(enum) do
    if i > 12 then
      parts[#parts + 1] = ("... (%d values)"):format(#enum)
      break
    end
    parts[#parts + 1] = type(e) == "number" and fmt_number(e) or tostring(e)
  end
  return table.concat(parts, ", ")
end

local function check_enum(ctx, path, node, v)
  if not node.enum then return true end
  for _, e in ipairs(node.enum) do
    if e == v then return true end
  end
  add(ctx, path, ("must be one of %s (got %s)"):format(enum_text(node.enum), show(v)))
  return false
end

local function check_range(ctx, path, node, v)
  if node.minimum then
    if node.exclusiveMinimum and v <= node.minimum then
      add(ctx, path, ("must be > %s (got %s)"):format(fmt_number(node.minimum), fmt_number(v)))
    elseif v < node.minimum then
      add(ctx, path, ("must be >= %s (got %s)"):format(fmt_number(node.minimum), fmt_number(v)))
    end
  end
  if node.maximum then
    if node.exclusiveMaximum and v >= node.maximum then
      add(ctx, path, ("must be < %s (got %s)"):format(fmt_number(node.maximum), fmt_number(v)))
    elseif v > node.maximum then
      add(ctx, path, ("must be <= %s (got %s)"):format(fmt_number(node.maximum), fmt_number(v)))
    end
  end
end

-- Body values -------------------------------------------------------------

local check_value

local function check_string(ctx, path, node, v)
  if type(v) ~= "string" then return type_problem(ctx, path, node, v) end
  if not check_enum(ctx, path, node, v) then return end
  local len = compat.utf8_len(v)
  if node.minLength and len < node.minLength then
    add(ctx, path, ("must be at least %d characters long (got %d)"):format(node.minLength, len))
  end
  if node.maxLength and len > node.maxLength then
    add(ctx, path, ("must be at most %d characters long (got %d)"):format(node.maxLength, len))
  end
  if node.lua_pattern and not v:find(node.lua_pattern) then
    add(ctx, path, ("must match %s (got %s)"):format(node.pattern, quote(v)))
  end
end

local function check_number(ctx, path, node, v)
  if type(v) ~= "number" then return type_problem(ctx, path, node, v) end
  if v ~= v or v == math.huge or v == -math.huge then
    return add(ctx, path, ("must be a finite number (got %s)"):format(fmt_number(v)))
  end
  if node.type == "integer" and not compat.is_integer(v) then
    return add(ctx, path, ("must be an integer (got %s)"):format(fmt_number(v)))
  end
  if check_enum(ctx, path, node, v) then check_range(ctx, path, node, v) end
end

local function check_array(ctx, path, node, v)
  if not M.is_list(v) then
    type_problem(ctx, path, node, v)
    return v
  end
  local out = setmetatable({}, array_mt)
  for i = 1, #v do
    out[i] = node.items and check_value(node.items, v[i], field_path(path, i), ctx) or v[i]
  end
  if node.minItems and #v < node.minItems then
    add(ctx, path, ("must have at least %d items (got %d)"):format(node.minItems, #v))
  end
  if node.maxItems and #v > node.maxItems then
    add(ctx, path, ("must have at most %d items (got %d)"):format(node.maxItems, #v))
  end
  return out
end

local function check_object(ctx, path, node, v)
  if type(v) ~= "table" or getmetatable(v) == array_mt or (next(v) ~= nil and is_sequence(v)) then
    type_problem(ctx, path, node, v)
    return v
  end
  local props = node.properties
  local out = {}
  for _, name in ipairs(node.required or {}) do
    if v[name] == nil then add(ctx, field_path(path, name), "required") end
  end
  for k in pairs(v) do
    if type(k) ~= "string" then
      add(ctx, path, ("field names must be strings (got %s)"):format(show(k)))
    end
  end
  for _, k in ipairs(sorted_string_keys(v)) do
    local sub = props and props[k]
    local extra = node.additionalProperties
    if sub then
      out[k] = check_value(sub, v[k], field_path(path, k), ctx)
    elseif extra == false then
      add(ctx, field_path(path, k), "is not an allowed field")
    elseif type(extra) == "table" then
      out[k] = check_value(extra, v[k], field_path(path, k), ctx)
    else
      out[k] = v[k]
      -- an object without declared properties is free-form
      if props then note_unknown(ctx, field_path(path, k), props) end
    end
  end
  return out
end

local function check_one_of(ctx, path, node, v)
  local first
  for _, alt in ipairs(node.one_of) do
    local sub = { problems = {}, unknown = {}, known = {} }
    local out = check_value(alt, v, path, sub)
    if #sub.problems == 0 then
      for _, u in ipairs(sub.unknown) do note_unknown(ctx, u, sub.known[u]) end
      return out
    end
    first = first or sub.problems[1]
  end
  add(ctx, path, "matches none of the allowed forms (first: " .. tostring(first) .. ")")
  return v
end

-- Checks v against node; returns the value to send (a copy for tables).
check_value = function(node, v, path, ctx)
  if v == NULL then
    if not node.nullable and (node.type or node.one_of) then type_problem(ctx, path, node, v) end
    return v
  end
  if node.one_of then return check_one_of(ctx, path, node, v) end
  local t = node.type or (node.properties and "object")
  if t == "string" then
    check_string(ctx, path, node, v)
  elseif t == "number" or t == "integer" then
    check_number(ctx, path, node, v)
  elseif t == "boolean" then
    if type(v) ~= "boolean" then type_problem(ctx, path, node, v) end
  elseif t == "array" then
    return check_array(ctx, path, node, v)
  elseif t == "object" then
    return check_object(ctx, path, node, v)
  end
  return v
end

-- Query values ------------------------------------------------------------

-- a scalar query value as its string, checked against node
local function query_scalar(ctx, path, node, v)
  local t = node and node.type or "string"
  local s
  if type(v) == "table" or v == NULL or (type(v) ~= "string" and type(v) ~= "number"
      and type(v) ~= "boolean") then
    add(ctx, path, ("must be %s (got %s)"):format(ARTICLE[t] or t, kind_of(v)))
    return nil
  end
  if t == "boolean" then
    if v == true or v == "true" then
      s = "true"
    elseif v == false or v == "false" then
      s = "false"
    else
      add(ctx, path, ("must be a boolean (got %s)"):format(kind_of(v)))
      return nil
    end
  elseif t == "integer" or t == "number" then
    local n = v
    if type(v) == "string" then n = tonumber(v) end
    if type(n) ~= "number" or (t == "integer" and not compat.is_integer(n))
        or n ~= n or n == math.huge or n == -math.huge then
      add(ctx, path, ("must be %s (got %s)"):format(ARTICLE[t], show(v)))
      return nil
    end
    check_range(ctx, path, node, n)
    s = type(v) == "string" and v or fmt_number(n)
  else
    if type(v) == "number" then
      s = fmt_number(v)
    else
      s = tostring(v)
    end
  end
  if node and node.enum then
    local ok = false
    for _, e in ipairs(node.enum) do
      if tostring(e) == s then ok = true end
    end
    if not ok then
      add(ctx, path, ("must be one of %s (got %s)"):format(enum_text(node.enum), show(v)))
    end
  end
  return s
end

local function query_value(ctx, name, node, v)
  local is_array = node and node.type == "array"
  if type(v) == "table" and v ~= NULL and (is_array or not node) then
    if not is_sequence(v) then
      add(ctx, name, ("must be an array (got %s)"):format(kind_of(v)))
      return nil
    end
    local items, parts = node and node.items, {}
    for i, x in ipairs(v) do
      parts[i] = query_scalar(ctx, field_path(name, i), items, x) or ""
    end
    if node and node.explode ~= false then return parts end
    return table.concat(parts, ",")
  end
  if is_array then
    -- a string is taken as the list already joined
    local s = query_scalar(ctx, name, { type = "string" }, v)
    if s and node.items and node.items.enum then
      local i = 0
      for item in (s .. ","):gmatch("([^,]*),") do
        i = i + 1
        query_scalar(ctx, field_path(name, i), node.items, item)
      end
    end
    return s
  end
  return query_scalar(ctx, name, node, v)
end

-- Path --------------------------------------------------------------------

local function percent(c)
  return string.format("%%%02X", c:byte())
end

--- Percent-encodes one path segment: RFC 3986 unreserved characters
-- (A-Z a-z 0-9 - . _ ~) are kept, every other byte becomes %XX.
function M.encode_path_segment(s)
  if type(s) == "number" then s = fmt_number(s) end
  s = tostring(s)
  -- ids: nothing to encode (one anchored match: a third of the cost of
  -- looking for a byte outside the set)
  if find(s, "^[A-Za-z0-9%-%._~]*$") then return s end
  return (s:gsub("[^A-Za-z0-9%-%._~]", percent))
end

local function build_path(ctx, op, fields)
  local path = op.path
  for _, name in ipairs(op.path_params or {}) do
    local v = fields[name]
    local seg
    if v == nil or v == "" then
      add(ctx, name, "required")
    elseif type(v) == "string" or compat.is_integer(v) then
      seg = M.encode_path_segment(v)
      for _, r in ipairs(op.reserved and op.reserved[name] or {}) do
        if seg == r then
          local other = op.path:gsub("{" .. name .. "}", r)
          add(ctx, name, ("%s cannot be sent: %s reaches another route"):format(show(v), other))
        end
      end
    else
      add(ctx, name, ("must be a string (got %s)"):format(kind_of(v)))
    end
    if seg then
      local a, b = path:find("{" .. name .. "}", 1, true)
      path = path:sub(1, a - 1) .. seg .. path:sub(b + 1)
    end
  end
  return path
end

-- Check -------------------------------------------------------------------

-- The routing of a check: what the operation declares, and the routing
-- sub-tables `query = {...}` and `body = {...}` when they are ones.
local function routing(op, fields)
  local rt = { op = op, fields = fields, declared_query = op.query or NO_KEYS, body_node = op.body }
  rt.props = rt.body_node and rt.body_node.properties
  rt.object_body = rt.body_node ~= nil and not op.body_is_array
  local taken = {}
  for _, name in ipairs(op.path_params or {}) do taken[name] = true end
  rt.taken = taken
  local function declared(name)
    return taken[name] or rt.declared_query[name] ~= nil or (rt.props and rt.props[name]) ~= nil
  end
  rt.explicit_query = not declared("query") and type(fields.query) == "table" and fields.query or nil
  rt.explicit_body = not declared("body") and type(fields.body) == "table" and fields.body or nil
  return rt
end

-- Routes the flat fields: query parameters to rt.query_in, body fields to
-- rt.body_in (unknown ones are noted while checking the body), unknown
-- query parameters to rt.unknown_query; counts the positional values.
local function route_fields(ctx, rt)
  local fields, declared_query, props = rt.fields, rt.declared_query, rt.props
  rt.query_in, rt.body_in, rt.unknown_query = {}, {}, {}
  rt.positional, rt.n_positional = false, 0
  for k in pairs(fields) do
    if compat.is_integer(k) then
      rt.positional, rt.n_positional = true, rt.n_positional + 1
    elseif type(k) ~= "string" then
      add(ctx, "fields", ("field names must be strings (got %s)"):format(show(k)))
    end
  end
  for _, k in ipairs(sorted_string_keys(fields)) do
    local v = fields[k]
    -- path parameters and routing sub-tables are taken care of elsewhere
    local routed = rt.taken[k] or (k == "query" and rt.explicit_query) or (k == "body" and rt.explicit_body)
    if not routed then
      if declared_query[k] and props and props[k] then
        add(ctx, k, "is both a query parameter and a body field: give it in query = {...}"
          .. " or body = {...}")
      elseif declared_query[k] or (M.IMPLICIT_QUERY[k] and not (props and props[k])) then
        rt.query_in[k] = v
      elseif rt.object_body then
        rt.body_in[k] = v
      else
        rt.query_in[k] = v
        rt.unknown_query[k] = true
      end
    end
  end
end

-- Adds the fields of `query = {...}` to the query parameters.
local function route_explicit_query(ctx, rt)
  local explicit = rt.explicit_query
  if not explicit then return end
  for _, k in ipairs(sorted_string_keys(explicit)) do
    if rt.query_in[k] ~= nil then
      add(ctx, k, "given both as a field and in query = {...}")
    else
      rt.query_in[k] = explicit[k]
      if not rt.declared_query[k] and not M.IMPLICIT_QUERY[k] then rt.unknown_query[k] = true end
    end
  end
end

-- The body: the items of an array body (the array part of the fields, or
-- body = {...}) into rt.body_value; the fields of `body = {...}` added to
-- those of an object body.
local function route_body(ctx, rt)
  local op, fields, explicit = rt.op, rt.fields, rt.explicit_body
  if explicit and not rt.body_node then
    add(ctx, "body", ("%s %s takes no request body"):format(op.method or "", op.path or ""))
  elseif op.body_is_array then
    if rt.positional and explicit then
      add(ctx, "body", "give the items either as the array part of the fields or as body = {...}")
    elseif rt.positional then
      if rt.n_positional ~= #fields then add(ctx, "fields", "the array part has holes") end
      rt.body_value = compat.slice(fields, 1, #fields)
    else
      rt.body_value = explicit
    end
  elseif rt.positional then
    add(ctx, "fields", "positional values are only accepted by operations whose body is an array")
  end
  if not (rt.object_body and explicit) then return end
  for k in pairs(explicit) do
    if type(k) ~= "string" then
      add(ctx, "body", ("field names must be strings (got %s)"):format(show(k)))
      break
    end
  end
  for _, k in ipairs(sorted_string_keys(explicit)) do
    if rt.body_in[k] ~= nil then
      add(ctx, k, "given both as a field and in body = {...}")
    else
      rt.body_in[k] = explicit[k]
    end
  end
end

-- The query parameters, checked and serialised; required ones missing and
-- unknown ones noted.
local function check_query(ctx, rt)
  local query, declared_query = {}, rt.declared_query
  for _, k in ipairs(sorted_string_keys(rt.query_in)) do
    local node = declared_query[k] or M.IMPLICIT_QUERY[k]
    query[k] = query_value(ctx, k, node, rt.query_in[k])
  end
  for _, k in ipairs(util.sorted_keys_of(declared_query)) do   -- a table of the document
    if declared_query[k].required and rt.query_in[k] == nil then add(ctx, k, "required") end
  end
  for _, k in ipairs(sorted_string_keys(rt.unknown_query)) do note_unknown(ctx, k) end
  return query
end

-- The body, checked against the operation's (a copy to send), or nil.
local function check_body(ctx, rt)
  local op, body_value = rt.op, rt.body_value
  if op.body_is_array then
    if body_value == nil and op.body_required then body_value = {} end
    if body_value ~= nil then return check_value(rt.body_node, body_value, nil, ctx) end
  elseif rt.object_body and (next(rt.body_in) ~= nil or op.body_required) then
    return check_value(rt.body_node, rt.body_in, nil, ctx) -- a schema-less body is free-form
  end
end

-- unknown field path -> the declared name it is likely a typo of. A
-- top-level field is compared with every name of the operation (path, query
-- and body); a nested one with the names declared beside it.
local function suggest_unknown(ctx, rt)
  local suggestions = {}
  if #ctx.unknown == 0 then return suggestions end
  local top = {}
  for _, name in ipairs(rt.op.path_params or {}) do top[#top + 1] = name end
  for _, t in ipairs { rt.declared_query, rt.props or {} } do
    for name in pairs(t) do
      if type(name) == "string" then top[#top + 1] = name end
    end
  end
  for _, u in ipairs(ctx.unknown) do
    local candidates = top
    if u:find("[%.%[]") then
      candidates = sorted_string_keys(ctx.known[u] or {})
    end
    local leaf = u:match("([^%.%]]+)$")
    suggestions[u] = M.suggest(leaf, candidates)
  end
  return suggestions
end

--- Whether a call of `op` refuses fields the document does not declare:
-- the call's `allow_unknown = true` sends them, else the call's `strict`,
-- else the client's `strict` decides; when neither is set, operations that
-- spend (unsafe: generations, uploads, copies...) refuse them, so that a
-- misspelt field of a paid call is never silently dropped by the API, and
-- reads send them.
function M.strict_for(op, client_strict, options)
  if options and options.allow_unknown then return false end
  if options and options.strict ~= nil then return options.strict end
  if client_strict ~= nil then return client_strict end
  return op.unsafe == true
end

-- Shared by every path_only answer; nothing writes to them.
local NONE = setmetatable({}, { __newindex = function() error("read-only", 2) end })

-- op -> its path cut around its parameters, made once:
-- { text, name, text, name, ..., text }
local templates = setmetatable({}, { __mode = "k" })

local function template_of(op)
  local at = {}
  for _, name in ipairs(op.path_params) do
    local a, b = find(op.path, "{" .. name .. "}", 1, true)
    at[#at + 1] = { a, b, name }
  end
  table.sort(at, function(x, y) return x[1] < y[1] end)
  local t, pos = {}, 1
  for _, p in ipairs(at) do
    t[#t + 1] = substring(op.path, pos, p[1] - 1)
    t[#t + 1] = p[3]
    pos = p[2] + 1
  end
  t[#t + 1] = substring(op.path, pos)
  templates[op] = t
  return t
end

-- Whether op's path is all its route: path parameters, and no query
-- parameter, body or reserved value to check.
local function path_is_route(op)
  local names = op.path_params
  return names ~= nil and #names > 0 and not op.body and not op.reserved
    and not (op.query and next(op.query) ~= nil)
end

--- The path of an operation whose one parameter is its one path parameter
-- (GET /jobs/{jobId}) for the value v, a non-empty string; nil for any
-- other operation or value (then validate.check says what is wrong).
function M.single_path(op, v)
  if type(v) ~= "string" or v == "" or not path_is_route(op) or #op.path_params ~= 1 then
    return nil
  end
  local t = templates[op] or template_of(op)
  return t[1] .. M.encode_path_segment(v) .. t[3]
end

--- The route of an operation that takes only path parameters (GET
-- /jobs/{jobId}, most reads of one resource) when the fields are exactly
-- those, as non-empty strings: the path is the whole of the work, so the
-- general routing's tables are not built. Anything else gives nil.
function M.path_only(op, fields)
  if not path_is_route(op) then return nil end
  local n = #op.path_params
  local count = 0
  for _, v in next, fields do
    count = count + 1
    if type(v) ~= "string" or v == "" then return nil end
  end
  if count ~= n then return nil end
  local t = templates[op] or template_of(op)
  local path = t[1]
  for i = 2, #t, 2 do
    local v = fields[t[i]]
    if v == nil then return nil end             -- a field that is not a path parameter
    path = path .. M.encode_path_segment(v) .. t[i + 1]
  end
  return { path = path, query = NONE, unknown = NONE, suggestions = NONE }
end

--- Validates and routes `fields` for operation `op`.
-- opts.strict: unknown fields are problems ("numSample: unknown field (did
-- you mean numSamples?)").
-- Returns { path, query, body, unknown, suggestions } or nil, problems;
-- `suggestions` maps an unknown field's path to the declared name it is
-- likely a typo of.
function M.check(op, fields, opts)
  opts = opts or {}
  if fields == nil then fields = {} end
  if type(fields) ~= "table" then
    return nil, { ("fields: must be a table (got %s)"):format(kind_of(fields)) }
  end
  local fast = M.path_only(op, fields)
  if fast then return fast end
  local ctx = { problems = {}, unknown = {}, known = {} }
  local rt = routing(op, fields)
  local path = build_path(ctx, op, fields)
  route_fields(ctx, rt)
  route_explicit_query(ctx, rt)
  route_body(ctx, rt)
  local query = check_query(ctx, rt)
  local body = check_body(ctx, rt)
  local suggestions = suggest_unknown(ctx, rt)
  if opts.strict then
    for _, u in ipairs(ctx.unknown) do
      local s = suggestions[u]
      add(ctx, u, "unknown field" .. (s and " (did you mean " .. s .. "?)" or ""))
    end
  end
  if #ctx.problems > 0 then return nil, ctx.problems end
  return { path = path, query = query, body = body, unknown = ctx.unknown,
    suggestions = suggestions }
end

return M
