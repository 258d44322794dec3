--- JSON. Decoding is lua-cjson's (on a private instance, so that the caller's
-- cjson settings are left alone). Encoding is done here: Debian's cjson 2.1
-- cannot write an empty array, loses integer precision past 14 digits and
-- accepts tables that mix array and object keys. This encoder writes
-- integers exactly, floats with the fewest digits (15 to 17) that read back
-- the same (scenario.format), `json.array{}` as `[]`, and refuses
-- what JSON cannot say (NaN, cycles, mixed or non-string keys) with a message
-- naming the field.
local cjson = require "cjson.safe"
local compat = require "scenario.compat"
local format = require "scenario.format"

local M = {}
local rawlen = compat.rawlen
local huge = math.huge
local J = cjson.new()
J.decode_max_depth(256)

M.null = J.null
local array_mt = { __name = "scenario.json.array" }
M.array_mt = array_mt

-- Integers past 2^53 have no exact double: lua-cjson would round them (and
-- there is no integer subtype on LuaJIT, 5.1 and 5.2 to hold them anyway).
-- An answer's integer of 16 digits or more that a double would round is
-- decoded as its decimal string instead, on every version, so an id or a
-- count is never silently changed. Strings are skipped while scanning.
local function quote_big_integers(s)
  local out, pos, n = {}, 1, #s
  local i = 1
  while i <= n do
    local c = s:byte(i)
    if c == 34 then                                  -- a string: skip to its end
      local j = i + 1
      while true do
        local q = s:find('["\\]', j)
        if not q then return s end                   -- unterminated: cjson reports it
        if s:byte(q) == 92 then j = q + 2 else i = q break end
      end
      i = i + 1
    elseif c == 45 or (c >= 48 and c <= 57) then     -- a number
      local a, b = s:find("^%-?%d+", i)
      local _, e = s:find("^[%.eE][%d%.eE%+%-]*", b + 1) -- a fraction or exponent
      if e then
        b = e
      elseif b - a + 1 >= 16 then
        local text = s:sub(a, b)
        local v = tonumber(text)
        if v >= 2^53 or v <= -2^53 then
          out[#out + 1] = s:sub(pos, a - 1)
          out[#out + 1] = '"' .. text .. '"'
          pos = b + 1
        end
      end
      i = b + 1
    else
      i = i + 1
    end
  end
  if pos == 1 then return s end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

--- Decodes a JSON text; returns value or nil, message. Integers a double
-- cannot hold exactly come back as decimal strings (see above).
function M.decode(s)
  if type(s) == "string" and s:find("%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d") then
    s = quote_big_integers(s)
  end
  return J.decode(s)
end

--- Marks a Lua table as a JSON array (so that an empty one encodes as []).
function M.array(t)
  return setmetatable(t or {}, array_mt)
end

function M.is_array(t)
  return getmetatable(t) == array_mt
end

local quote = format.quote
M.quote = quote

-- "list" when t is 1..n with n >= 1, "object" when every key is a string,
-- "empty" for {}; anything else is an error. The indexes are checked by
-- looking each of 1..count up rather than by tracking the largest key in the
-- traversal: LuaJIT 2.1.0-beta3 (Debian's, LÖVE's) has been seen to report a
-- plain 4-item list as holed, now and then, with the latter once traced.
local function shape(t, path)
  local count, strings = 0, 0
  for k in next, t do
    count = count + 1
    if type(k) == "string" then
      strings = strings + 1
    elseif not (type(k) == "number" and k >= 1 and k % 1 == 0 and k < huge) then
      error({ path = path, msg = "has a key that is neither a string nor an array index: "
        .. tostring(k) }, 0)
    end
  end
  if count == 0 then return "empty" end
  if strings == count then return "object" end
  if strings > 0 then error({ path = path, msg = "mixes array items and named fields" }, 0) end
  -- count distinct indexes >= 1 are 1..count exactly when none of those is missing
  for i = 1, count do
    if rawget(t, i) == nil then error({ path = path, msg = "is an array with holes (nil items)" }, 0) end
  end
  return "list"
end

local encode_value

local function join(path, key)
  if type(key) == "number" then return (path or "") .. "[" .. key .. "]" end
  return path and path .. "." .. key or key
end

local function encode_table(t, out, path, seen)
  if seen[t] then error({ path = path, msg = "contains itself (a cycle)" }, 0) end
  seen[t] = true
  local kind = shape(t, path)
  if kind == "list" or (kind == "empty" and getmetatable(t) == array_mt) then
    out[#out + 1] = "["
    for i = 1, rawlen(t) do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, join(path, i), seen)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = quote(k)
      out[#out + 1] = ":"
      encode_value(t[k], out, join(path, k), seen)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

encode_value = function(v, out, path, seen)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = quote(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error({ path = path, msg = "is not a finite number" }, 0)
    end
    out[#out + 1] = format.number(v)   -- integers without ".0", floats round-trip
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == M.null or tv == "nil" then
    out[#out + 1] = "null"
  elseif tv == "table" then
    encode_table(v, out, path, seen)
  else
    error({ path = path, msg = "cannot be sent as JSON (a " .. tv .. ")" }, 0)
  end
end

--- Encodes a value; returns text, or nil and a message naming the field.
function M.encode(v)
  local out = {}
  local ok, err = pcall(encode_value, v, out, nil, {})
  if not ok then
    if type(err) == "table" then
      return nil, (err.path and err.path .. ": " or "body: ") .. err.msg
    end
    return nil, tostring(err)
  end
  return table.concat(out)
end

return M
