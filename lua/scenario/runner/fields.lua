--- key=value words as the fields of an operation, typed by the constraints
-- of the generated table (scenario.operations), and the description of an
-- operation's fields for `--help`.
local compat = require "scenario.compat"
local json = require "scenario.json"
local errors = require "scenario.errors"

local M = {}

local BOOLEANS = { ["true"] = true, ["false"] = false, yes = true, no = false,
  on = true, off = false, ["1"] = true, ["0"] = false }

local function number_text(s)
  return s:match("^%-?%d+%.?%d*$") or s:match("^%-?%d*%.%d+$")
    or s:match("^%-?%d+%.?%d*[eE][-+]?%d+$") or s:match("^%-?%d*%.%d+[eE][-+]?%d+$")
end

local function decode_json(raw, key)
  local v, err = json.decode(raw)
  if v == nil then return nil, key .. ": not valid JSON (" .. tostring(err) .. ")" end
  return v
end

-- A value the document does not type (free-form bodies such as
-- custom:<modelId>, unknown fields): numbers, true/false and JSON arrays or
-- objects are taken as such, anything else is a string.
local function infer(raw, key)
  if raw == "true" then return true end
  if raw == "false" then return false end
  if number_text(raw) then return compat.tointeger(tonumber(raw)) or tonumber(raw) end
  if raw:match("^%s*[%[{]") then return decode_json(raw, key) end
  return raw
end

local typed

local function typed_array(node, raw, key)
  if raw:match("^%s*%[") then return decode_json(raw, key) end
  local items = json.array()
  if raw == "" then return items end
  for part in (raw .. ","):gmatch("(.-),") do
    local v, err = typed(node.items, part, key .. "[" .. (#items + 1) .. "]")
    if v == nil then return nil, err end
    items[#items + 1] = v
  end
  return items
end

-- The Lua value of `raw` for a constraint. A value that does not fit (a
-- number field given "abc") is passed on as typed so far: the SDK's
-- validation then names the field and says what it must be.
typed = function(node, raw, key)
  local t = node and node.type
  if t == "string" then return raw end
  if t == "integer" or t == "number" then
    if not number_text(raw) then return raw end
    local n = tonumber(raw)
    return compat.tointeger(n) or n
  end
  if t == "boolean" then
    local b = BOOLEANS[raw:lower()]
    if b == nil then return raw end
    return b
  end
  if t == "array" then return typed_array(node, raw, key) end
  if t == "object" then
    if raw:match("^%s*{") then return decode_json(raw, key) end
    return raw
  end
  return infer(raw, key)
end

-- The constraint of a field of an operation, or nil when it has none.
local function field_node(op, key)
  for _, p in ipairs(op.path_params or {}) do
    if p == key then return { type = "string" } end
  end
  if op.query and op.query[key] then return op.query[key] end
  if op.body and op.body.properties and op.body.properties[key] then
    return op.body.properties[key]
  end
  if key == "projectId" then return { type = "string" } end
end

--- The fields table for an operation from the parsed key=value words
-- (runner.args: { key, value, json }); nil, a validation error when a
-- value cannot be read (bad JSON, a key given twice).
function M.typed(op, list)
  local fields, problems = {}, {}
  for _, f in ipairs(list) do
    local v, err
    if f.json then
      v, err = decode_json(f.value, f.key)
    else
      v, err = typed(field_node(op, f.key), f.value, f.key)
    end
    if fields[f.key] ~= nil then
      problems[#problems + 1] = f.key .. ": given twice"
    elseif v == nil then
      problems[#problems + 1] = err
    else
      fields[f.key] = v
    end
  end
  if #problems > 0 then
    return nil, errors.new { kind = "validation", operation = op.id,
      problems = problems, message = table.concat(problems, "; ") }
  end
  return fields
end

-- Describing an operation's fields, for --help ---------------------------------

local function describe_node(node)
  if not node then return "any" end
  local t = node.type or "any"
  if t == "array" then
    t = "array of " .. ((node.items and node.items.type) or "any") .. " (a,b,c or JSON)"
  elseif t == "object" then
    t = "object (JSON)"
  end
  local parts = { t }
  if node.enum then
    local shown = {}
    for i = 1, math.min(#node.enum, 8) do shown[i] = tostring(node.enum[i]) end
    parts[#parts + 1] = "one of " .. table.concat(shown, ", ") .. (#node.enum > 8 and ", ..." or "")
  end
  if node.minimum or node.maximum then
    parts[#parts + 1] = (node.minimum and tostring(node.minimum) or "") .. ".." ..
      (node.maximum and tostring(node.maximum) or "")
  end
  return table.concat(parts, ", ")
end

-- rows { name, text } of the fields in map, sorted by name
local function add_rows(rows, map, where, is_required)
  local names = {}
  for name in pairs(map or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local node = map[name]
    local text = describe_node(node)
    if is_required(name, node) then text = text .. ", required" end
    rows[#rows + 1] = { name, text .. where }
  end
end

--- One line per field of op: its name, type, bounds, whether it is
-- required and where it goes.
function M.lines(op)
  local rows = {}
  local required = {}
  for _, name in ipairs(op.body and op.body.required or {}) do required[name] = true end
  for _, name in ipairs(op.path_params or {}) do
    rows[#rows + 1] = { name, "string, required (path)" }
  end
  add_rows(rows, op.query, " (query)", function(_, node) return node.required end)
  add_rows(rows, op.body and op.body.properties, "", function(name) return required[name] end)
  local lines = {}
  for _, r in ipairs(rows) do lines[#lines + 1] = string.format("  %-26s %s", r[1], r[2]) end
  if op.body and not op.body.properties and not op.body_is_array then
    lines[#lines + 1] = "  (any fields: the body is free-form)"
  end
  if #lines == 0 then lines[1] = "  (no fields)" end
  return table.concat(lines, "\n")
end

return M
