--- JSON. Decoding is the C core's (csrc/json.c: the same values at about 60%
-- of the instructions, tables made at their size) for every text it takes,
-- and lua-cjson's (on a private instance, so that the caller's cjson
-- settings are left alone) for the rest, with the rules below. Encoding is done here: Debian's cjson 2.1
-- cannot write an empty array, loses integer precision past 14 digits and
-- accepts tables that mix array and object keys. This encoder writes
-- integers exactly, floats with the fewest digits (15 to 17) that read back
-- the same (scenario.format), `json.array{}` as `[]`, and refuses
-- what JSON cannot say (NaN, cycles, mixed or non-string keys) with a message
-- naming the field.
--
-- [] and {}: cjson 2.1 (Debian's has no decode_array_with_array_mt) decodes
-- both as an empty table, which would encode as {}. decode gives every empty
-- array of the text array_mt, so that an answer written out again (a
-- result, an error body, the runner's --json, a pipeline's state file, a
-- workflow read back) says [] where the API said []. Only empty arrays are
-- marked: a non-empty one encodes as an array anyway (its keys are 1..n),
-- and marking it would cost a walk of every answer.
-- What it costs, per decode:
--  - a text without `[` followed by `]` or whitespace: five plain
--    string.find (well under a microsecond for a job record);
--  - otherwise each empty array is replaced by a sentinel string before
--    cjson runs, and the decoded tree is walked, stopping once every
--    sentinel is found, to put a marked empty table in each one's place.
--    Measured on a 62 KB page of 100 assets with 200 empty arrays: +0.35 ms
--    on Lua 5.4 (cjson alone: 0.46 ms), +0.08 ms on LuaJIT (0.31 ms); on a
--    job record of 0.7 KB, within the noise of 20 us.
-- The replacement does not tell strings apart at first: a `[]` inside a
-- string turns that string into invalid JSON (the sentinel's quote closes
-- it, and a backslash follows), so a text that then fails to decode is done
-- again the careful way (quotes counted, see outside_strings), and a text
-- that is not JSON is reported from its own bytes.
local cjson = require "cjson.safe"
local compat = require "scenario.compat"
local format = require "scenario.format"
local field_path = format.field_path

local M = {}
local rawlen = compat.rawlen
local huge = math.huge
local find, sub, gsub, byte, match = string.find, string.sub, string.gsub, string.byte, string.match
local concat = table.concat
local J = cjson.new()
J.decode_max_depth(256)

M.null = J.null
local array_mt = { __name = "scenario.json.array" }
M.array_mt = array_mt

-- The matches of next_match(s, init) --> a, b in a JSON text that are
-- outside its strings, one after the other. Strings are told by counting
-- quotes: with every backslash escape blanked first (escapes only occur
-- inside strings), each '"' left opens or closes one, at the same offset as
-- in the text. string.gsub counts them, not a loop over the bytes.
local function outside_strings(s, next_match)
  local plain = s
  if find(s, "\\", 1, true) then plain = gsub(s, "\\.", "__") end
  local init, counted, inside = 1, 1, false
  return function()
    while true do
      local a, b = next_match(plain, init)
      if not a then return nil end
      local _, quotes = gsub(sub(plain, counted, a - 1), '"', "")
      if quotes % 2 == 1 then inside = not inside end
      counted, init = a, b + 1
      if not inside then return a, b end
    end
  end
end

-- Integers past 2^53 have no exact double: lua-cjson would round them (and
-- there is no integer subtype on LuaJIT, 5.1 and 5.2 to hold them anyway).
-- An answer's integer of 16 digits or more that a double would round is
-- decoded as its decimal string instead, on every version, so an id or a
-- count is never silently changed. Strings are skipped, and so are the
-- digits of a fraction or an exponent, and integers written with one.
local SIXTEEN_DIGITS = "%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d"
local NOT_AN_INTEGER_START = { [46] = true, [101] = true, [69] = true, [43] = true, [45] = true } -- . e E + -

-- whether s has 16 digits in a row: the C core's scan (a byte loop), or
-- the same with a pattern where the core is not loaded (tools); and the
-- core's decoder of the common case (csrc/json.c), when it is there
local has_digit_run, fast_decode
do
  local ok, core = pcall(require, "scenario.core")
  has_digit_run = ok and type(core) == "table" and core.digit_run or function(s)
    return find(s, SIXTEEN_DIGITS) ~= nil
  end
  fast_decode = ok and type(core) == "table" and core.json_decode or nil
end

local function long_digits(s, init)
  return find(s, SIXTEEN_DIGITS .. "%d*", init)
end

local function quote_big_integers(s)
  local out, pos = {}, 1
  for a, b in outside_strings(s, long_digits) do
    if byte(s, a - 1) == 45 then a = a - 1 end         -- a minus sign
    local before, after = byte(s, a - 1), byte(s, b + 1)
    if not NOT_AN_INTEGER_START[before] and after ~= 46 and after ~= 101 and after ~= 69 then
      local text = sub(s, a, b)
      local v = tonumber(text)
      if v >= 2^53 or v <= -2^53 then
        out[#out + 1] = sub(s, pos, a - 1)
        out[#out + 1] = '"' .. text .. '"'
        pos = b + 1
      end
    end
  end
  if pos == 1 then return s end
  out[#out + 1] = sub(s, pos)
  return concat(out)
end

-- Empty arrays (see the header). EMPTY is what the sentinel decodes to; an
-- answer holding that very string where it also has a [] would read it as
-- [], which no answer does.
local EMPTY = "\0scenario.json: an empty array\0"
local EMPTY_JSON = '"\\u0000scenario.json: an empty array\\u0000"'

-- The next `[]` of s from init (JSON text as the API writes it).
local function tight_empty_array(s, init)
  local a = find(s, "[]", init, true)
  return a, a and a + 1
end

-- The next `[ ]`, whitespace allowed inside (indented JSON).
local function spaced_empty_array(s, init)
  while true do
    local a = find(s, "[", init, true)
    if not a then return nil end
    local e = match(s, "^[ \t\r\n]*%]()", a + 1)
    if e then return a, e - 1 end
    init = a + 1
  end
end

-- The finder of the empty arrays of s, or nil when it has none.
local function empty_array_finder(s)
  if find(s, "[ ", 1, true) or find(s, "[\n", 1, true) or find(s, "[\r", 1, true)
      or find(s, "[\t", 1, true) then
    return spaced_empty_array
  end
  if find(s, "[]", 1, true) then return tight_empty_array end
  return nil
end

-- s with the sentinel in place of each match of iterate, and their count.
local function with_sentinels(s, iterate, state, init)
  local out, pos, n = {}, 1, 0
  for a, b in iterate, state, init do
    out[#out + 1] = sub(s, pos, a - 1)
    out[#out + 1] = EMPTY_JSON
    pos, n = b + 1, n + 1
  end
  if n == 0 then return s, 0 end
  out[#out + 1] = sub(s, pos)
  return concat(out), n
end

-- The matches of finder in s, strings not told apart (an iterator).
local function anywhere(s, finder)
  local init = 1
  return function()
    local a, b = finder(s, init)
    if a then init = b + 1 end
    return a, b
  end
end

-- Puts a marked empty table in place of each sentinel of t; returns how many
-- are still to find (the walk stops at 0), or -1 when a sentinel is a key
-- (the text had [] where a key goes: not JSON).
local function restore_empty_arrays(t, left)
  for k, v in next, t do
    if k == EMPTY then return -1 end
    if v == EMPTY then
      t[k] = setmetatable({}, array_mt)
      left = left - 1
    elseif type(v) == "table" then
      left = restore_empty_arrays(v, left)
    end
    if left <= 0 then return left end
  end
  return left
end

-- Decodes s, which has empty arrays that finder finds (see the header).
local function decode_with_empty_arrays(s, finder)
  local text, n = with_sentinels(s, anywhere(s, finder))
  local v = J.decode(text)
  if v == nil then                     -- a [] inside a string, or not JSON
    text, n = with_sentinels(s, outside_strings(s, finder))
    v = J.decode(text)
    if v == nil then return J.decode(s) end  -- the message at the text's own offsets
  end
  if n == 0 then return v end
  if v == EMPTY then return setmetatable({}, array_mt) end
  if type(v) == "table" and restore_empty_arrays(v, n) < 0 then return J.decode(s) end
  return v
end

--- Decodes a JSON text; returns value or nil, message. Integers a double
-- cannot hold exactly come back as decimal strings, empty arrays as tables
-- marked with array_mt (see above).
function M.decode(s)
  if type(s) ~= "string" then return J.decode(s) end
  if fast_decode then
    -- the same value as below, made at a third of the cost; nothing when it
    -- does not take the text as it is (then the way below, which knows the
    -- error's message)
    local v = fast_decode(s, array_mt)
    if v ~= nil then return v end
  end
  return M._decode_careful(s)
end

-- The decoding of M.decode with lua-cjson (and of every text the core's
-- decoder leaves to it); internal, for spec/json_fast_spec.lua, which
-- compares the two.
function M._decode_careful(s)
  if type(s) ~= "string" then return J.decode(s) end
  if has_digit_run(s, 16) then s = quote_big_integers(s) end
  local finder = empty_array_finder(s)
  if finder then return decode_with_empty_arrays(s, finder) end
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

-- The path of a value, for messages: made only when a message or a nested
-- table needs it (the encoder is given the parent's path and the key).
local function encode_table(t, out, path, seen)
  if seen[t] then error({ path = path, msg = "contains itself (a cycle)" }, 0) end
  seen[t] = true
  local kind = shape(t, path)
  if kind == "list" or (kind == "empty" and getmetatable(t) == array_mt) then
    out[#out + 1] = "["
    for i = 1, rawlen(t) do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, path, i, seen)
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
      encode_value(t[k], out, path, k, seen)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

encode_value = function(v, out, parent, key, seen)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = quote(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error({ path = field_path(parent, key), msg = "is not a finite number" }, 0)
    end
    out[#out + 1] = format.number(v)   -- integers without ".0", floats round-trip
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == M.null or tv == "nil" then
    out[#out + 1] = "null"
  elseif tv == "table" then
    encode_table(v, out, field_path(parent, key), seen)
  else
    error({ path = field_path(parent, key), msg = "cannot be sent as JSON (a " .. tv .. ")" }, 0)
  end
end

--- Encodes a value; returns text, or nil and a message naming the field.
function M.encode(v)
  local out = {}
  local ok, err = pcall(encode_value, v, out, nil, nil, {})
  if not ok then
    if type(err) == "table" then
      return nil, (err.path and err.path .. ": " or "body: ") .. err.msg
    end
    return nil, tostring(err)
  end
  return table.concat(out)
end

return M
