--- Small helpers shared by the modules: base64, percent-encoding, query strings.
local format = require "scenario.format"

local M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    -- 24 bits as four 6-bit digits, by arithmetic (no bit operators on 5.1)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1, d2 = math.floor(n / 262144), math.floor(n / 4096) % 64
    local d3, d4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(d1 + 1, d1 + 1) .. B64:sub(d2 + 1, d2 + 1)
      .. (b and B64:sub(d3 + 1, d3 + 1) or "=") .. (c and B64:sub(d4 + 1, d4 + 1) or "=")
  end
  return table.concat(out)
end

--- RFC 3986 percent-encoding: unreserved characters stay, everything else
-- (space, slash, ...) is encoded.
local function percent(c)
  return string.format("%%%02X", c:byte())
end

function M.urlencode(s)
  s = tostring(s)
  -- ids and most values have nothing to encode (every job poll encodes its id)
  if not s:find("[^%w%-%._~]") then return s end
  return (s:gsub("[^%w%-%._~]", percent))
end

-- The string keys of a table that is never changed (a spec of options, a
-- schema of the API document), sorted: made once per table and kept while
-- the table lives. The same empty list for every empty table.
local NO_KEYS = {}
local keys_of = setmetatable({}, { __mode = "k" })

function M.sorted_keys_of(t)
  local keys = keys_of[t]
  if not keys then
    keys = NO_KEYS
    if next(t) ~= nil then
      keys = {}
      for k in pairs(t) do
        if type(k) == "string" then keys[#keys + 1] = k end
      end
      table.sort(keys)
    end
    keys_of[t] = keys
  end
  return keys
end

local function scalar(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if type(v) == "number" then return format.number(v) end
  return tostring(v)
end
M.scalar = scalar

--- Builds a query string (without "?") from a table; arrays are
-- comma-joined (OpenAPI form style, explode=false). Keys are sorted so that
-- URLs are stable.
function M.query_string(q)
  local keys = {}
  for k, v in pairs(q) do
    if v ~= nil then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      local items = {}
      for i = 1, #v do items[i] = scalar(v[i]) end
      v = table.concat(items, ",")
    else
      v = scalar(v)
    end
    parts[#parts + 1] = M.urlencode(k) .. "=" .. M.urlencode(v)
  end
  return table.concat(parts, "&")
end

return M
