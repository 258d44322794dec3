--- What differs between Lua 5.1, LuaJIT 2.1, 5.2, 5.3 and 5.4, in one place.
-- Every other module is written in the language all five share and asks this
-- one for the rest: integer tests, bit-free base64 arithmetic, UTF-8 length,
-- unpack, and whether a coroutine can yield across pcall.
--
-- Numbers: LuaJIT, 5.1 and 5.2 have no integer subtype; a number is an
-- "integer" here when it is finite and has no fraction, whatever its subtype.
-- Doubles hold every integer up to 2^53 exactly; json.lua keeps larger
-- integers of an answer as strings so that none is rounded.
local M = {}

M.unpack = table.unpack or unpack

--- table.pack: the arguments with their count in `n`.
function M.pack(...)
  return { n = select("#", ...), ... }
end

--- The part of a list from i to j, as a new list (table.move into {}).
function M.slice(t, i, j)
  local out = {}
  for k = i, j do out[#out + 1] = t[k] end
  return out
end

M.rawlen = rawlen or function(t)
  return #t                        -- 5.1 and LuaJIT: # on a table is raw
end

local huge = math.huge
local floor = math.floor

--- True when v is a number without a fraction (an integer or an integral float).
function M.is_integer(v)
  return type(v) == "number" and v == floor(v) and v ~= huge and v ~= -huge
end

--- v as an integer-valued number, or nil (math.tointeger where there is one;
-- it also takes strings on 5.4.0-5.4.2, which the callers never pass).
M.tointeger = math.tointeger or function(v)
  if M.is_integer(v) then return v end
  return nil
end

local has_subtype = math.type ~= nil

--- "%d" text of an integral number; integral floats print without ".0" on
-- every version (string.format("%d", 2.0) raises on 5.3+).
function M.integer_text(v)
  if has_subtype and math.type(v) == "integer" then return string.format("%d", v) end
  if v > -2^63 and v < 2^63 then
    return string.format("%d", has_subtype and math.tointeger(v) or v)
  end
  return string.format("%.0f", v)
end

--- Number of UTF-8 characters of s (its byte count when s is not UTF-8).
function M.utf8_len(s)
  if utf8 then return utf8.len(s) or #s end
  if s:find("[\128-\255]") == nil then return #s end
  -- a character is a byte that is not a continuation byte (10xxxxxx)
  local _, continuations = s:gsub("[\128-\191]", "")
  return #s - continuations
end

--- PUC Lua 5.1 cannot yield across pcall, a metamethod or an iterator of a
-- generic for; LuaJIT and 5.2+ yield across pcall (and LuaJIT across the
-- rest). loop.lua's pcall works around the first; the others are noted
-- where the SDK could meet them.
M.yield_across_pcall = not (_VERSION == "Lua 5.1" and jit == nil)
M.yield_in_iterators = jit ~= nil or _VERSION ~= "Lua 5.1"

--- "LuaJIT 2.1.0-beta3" or "Lua 5.4" (for the User-Agent and reports).
M.interpreter = jit and jit.version or _VERSION

--- Frees a suspended coroutine's stack now (5.4's coroutine.close); a no-op
-- elsewhere, where the collector frees it. Guards are loop.lua's business.
M.close_coroutine = coroutine.close or function() end

return M
