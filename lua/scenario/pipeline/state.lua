--- The state file of a pipeline: JSON, rewritten whole through a synced
-- temporary file and a rename, so that a crash leaves either the old state
-- or the new one. Per step: operation, fingerprint, status, job, cost,
-- assets, files, error (see scenario.pipeline).
local core = require "scenario.core"
local errors = require "scenario.errors"
local json = require "scenario.json"
local plan_error = require("scenario.pipeline.plan").error

local M = {}

M.VERSION = 1

local function dir_of(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local function io_error(message)
  return errors.new { kind = "io", message = message }
end

--- A state with no step.
function M.new()
  return { version = M.VERSION, steps = {} }
end

--- Reads the state file: the table, an empty state when there is none, or
-- nil, err.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return M.new() end
  local text = f:read("*a")   -- "*a": Lua 5.1 and 5.2 know no "a"
  f:close()
  local state = json.decode(text or "")
  if type(state) ~= "table" or type(state.steps) ~= "table" then
    return nil, io_error("pipeline: the state file " .. path .. " is not a pipeline state"
      .. " (invalid JSON or no steps); fix or remove it")
  end
  if state.version ~= M.VERSION then
    return nil, io_error("pipeline: the state file " .. path .. " has version "
      .. tostring(state.version) .. "; this SDK writes version " .. M.VERSION)
  end
  return state
end

-- Flushes a file (and a directory) to the disk when the core can.
local function sync(path)
  if core.fsync then return core.fsync(path) end
  return true
end

--- Writes the whole state: a temporary file in the same directory, flushed
-- and synced, renamed over the state file, then the directory synced.
-- Returns true or nil, err.
function M.write(path, state)
  state.updated = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local text, jerr = json.encode(state)
  if not text then return nil, io_error("pipeline: cannot encode the state: " .. tostring(jerr)) end
  local dir = dir_of(path)
  local dok, derr = core.mkdir(dir)
  if not dok then return nil, io_error("pipeline: cannot create directory " .. tostring(derr)) end
  local tmp = string.format("%s.tmp-%d", path, math.random(1, 2^30))
  local f, ferr = io.open(tmp, "wb")
  if not f then return nil, io_error("pipeline: cannot write " .. tmp .. ": " .. tostring(ferr)) end
  local ok, werr = f:write(text, "\n")
  if ok then ok, werr = f:flush() end
  f:close()
  if ok then ok, werr = sync(tmp) end
  if not ok then
    os.remove(tmp)
    return nil, io_error("pipeline: cannot write " .. tmp .. ": " .. tostring(werr))
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, io_error("pipeline: cannot rename " .. tmp .. " to " .. path .. ": " .. tostring(rerr))
  end
  sync(dir)
  return true
end

--- An error when the state (read from path) holds a step whose operation or
-- fields changed since it was written (its fingerprint differs), else nil.
function M.check_fingerprints(state, steps, plan, path)
  local changed = {}
  for _, s in ipairs(steps) do
    local st = state.steps[s.name]
    if type(st) == "table" and st.fingerprint ~= plan.fingerprint[s.name] then
      changed[#changed + 1] = s.name
    end
  end
  if #changed > 0 then
    return plan_error("pipeline: the state file " .. path .. " was written for other "
      .. "operations or fields of step(s) " .. table.concat(changed, ", ")
      .. "; restore them, or remove their entries (or the state file) to run them anew", changed)
  end
end

--- Gives every step an entry in the state (operation and fingerprint).
function M.stamp(state, steps, plan)
  for _, s in ipairs(steps) do
    local st = state.steps[s.name]
    if type(st) ~= "table" then
      st = { operation = s.op.id }
      state.steps[s.name] = st
    end
    st.fingerprint = plan.fingerprint[s.name]
  end
end

function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

return M
