--- Small helpers shared by the modules: base64, percent-encoding, query strings.
local M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = {
      B64:sub((n >> 18) + 1, (n >> 18) + 1),
      B64:sub(((n >> 12) & 63) + 1, ((n >> 12) & 63) + 1),
      b and B64:sub(((n >> 6) & 63) + 1, ((n >> 6) & 63) + 1) or "=",
      c and B64:sub((n & 63) + 1, (n & 63) + 1) or "=",
    }
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

--- RFC 3986 percent-encoding: unreserved characters stay, everything else
-- (space, slash, ...) is encoded.
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function scalar(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if math.type(v) == "float" and v == math.floor(v) and v > -2^53 and v < 2^53 then
    return string.format("%d", v)
  end
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
