--- What keeps secrets off the runner's stdout and stderr. Everything the
-- runner writes (human lines, --json documents, progress bars, errors,
-- tracebacks) passes through a ui's cleaner (runner.output), made here:
--   1. the client's redactor (client:redact: the key, the secret, the token,
--      base64(key:secret) and the Authorization value, wherever they are);
--   2. then, generically, the value of anything written as an Authorization
--      header or field ("Authorization: Basic ...", "authorization": "...",
--      authorization=...): a shell user never needs to see one, and a server
--      may echo credentials the runner does not know as such.
-- JSON documents are cleaned string by string before they are encoded (a
-- secret holding `"` or `\` is escaped in the text, where a plain search
-- would miss it), and the text once more after.
local scenario = require "scenario"
local json = require "scenario.json"
local format = require "scenario.format"

local M = {}

M.MARK = "[REDACTED]"

-- "authorization" in any case, as a Lua pattern
local AUTH = ("authorization"):gsub("%a", function(c) return "[" .. c:upper() .. c .. "]" end)
-- the name, an optional closing quote, ':' or '=', an optional opening quote
local LEAD = "(" .. AUTH .. "[\"']?%s*[:=]%s*[\"']?)"
-- a credential's characters: not a space, quote, backslash (the start of a
-- JSON escape, which must stay whole), separator or bracket
local VALUE = "[^%s\"'\\,;&{}%[%]]+"

--- s with the value of every Authorization header or field replaced
-- (a scheme word such as Basic or Bearer goes with it).
function M.generic(s)
  s = s:gsub(LEAD .. "%a+ +" .. VALUE, "%1" .. M.MARK)
  return (s:gsub(LEAD .. VALUE, "%1" .. M.MARK))
end

-- Replaces every plain occurrence of the values in s.
local function replace_plain(s, values)
  for _, v in ipairs(values) do
    local out, pos = {}, 1
    while true do
      local a, b = s:find(v, pos, true)
      if not a then break end
      out[#out + 1] = s:sub(pos, a - 1) .. M.MARK
      pos = b + 1
    end
    out[#out + 1] = s:sub(pos)
    s = table.concat(out)
  end
  return s
end

--- The redactor of the runner's client when it has none yet (usage errors,
-- ops, help): the client:redact of a client configured from the same
-- environment (the runner's client takes its credentials from there only).
-- When the SDK refuses that configuration (a key without its secret), the
-- credentials of the environment as they are.
function M.from_env()
  local ok, client = pcall(scenario.new, { base_url = "http://127.0.0.1", log = false })
  if ok then
    return function(s) return client:redact(s) end
  end
  local values = {}
  for _, name in ipairs { "SCENARIO_API_KEY", "SCENARIO_API_SECRET", "SCENARIO_API_TOKEN" } do
    local v = os.getenv(name)
    if v and #v >= 4 then values[#values + 1] = v end
  end
  return function(s) return replace_plain(tostring(s), values) end
end

--- A cleaner: redact (a client's redactor), then the generic pass.
function M.cleaner(redact)
  return function(s)
    return M.generic(redact(tostring(s)))
  end
end

local clean_tree

local function clean_table(t, clean, seen)
  if seen[t] then return t end -- a cycle: the encoder refuses it and says so
  seen[t] = true
  local copy = json.is_array(t) and json.array() or {}
  for k, v in pairs(t) do
    local key = type(k) == "string" and clean(k) or k
    if type(k) == "string" and k:lower() == "authorization" and type(v) ~= "table" then
      copy[key] = M.MARK
    else
      copy[key] = clean_tree(v, clean, seen)
    end
  end
  seen[t] = nil
  return copy
end

--- A copy of a document (tables of strings, numbers, json.null...) with
-- every string, key or value, cleaned, a number that shows a secret made
-- its cleaned text, and the value of any field named authorization (in any
-- case) replaced.
clean_tree = function(v, clean, seen)
  if type(v) == "string" then return clean(v) end
  if type(v) == "number" then
    local text = format.number(v)
    local cleaned = clean(text)
    if cleaned ~= text then return cleaned end
    return v
  end
  if type(v) ~= "table" or v == json.null then return v end
  return clean_table(v, clean, seen or {})
end
M.tree = clean_tree

return M
