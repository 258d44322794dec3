--- Number formatting and JSON string quoting, in one place for every module
-- (the JSON encoder, validation messages, query strings and the runner).
--
-- `format.number(v)`: integral values without ".0" on every version (also
-- without an integer subtype), other finite numbers as the shortest of
-- %.15g, %.16g and %.17g that reads back as the same double, and "nan",
-- "inf", "-inf" for the rest (JSON has no spelling for those: json.lua
-- refuses them before asking).
--
-- `format.quote(s)`: s as a JSON string literal, quotes included: `"` and `\`
-- escaped, \b \f \n \r \t by name, every other control byte as \u00XX; other
-- bytes (UTF-8 included) are kept as they are.
--
-- `format.field_path(path, key)`: the path of a value inside a body, for
-- messages: "prompt", "images[2]", "input.modelId"; path nil is the body
-- itself (an empty key is a key: "" then ".x" below it), key nil the value
-- at path.
local compat = require "scenario.compat"

local M = {}

local huge = math.huge
local find = string.find

function M.field_path(path, key)
  if key == nil then return path end
  if type(key) == "number" then return (path or "") .. "[" .. key .. "]" end
  if path == nil then return key end
  return path .. "." .. key
end

function M.number(v)
  if v ~= v then return "nan" end
  if v == huge then return "inf" end
  if v == -huge then return "-inf" end
  if compat.is_integer(v) and v > -2^63 and v < 2^63 then return compat.integer_text(v) end
  for prec = 15, 16 do
    local s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

local ESC = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function escape(c)
  return ESC[c] or string.format("\\u%04x", c:byte())
end

function M.quote(s)
  -- most strings need no escape: a search builds nothing
  if not find(s, '[%c"\\]') then return '"' .. s .. '"' end
  return '"' .. s:gsub('[%c"\\]', escape) .. '"'
end

return M
