--- B2: creates COUNT generations on the simulator (16 creations in flight)
-- and waits for all of them with client.jobs:wait_all, with the client's
-- default poll interval. Wall and CPU (os.clock) from the first creation to
-- the end of wait_all.
--   lua5.4 bench/b2_wait_all.lua SIM_URL KEY SECRET [COUNT]
local scenario = require "scenario"
local loop = require "scenario.loop"
local core = require "scenario.core"

local url, key, secret = arg[1], arg[2], arg[3]
local count = tonumber(arg[4] or 200)
local client = scenario.new { base_url = url, api_key = key, api_secret = secret, log = false }

local tasks = {}
for i = 1, count do
  tasks[i] = function()
    return assert(client.generate:txt2img {
      modelId = "flux.1-dev", prompt = "benchmark " .. i, numSamples = 1 })
  end
end
local t0, c0 = core.now(), os.clock()
local results = loop.gather(tasks, 16)
local created = core.now()
local jobs = {}
for i, r in ipairs(results) do jobs[i] = r[1] end
local _, errs = client.jobs:wait_all(jobs)
local wall, cpu = core.now() - t0, os.clock() - c0
local failed = 0
for id, err in pairs(errs) do
  failed = failed + 1
  io.stderr:write("job ", id, ": ", tostring(err), "\n")
end
print(string.format("RESULT wall=%.6f cpu=%.6f create=%.6f jobs=%d failed=%d poll_interval=%g",
  wall, cpu, created - t0, count, failed, client.poll_interval))
os.exit(failed == 0 and 0 or 1)
