--- What the API document says about workflows, and the checks shared by the
-- builder (workflow/builder.lua), the compiler (workflow/compiler.lua) and
-- run-time checks of a workflow's inputs (client.workflows:run): the schemas
-- of PUT /workflows/{workflowId} (read at run time from the generated
-- scenario.operations), the input and node types, small helpers, and the
-- checks of values against input definitions.
local compat = require "scenario.compat"
local format = require "scenario.format"
local json = require "scenario.json"
local operations = require "scenario.operations"
local validate = require "scenario.validate"

local M = {}

local num = format.number
M.num = num

M.OP = operations.PutWorkflowsByWorkflowId
M.BODY = M.OP.body
M.INPUT_SCHEMA = M.BODY.properties.inputs.items
M.NODE_SCHEMA = M.BODY.properties.flow.items
M.NODE_INPUT_SCHEMA = M.NODE_SCHEMA.properties.inputs.items

M.INPUT_TYPES = M.INPUT_SCHEMA.properties.type.enum
M.NODE_TYPES = M.NODE_SCHEMA.properties.type.enum
M.MAX_NODES = 50

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
M.INPUT_TYPE_SET = set_of(M.INPUT_TYPES)
M.NODE_TYPE_SET = set_of(M.NODE_TYPES)

-- Lua type of a scalar input value, and item type of an array input
local SCALAR = { string = "string", number = "number", boolean = "boolean", file = "string",
  model = "string" }
local ITEM = { string_array = "string", number_array = "number", file_array = "string",
  model_array = "string", inputs_array = "table" }
M.SCALAR, M.ITEM = SCALAR, ITEM

-- input options the document restricts to some input types ("Only available for ...")
local ARRAYS = { string_array = true, number_array = true, file_array = true, model_array = true,
  inputs_array = true }
--- A copy of t with the fields of extra added.
local function plus(t, extra)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  for k, v in pairs(extra) do out[k] = v end
  return out
end
M.plus = plus
local FILES = { file = true, file_array = true }
M.FILES = FILES
local STRINGS = { string = true, string_array = true }
M.ONLY_FOR = {
  min = plus(ARRAYS, { number = true }), max = plus(ARRAYS, { number = true }),
  step = { number = true },
  minLength = STRINGS, maxLength = STRINGS,
  kind = FILES, backgroundBehavior = FILES, parent = FILES,
  modelTypes = { model_array = true },
  inputs = { inputs_array = true },
  color = { string = true }, prompt = { string = true }, promptSpark = { string = true },
  placeholder = { string = true },
}
M.REQUIRED_KEYS = { always = "boolean", ifDefined = "table", ifNotDefined = "table",
  conditionalValues = "table" }

-- Small helpers -------------------------------------------------------------

local is_list = validate.is_list
M.is_list = is_list

function M.sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end
local sorted_keys = M.sorted_keys

--- A value in a problem: a quoted string, a number, "an array", "a table"...
local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" then return num(v) end
  if type(v) == "table" then return is_list(v) and next(v) ~= nil and "an array" or "a table" end
  return tostring(v)
end
M.show = show

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return setmetatable(out, getmetatable(v))
end
M.deep_copy = deep_copy

-- A copy of v where every array the schema declares is marked as a JSON
-- array (lua-cjson 2.1 decodes [] as an empty table that would encode as {}).
local function with_arrays(schema, v)
  if type(v) ~= "table" or v == json.null then return v end
  local t = schema and (schema.type or (schema.properties and "object"))
  if t == "array" then
    local out = json.array {}
    for i, x in ipairs(v) do out[i] = with_arrays(schema.items, x) end
    return out
  end
  local out = {}
  for k, x in pairs(v) do
    local sub = t == "object" and schema.properties and schema.properties[k]
    out[k] = sub and with_arrays(sub, x) or deep_copy(x)
  end
  return setmetatable(out, getmetatable(v))
end
M.with_arrays = with_arrays

local ARTICLE = { string = "a string", number = "a number", integer = "an integer",
  boolean = "a boolean", array = "an array", object = "an object", table = "a table" }
M.ARTICLE = ARTICLE

-- Checks v against a schema node of the document; adds "<path>: <reason>".
local function check_schema(s, v, path, problems)
  local t = s.type or (s.properties and "object")
  local function bad(what)
    problems[#problems + 1] = ("%s: must be %s (got %s)"):format(path, what, show(v))
  end
  if t == "string" then
    if type(v) ~= "string" then return bad("a string") end
    if s.enum and not set_of(s.enum)[v] then
      return bad("one of " .. table.concat(s.enum, ", "))
    end
  elseif t == "number" or t == "integer" then
    if type(v) ~= "number" or v ~= v then return bad(ARTICLE[t]) end
    if t == "integer" and not compat.is_integer(v) then return bad("an integer") end
    if s.minimum and v < s.minimum then return bad(">= " .. num(s.minimum)) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return bad("a boolean") end
  elseif t == "array" then
    if not is_list(v) then return bad("an array") end
    for i, x in ipairs(v) do
      if s.items then check_schema(s.items, x, path .. "[" .. i .. "]", problems) end
    end
  elseif t == "object" then
    if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) then return bad("an object") end
    for _, k in ipairs(s.required or {}) do
      if v[k] == nil then problems[#problems + 1] = path .. "." .. k .. ": required" end
    end
    for k, x in pairs(v) do
      local sub = s.properties and s.properties[k]
      if sub then check_schema(sub, x, path .. "." .. k, problems) end
    end
  end
end
M.check_schema = check_schema

-- Values against input definitions ---------------------------------------

-- Why def (an input definition) requires its input given `values`, or nil.
local function required_reason(def, values)
  local r = def.required
  if type(r) ~= "table" then return nil end
  if r.always == true then return "required" end
  if type(r.ifDefined) == "table" then
    for other, msg in pairs(r.ifDefined) do
      if values[other] ~= nil then
        return type(msg) == "string" and msg ~= "" and ("required when %s is given (%s)"):format(other, msg)
          or ("required when %s is given"):format(other)
      end
    end
  end
  if type(r.ifNotDefined) == "table" then
    for other, msg in pairs(r.ifNotDefined) do
      if values[other] == nil then
        return type(msg) == "string" and msg ~= "" and ("required when %s is not given (%s)"):format(other, msg)
          or ("required when %s is not given"):format(other)
      end
    end
  end
  -- conditionalValues: { other = { values = {...}, operation = "in" | "notIn" ... } };
  -- a shape this SDK does not recognise is not checked
  if type(r.conditionalValues) == "table" then
    for other, rule in pairs(r.conditionalValues) do
      if type(rule) == "table" and type(rule.values) == "table" then
        local hit = false
        for _, x in ipairs(rule.values) do
          if x == values[other] then hit = true end
        end
        if type(rule.operation) == "string" and rule.operation:lower():find("not") then hit = not hit end
        if hit and values[other] ~= nil then
          return ("required when %s is %s"):format(other, show(values[other]))
        end
      end
    end
  end
  return nil
end
M.required_reason = required_reason

local function lua_type_ok(want, v)
  if want == "table" then return type(v) == "table" and (next(v) == nil or not is_list(v)) end
  if want == "number" then return type(v) == "number" and v == v end
  return type(v) == want
end

local check_values

-- Checks one value against its input definition (type, bounds, allowed
-- values); adds "<path>: <reason>" problems.
local function check_value(def, v, path, problems)
  local function add(msg) problems[#problems + 1] = path .. ": " .. msg end
  local typ = def.type
  local allowed = type(def.allowedValues) == "table" and #def.allowedValues > 0 and set_of(def.allowedValues)
  local function check_string(s, where)
    local len = compat.utf8_len(s)
    if type(def.minLength) == "number" and len < def.minLength then
      problems[#problems + 1] = ("%s: must be at least %s characters long (got %d)")
        :format(where, num(def.minLength), len)
    end
    if type(def.maxLength) == "number" and len > def.maxLength then
      problems[#problems + 1] = ("%s: must be at most %s characters long (got %d)")
        :format(where, num(def.maxLength), len)
    end
  end
  local function check_allowed(x, where)
    if allowed and not allowed[x] then
      local shown = {}
      for i, a in ipairs(def.allowedValues) do shown[i] = type(a) == "number" and num(a) or tostring(a) end
      problems[#problems + 1] = ("%s: must be one of %s (got %s)"):format(where,
        table.concat(shown, ", "), show(x))
    end
  end
  if SCALAR[typ] then
    if not lua_type_ok(SCALAR[typ], v) then
      return add(("must be %s for a %s input (got %s)"):format(ARTICLE[SCALAR[typ]], typ, show(v)))
    end
    if typ == "number" then
      if type(def.min) == "number" and v < def.min then
        return add(("must be >= %s (got %s)"):format(num(def.min), num(v)))
      end
      if type(def.max) == "number" and v > def.max then
        return add(("must be <= %s (got %s)"):format(num(def.max), num(v)))
      end
    end
    if typ == "string" then check_string(v, path) end
    check_allowed(v, path)
  elseif ITEM[typ] then
    if not is_list(v) then
      return add(("must be an array for a %s input (got %s)"):format(typ, show(v)))
    end
    if type(def.min) == "number" and #v < def.min then
      add(("must have at least %s items (got %d)"):format(num(def.min), #v))
    end
    if type(def.max) == "number" and #v > def.max then
      add(("must have at most %s items (got %d)"):format(num(def.max), #v))
    end
    for i, x in ipairs(v) do
      local where = path .. "[" .. i .. "]"
      if not lua_type_ok(ITEM[typ], x) then
        problems[#problems + 1] = ("%s: must be %s (got %s)"):format(where,
          ITEM[typ] == "table" and "an object" or ARTICLE[ITEM[typ]], show(x))
      elseif typ == "inputs_array" then
        if type(def.inputs) == "table" then check_values(def.inputs, x, where, problems) end
      else
        if typ == "string_array" then check_string(x, where) end
        check_allowed(x, where)
      end
    end
  end
end
M.check_value = check_value

--- Checks a table of values keyed by input name against a list of input
-- definitions: required rules, types, bounds, allowed values, and names the
-- definitions do not declare. Adds "<prefix><name>: <reason>" to problems.
check_values = function(defs, values, prefix, problems)
  local known = {}
  for _, def in ipairs(defs) do
    if type(def) == "table" and type(def.name) == "string" then
      known[def.name] = true
      local path = prefix ~= "" and prefix .. "." .. def.name or def.name
      local v = values[def.name]
      if v == nil then
        local why = required_reason(def, values)
        if why then problems[#problems + 1] = ("%s: %s (%s)"):format(path, why, tostring(def.type)) end
      else
        check_value(def, v, path, problems)
      end
    end
  end
  for _, k in ipairs(sorted_keys(values)) do
    if not known[k] then
      local path = prefix ~= "" and prefix .. "." .. tostring(k) or tostring(k)
      problems[#problems + 1] = path .. ": not an input of this workflow"
    end
  end
end

--- Problems of run inputs against the workflow's input definitions
-- (list of "<name>: <reason>", empty when they are fine).
function M.check_run_inputs(defs, values)
  local problems = {}
  if type(values) ~= "table" then
    return { ("inputs: must be a table (got %s)"):format(show(values)) }
  end
  check_values(defs, values, "", problems)
  return problems
end

--- A copy of run inputs with array inputs marked as JSON arrays.
function M.prepare_run_inputs(defs, values)
  local out = {}
  local types = {}
  for _, def in ipairs(defs) do
    if type(def) == "table" and def.name then types[def.name] = def.type end
  end
  for k, v in pairs(values) do
    if ITEM[types[k]] and type(v) == "table" then
      out[k] = json.array(compat.slice(v, 1, #v))
    else
      out[k] = v
    end
  end
  return out
end

return M
