--- Valid sample fields for an operation, built from its generated constraints
-- (lua/scenario/operations.lua), for the contract tests.
--
--   local samples = require "support.samples"
--   samples.path_args(op)                    --> { "asset-1" }  (path order)
--   samples.fields(op)                       --> required fields only
--   samples.fields(op, { optional = true })  --> every declared field, nested too
--   samples.value(node, name)                --> one valid value for a constraint
--
-- Values follow the constraints: the first enum value, a number inside
-- minimum/maximum (exclusive bounds respected, integers integral), strings
-- within minLength/maxLength and matching `pattern` (a small generator for the
-- regular expressions the document uses; a pattern it cannot read is an
-- error, never silently ignored), arrays with minItems items (two for query
-- arrays, so that they are comma-joined), objects with their required
-- properties. `dryRun` is never sampled: dry runs are the `dry_run` option.
-- Path parameters are simple ids ("asset-1") that no literal route shadows.
local M = {}
local compat = require "scenario.compat"

-- Regular expressions ------------------------------------------------------

-- A character class as a list of {from, to} byte ranges.
local function parse_class(body)
  local ranges, negated, i = {}, false, 1
  if body:sub(1, 1) == "^" then negated, i = true, 2 end
  local function one_char()
    local c = body:sub(i, i)
    if c == "\\" then
      local e = body:sub(i + 1, i + 1)
      i = i + 2
      if e == "d" then return nil, { { 48, 57 } } end
      if e == "w" then return nil, { { 48, 57 }, { 65, 90 }, { 95, 95 }, { 97, 122 } } end
      if e == "s" then return nil, { { 32, 32 } } end
      return e:byte()
    end
    i = i + 1
    return c:byte()
  end
  while i <= #body do
    local lo, set = one_char()
    if set then
      for _, r in ipairs(set) do ranges[#ranges + 1] = r end
    elseif body:sub(i, i) == "-" and i < #body then
      i = i + 1
      local hi = one_char()
      ranges[#ranges + 1] = { lo, hi }
    else
      ranges[#ranges + 1] = { lo, lo }
    end
  end
  return { ranges = ranges, negated = negated }
end

local function in_class(class, byte)
  local hit = false
  for _, r in ipairs(class.ranges) do
    if byte >= r[1] and byte <= r[2] then hit = true end
  end
  if class.negated then return not hit end
  return hit
end

local PREFERRED = "sample-value-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_ ."

-- the n-th character of a sample drawn from `class`: the preferred text where
-- the class allows it, otherwise the first printable member
local function class_char(class, n)
  local want = PREFERRED:byte((n - 1) % 12 + 1)
  if in_class(class, want) then return string.char(want) end
  for k = 1, #PREFERRED do
    local b = PREFERRED:byte(k)
    if in_class(class, b) then return string.char(b) end
  end
  for b = 33, 126 do
    if in_class(class, b) then return string.char(b) end
  end
  error("samples: empty character class")
end

local ESCAPES = { d = "[0-9]", w = "[A-Za-z0-9_]", s = "[ ]" }

--- A string matching `pattern` (an ECMA regular expression made of anchors,
-- literals, escapes, character classes, `.` and the quantifiers ? * + {n}
-- {n,} {n,m}), about `length` characters long where quantifiers allow.
function M.from_pattern(pattern, length)
  length = length or 8
  local atoms, i = {}, 1
  local src = pattern
  while i <= #src do
    local c = src:sub(i, i)
    local atom
    if c == "^" and i == 1 or c == "$" and i == #src then
      i = i + 1
    elseif c == "[" then
      local j = i + 1
      if src:sub(j, j) == "^" then j = j + 1 end
      if src:sub(j, j) == "]" then j = j + 1 end
      while j <= #src and src:sub(j, j) ~= "]" do
        if src:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      if j > #src then error("samples: unterminated class in pattern " .. pattern) end
      atom = { class = parse_class(src:sub(i + 1, j - 1)) }
      i = j + 1
    elseif c == "\\" then
      local e = src:sub(i + 1, i + 1)
      if ESCAPES[e] then
        atom = { class = parse_class(ESCAPES[e]:sub(2, -2)) }
      else
        atom = { literal = e }
      end
      i = i + 2
    elseif c == "." then
      atom = { class = parse_class("a-z") }
      i = i + 1
    elseif c:find("[%(%)|]") then
      error("samples: groups and alternatives are not supported in pattern " .. pattern)
    else
      atom = { literal = c }
      i = i + 1
    end
    if atom then
      local q = src:sub(i, i)
      local min, max = 1, 1
      if q == "?" then
        min, max, i = 0, 1, i + 1
      elseif q == "*" then
        min, max, i = 0, math.huge, i + 1
      elseif q == "+" then
        min, max, i = 1, math.huge, i + 1
      elseif q == "{" then
        local a, b, close = src:match("^{(%d+)(,?%d*)}()", i)
        if not a then error("samples: bad quantifier in pattern " .. pattern) end
        min = tonumber(a)
        if b == "" then
          max = min
        elseif b == "," then
          max = math.huge
        else
          max = tonumber(b:sub(2))
        end
        i = close
      end
      atom.min, atom.max = min, max
      atoms[#atoms + 1] = atom
    end
  end
  -- spread the wanted length over the repeatable atoms
  local fixed, open = 0, 0
  for _, a in ipairs(atoms) do
    fixed = fixed + a.min
    if a.max > a.min then open = open + 1 end
  end
  local extra = math.max(length - fixed, 0)
  local out, n = {}, 0
  for _, a in ipairs(atoms) do
    local count = a.min
    if a.max > a.min and open > 0 then
      local give = math.min(a.max - a.min, math.ceil(extra / open))
      count, extra, open = count + give, extra - give, open - 1
    end
    for _ = 1, count do
      n = n + 1
      out[#out + 1] = a.literal or class_char(a.class, n)
    end
  end
  return table.concat(out)
end

-- Values -------------------------------------------------------------------

local function lower_name(name)
  return type(name) == "string" and name:lower() or ""
end

-- a plain string for a field, by what its name suggests
local function plain_string(name, index)
  local n = lower_name(name)
  if n:find("after$") or n:find("before$") or n:find("date$") or tostring(name):find("At$") then
    return "2025-01-02T03:04:05.000Z"
  elseif n:find("url$") then
    return "https://example.com/sample-" .. (index or 1) .. ".png"
  elseif n:find("ids?$") then
    return "sample-id-" .. (index or 1)
  elseif n:find("prompt") or n:find("description") or n == "text" or n == "instruction" then
    return "a lighthouse on a cliff at dusk"
  elseif n:find("name$") then
    return "sample name"
  end
  return "sample"
end

local function sample_string(node, name, index)
  if node.enum then return node.enum[1] end
  local min, max = node.minLength or 0, node.maxLength or math.huge
  local s
  if node.pattern then
    s = M.from_pattern(node.pattern, math.max(min, math.min(8, max)))
  else
    s = plain_string(name, index)
  end
  local len = compat.utf8_len(s)
  if len > max then s = s:sub(1, max) end
  while #s < min do s = s .. "x" end
  if node.lua_pattern and not s:find(node.lua_pattern) then
    error(("samples: %q does not match %s (field %s)"):format(s, node.pattern, tostring(name)))
  end
  return s
end

local function sample_number(node)
  if node.enum then return node.enum[1] end
  local int = node.type == "integer"
  local lo, hi = node.minimum, node.maximum
  -- a bound like 1.79e308 or 2^53 - 1 only says "any size": stay near the other one
  if hi and (lo or 0) + 1e6 < hi then hi = nil end
  if lo and lo < (hi or 0) - 1e6 then lo = nil end
  local v
  if lo and hi then
    v = (lo + hi) / 2
    if int then
      v = math.floor(v)
      if v < lo or (node.exclusiveMinimum and v <= lo) then v = math.ceil((lo + hi) / 2) end
    end
  elseif lo then
    if node.exclusiveMinimum then
      v = int and math.floor(lo) + 1 or lo + (lo == 0 and 0.0001 or math.abs(lo) / 2)
    else
      v = int and math.ceil(lo) or lo
    end
  elseif hi then
    if 1 < hi then
      v = 1
    elseif node.exclusiveMaximum then
      v = int and math.ceil(hi) - 1 or hi - 1
    else
      v = int and math.floor(hi) or hi
    end
  else
    v = int and 1 or 0.5
  end
  if int then v = compat.tointeger(v) or error("samples: no integer for " .. tostring(lo) .. ".." .. tostring(hi)) end
  return v
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

--- A valid value for constraint `node` of a field called `name`.
-- opts.optional: include the optional properties of objects too.
-- opts.items: how many array items (at least minItems; default 1).
-- opts.index: the position of the value in its array (ids differ: "sample-id-2").
function M.value(node, name, opts)
  opts = opts or {}
  if node.one_of then return M.value(node.one_of[1], name, opts) end
  local t = node.type or (node.properties and "object")
  if t == "string" then
    return sample_string(node, name, opts.index)
  elseif t == "integer" or t == "number" then
    return sample_number(node)
  elseif t == "boolean" then
    return true
  elseif t == "array" then
    local n = math.max(node.minItems or 0, opts.items or 1)
    if node.maxItems then n = math.min(n, node.maxItems) end
    local out = {}
    local items = node.items or { type = "string" }
    for i = 1, n do
      if items.enum and items.enum[i] ~= nil then
        out[i] = items.enum[i] -- distinct values
      else
        out[i] = M.value(items, name, { optional = opts.optional, index = i })
      end
    end
    return out
  elseif t == "object" then
    local out = {}
    local required = {}
    for _, k in ipairs(node.required or {}) do required[k] = true end
    for _, k in ipairs(sorted_keys(node.properties or {})) do
      if required[k] or opts.optional then
        out[k] = M.value(node.properties[k], k, { optional = opts.optional })
      end
    end
    return out
  end
  -- no type: any JSON value
  return plain_string(name)
end

--- The path parameters of op, positionally: "assetId" -> "asset-1".
function M.path_args(op)
  local out = {}
  for i, name in ipairs(op.path_params or {}) do
    out[i] = (name:gsub("Id$", "")) .. "-" .. i
  end
  return out
end

-- a free-form body (generate.custom, workflows.run): inputs by name
local FREE_FORM = { prompt = "a lighthouse on a cliff at dusk", numSamples = 1 }

--- Valid fields for op (path parameters not included). opts.optional: every
-- declared query parameter and body field, nested ones too, instead of the
-- required ones only.
function M.fields(op, opts)
  opts = opts or {}
  local fields = {}
  for _, k in ipairs(sorted_keys(op.query or {})) do
    local node = op.query[k]
    if k ~= "dryRun" and (node.required or opts.optional) then
      fields[k] = M.value(node, k, { items = 2 })
    end
  end
  local body = op.body
  if body and op.body_is_array then
    local items = M.value(body, "body", { optional = true, items = 2 })
    for i = 1, #items do fields[i] = items[i] end
  elseif body and not body.properties and not body.type then
    for k, v in pairs(FREE_FORM) do fields[k] = v end
  elseif body then
    local b = M.value(body, "body", { optional = opts.optional })
    local both = false
    for k in pairs(b) do
      if fields[k] ~= nil then both = true end
    end
    if both then
      -- a name that is both a query parameter and a body field: explicit routing
      local query = fields
      fields = { query = query, body = b }
    else
      for k, v in pairs(b) do fields[k] = v end
    end
  end
  return fields
end

return M
