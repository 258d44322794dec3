--- Argument checks of the public entry points, in one place: a wrong type or
-- a missing argument becomes a scenario.Error of kind "validation" naming
-- the entry point, the argument and what it must be,
--   client:request: method: must be one of GET, POST, ... (got "GE T")
-- rather than a raw Lua error from deep inside ("attempt to index a nil
-- value"). Each entry point hands the error on by its own convention:
-- returned as nil, err by calls, raised by constructors and the scheduler
-- (scenario.new, scenario.spawn, the pipeline builder).
--
-- A spec says what an argument may be: kinds joined by "|", and a trailing
-- "?" when it may be nil ("string|table?"). A table spec is an options
-- table, nil or a table whose listed keys have the specs given (keys it
-- does not list are left to the entry point); a table spec made with
-- check.closed lists every key the entry point takes, and any other is a
-- problem ("options.timout: unknown option (did you mean timeout?)").
local errors = require "scenario.errors"
local format = require "scenario.format"
local compat = require "scenario.compat"
local validate = require "scenario.validate"
local util = require "scenario.util"

local M = {}

M.HTTP_METHODS = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" }
local HTTP_METHOD_SET = {}
for _, m in ipairs(M.HTTP_METHODS) do HTTP_METHOD_SET[m] = true end

-- Seconds above this overflow the C core's integers (as client.LIMITS).
local MAX_SECONDS = 1000000000

--- A value as a message shows it: strings quoted (cut at 40 bytes), numbers
-- and booleans as written, other values by their type.
function M.show(v)
  local t = type(v)
  if t == "string" then
    if #v > 40 then v = v:sub(1, 37) .. "..." end
    return format.quote(v)
  elseif t == "number" then
    return format.number(v)
  elseif t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t
end

--- A function, or a table or userdata with a __call metamethod.
function M.callable(v)
  if type(v) == "function" then return true end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

local function is_seconds(v)
  return type(v) == "number" and v >= 0 and v <= MAX_SECONDS   -- NaN fails v >= 0
end
M.is_seconds = is_seconds

-- kind -> { what a message says it must be, test }
local KINDS = {
  string = { "a string", function(v) return type(v) == "string" end },
  id = { "a non-empty string", function(v) return type(v) == "string" and v ~= "" end },
  table = { "a table", function(v) return type(v) == "table" end },
  ["function"] = { "a function", M.callable },
  boolean = { "a boolean", function(v) return type(v) == "boolean" end },
  number = { "a number", function(v) return type(v) == "number" and v == v end },
  seconds = { "a number of seconds from 0 to " .. MAX_SECONDS, is_seconds },
  ms = { "a number of milliseconds from 0 to " .. MAX_SECONDS, is_seconds },
  count = { "an integer >= 1", function(v) return compat.is_integer(v) and v >= 1 end },
  thread = { "a coroutine", function(v) return type(v) == "thread" end },
  -- a key checked by the entry point itself (a closed spec must list it)
  any = { "anything", function() return true end },
  method = { "one of " .. table.concat(M.HTTP_METHODS, ", "),
    function(v) return type(v) == "string" and HTTP_METHOD_SET[v:upper()] == true end },
  -- an API path ("/assets?x=1") or an absolute URL; spaces and control
  -- characters would reach the request line, or be refused by libcurl
  path = { 'a path starting with "/" or an http(s) URL, without spaces or control characters',
    function(v)
      return type(v) == "string" and (v:sub(1, 1) == "/" or v:match("^[hH][tT][tT][pP][sS]?://") ~= nil)
        and not v:find("[%s%c]") and not v:find("\0", 1, true)   -- 5.1's patterns end at "\0"
    end },
}

-- A string spec ("string|number?") parsed once: its KINDS entries, and
-- whether nil is allowed. Every request checks its options against a few.
local parsed = {}
local function parse(spec)
  local p = parsed[spec]
  if not p then
    p = { optional = spec:sub(-1) == "?" }
    for kind in (p.optional and spec:sub(1, -2) or spec):gmatch("[^|]+") do
      p[#p + 1] = assert(KINDS[kind], "scenario.check: unknown kind")
    end
    parsed[spec] = p
  end
  return p
end

-- nil when v fits the string spec, else the reason ("must be ... (got ...)")
local function reason(v, spec)
  local p = parse(spec)
  if p.optional and v == nil then return nil end
  for i = 1, #p do
    if p[i][2](v) then return nil end
  end
  local whats = {}
  for i = 1, #p do whats[i] = p[i][1] end
  return "must be " .. table.concat(whats, " or ") .. (p.optional and " or nil" or "")
    .. " (got " .. M.show(v) .. ")"
end

-- The table specs made by M.closed.
local closed = setmetatable({}, { __mode = "k" })

--- Marks an options spec as listing every key its entry point takes.
function M.closed(spec)
  closed[spec] = true
  return spec
end

-- The keys of v that spec does not list, each a problem, in a stable order.
local function add_unknown(problems, name, v, spec, keys)
  local unknown = {}
  for k in pairs(v) do
    if spec[k] == nil then unknown[#unknown + 1] = k end
  end
  if #unknown == 0 then return end
  table.sort(unknown, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(unknown) do
    local like = validate.suggest(k, keys)
    problems[#problems + 1] = name .. "." .. tostring(k) .. ": unknown option"
      .. (like and " (did you mean " .. like .. "?)" or "")
  end
end

--- Appends to the list `problems` what is wrong with argument `name` = v
-- of `spec` ("name: must be ... (got ...)"), if anything.
local function add(problems, name, v, spec)
  if type(spec) == "table" then
    if v == nil then return end
    if type(v) ~= "table" then
      problems[#problems + 1] = name .. ": must be a table or nil (got " .. M.show(v) .. ")"
      return
    end
    local keys = util.sorted_keys_of(spec)   -- messages in a stable order
    for i = 1, #keys do
      local k = keys[i]
      local sub = spec[k]
      if type(sub) == "table" then
        add(problems, name .. "." .. k, v[k], sub)
      else
        local why = reason(v[k], sub)   -- the name is only made for a problem
        if why then problems[#problems + 1] = name .. "." .. k .. ": " .. why end
      end
    end
    if closed[spec] then add_unknown(problems, name, v, spec, keys) end
    return
  end
  local why = reason(v, spec)
  if why then problems[#problems + 1] = name .. ": " .. why end
end
M.add = add

--- The validation error of entry point `where` for a list of problems
-- ("name: reason"), or nil when the list is empty.
function M.error(where, problems, operation)
  if #problems == 0 then return nil end
  return errors.new { kind = "validation", operation = operation, problems = problems,
    field = problems[1]:match("^([^:]+)"),
    message = where .. ": " .. table.concat(problems, "; ") }
end

--- check.args(where, name1, value1, spec1, name2, value2, spec2, ...)
-- Returns nil when every argument fits its spec, else one validation error
-- listing every argument that does not.
function M.args(where, ...)
  local problems = {}
  local n = select("#", ...)
  for i = 1, n, 3 do
    local name, v, spec = select(i, ...)
    add(problems, name, v, spec)
  end
  return M.error(where, problems)
end

--- Same as args, with the error's operation (an operationId) set.
function M.op_args(where, operation, ...)
  local err = M.args(where, ...)
  if err then err.operation = operation end
  return err
end

--- nil when self is an object of `class` (its metatable), else the error of
-- a method called with '.' instead of ':' (or on something else).
-- where: "client.assets:get"; it names the call to write instead.
function M.self(where, self, class, operation)
  if getmetatable(self) == class and class ~= nil then return nil end
  local how = where:find(":", 1, true) and (" (" .. where .. "(...)), not '.'") or ""
  return M.error(where, { "self: must be the object the method is called on (got " .. M.show(self)
    .. "): call it with ':'" .. how }, operation)
end

--- Raises err (a scenario.Error) when there is one: for the entry points
-- that raise rather than return their errors.
function M.raise(err)
  if err then error(err, 0) end
end

--- Makes each method of `class` named in `names` (default: every function
-- of the class but its metamethods) check its self first and raise the
-- validation error of "prefix:name" when called with '.' instead of ':'.
function M.guard_methods(class, prefix, names)
  if not names then
    names = {}
    for name, fn in pairs(class) do
      if type(fn) == "function" and not name:match("^__") then names[#names + 1] = name end
    end
  end
  for _, name in ipairs(names) do
    local fn, where = class[name], prefix .. ":" .. name
    class[name] = function(self, ...)
      M.raise(M.self(where, self, class))
      return fn(self, ...)
    end
  end
end

return M
