--- scenario: the Lua SDK for the Scenario generative-AI API.
--   local scenario = require "scenario"
--   local client = scenario.new { api_key = ..., api_secret = ... }
local core = require "scenario.core"
local client = require "scenario.client"
local errors = require "scenario.errors"
local loop = require "scenario.loop"
local json = require "scenario.json"
local check = require "scenario.check"

local M = {}

M.VERSION = core.VERSION
M.Error = errors.Error
M.is_error = errors.is
M.null = json.null

--- scenario.array(list): marks a table (default a new one) to encode as a
-- JSON array. Raises a validation error for anything but a table or nil.
function M.array(list)
  check.raise(check.args("scenario.array", "list", list, "table?"))
  return json.array(list)
end

--- Creates a client; see the README's configuration table.
function M.new(opts)
  return client.new(opts)
end

M.spawn = loop.spawn   -- returns the coroutine; scenario.cancel(co) stops it
M.cancel = loop.cancel
M.step = loop.step
M.run = loop.run
M.sleep = loop.sleep
-- pcall that a spawned coroutine can wait under on every version (PUC Lua
-- 5.1's own pcall cannot yield); pcall itself on LuaJIT and 5.2+, but for
-- what cannot be called: false and a validation error naming fn
function M.pcall(fn, ...)
  if not check.callable(fn) then
    return false, check.args("scenario.pcall", "fn", fn, "function")
  end
  return loop.pcall(fn, ...)
end

-- scenario.on_error(err, traceback) receives errors raised inside spawned
-- coroutines (the user's own value, unchanged, once the coroutine's waits are
-- cancelled); assign a function to replace the default (stderr). An error it
-- raises in turn is written to stderr and dropped.
setmetatable(M, {
  __index = function(_, k)
    if k == "on_error" then return loop.on_error end
  end,
  __newindex = function(t, k, v)
    if k == "on_error" then
      -- a validation error, raised as scenario.new raises its own
      check.raise(check.args("scenario", "on_error", v, "function"))
      loop.on_error = v
    else
      rawset(t, k, v)
    end
  end,
})

return M
