--- Starts the local simulator (simulator/scenario_sim.py, next to this file)
-- as a direct child of the calling process and talks to its control endpoints
-- (/_sim/...). Runs on Lua 5.1-5.4 and LuaJIT; needs scenario and
-- scenario.core on the paths, and python3.
--   local simmod = require "simulator.sim"   -- package.path with "./?.lua",
--                                            -- or dofile("simulator/sim.lua")
--   local sim = simmod.start { job_duration = 0.5 }
--   ... sim.url, sim:client(), sim:stats(), sim:faults("GET", "/jobs/*", { "status=503" }) ...
--   sim:stop()
-- start's options: job_duration (seconds, default 0.3), faults (the --faults
-- spec), args (more command-line arguments). The simulator accepts the key
-- and secret M.KEY, M.SECRET and the Bearer token M.TOKEN.
local core = require "scenario.core"
local json = require "scenario.json"

local M = {}
local Sim = {}
Sim.__index = Sim

M.KEY, M.SECRET, M.TOKEN = "test-key", "test-secret-0123456789", "test-token-abcdef"

-- the folder of this file ("simulator/" when loaded as simulator/sim.lua)
local function here()
  local source = debug.getinfo(1, "S").source
  local dir = source:match("^@(.-)[^/]*$")
  if dir == nil then return "simulator/" end
  return dir
end

-- A process carrying LD_PRELOAD (a sanitizer runtime, under make test-asan)
-- does not hand it on to python3, which is not built for it.
local function native()
  if os.getenv("LD_PRELOAD") then return "env -u LD_PRELOAD " end
  return ""
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Starts a simulator; returns it once it listens (sim.url, sim.port, sim.pid).
function M.start(opts)
  opts = opts or {}
  local args = {
    "exec " .. native() .. "python3",
    quote(here() .. "scenario_sim.py"), "--port 0", "--quiet",
    "--api-key", M.KEY, "--api-secret", M.SECRET, "--token", M.TOKEN,
    "--job-duration", tostring(opts.job_duration or 0.3),
  }
  if opts.faults then args[#args + 1] = "--faults '" .. opts.faults .. "'" end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  local pipe = assert(io.popen(table.concat(args, " "), "r"))
  local line = pipe:read("*l")
  local port, pid = (line or ""):match("^LISTENING (%d+) (%d+)")
  assert(port, "simulator did not start: " .. tostring(line))
  return setmetatable({ pipe = pipe, port = tonumber(port), pid = tonumber(pid),
    url = "http://127.0.0.1:" .. port }, Sim)
end

local function http(method, url, body)
  local req = core.request { url = url, method = method, timeout = 10,
    body = body and assert(json.encode(body)),
    headers = body and { "Content-Type: application/json" } or nil }
  -- through the scheduler, so that finished work of spawned coroutines is
  -- dispatched rather than swallowed
  require("scenario.loop").await(req)
  local res, err = req:result()
  assert(res, err and err.message)
  return res.status, json.decode(res.body), res
end

--- The raw bytes at url (no auth), as the simulator serves them.
function M.fetch(url)
  local status, _, res = http("GET", url)
  assert(status == 200, "GET " .. url .. " answered " .. status)
  return res.body
end

function Sim:control(method, path, body)
  local status, decoded = http(method, self.url .. path, body)
  assert(status == 200, "simulator control " .. path .. " answered " .. status)
  return decoded
end

function Sim:stats() return self:control("GET", "/_sim/stats") end
function Sim:reset() return self:control("POST", "/_sim/reset", {}) end
function Sim:config(cfg) return self:control("POST", "/_sim/config", cfg) end

--- Queues faults for the next matching requests, in order.
function Sim:faults(method, path, list)
  return self:control("POST", "/_sim/faults", { method = method, path = path, faults = list })
end

--- A client on this simulator; extra options override the defaults.
function Sim:client(extra)
  local opts = { api_key = M.KEY, api_secret = M.SECRET, base_url = self.url,
    log = false, poll_interval = 0.1 }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return require("scenario").new(opts)
end

--- How many requests the simulator saw for a route like "POST /generate/txt2img".
function Sim:count(route)
  local s = self:stats()
  return (s.routes or s.by_route or {})[route] or 0
end

--- Stops the simulator (by its pid) and closes the pipe to it.
function Sim:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    self.pipe:close()
    self.pid = nil
  end
end

return M
