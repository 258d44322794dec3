--- B1 (SDK): N sequential client.jobs:get(id) over keep-alive, each answer
-- decoded into a Job.   lua5.4 bench/b1_sdk.lua BASE_URL [N]
local scenario = require "scenario"
local core = require "scenario.core"

local base, n = arg[1], tonumber(arg[2] or 5000)
local client = scenario.new { base_url = base, api_key = "k", api_secret = "s", log = false }
local id = "job_124ba27fa8754e40b3ba34"
local t0 = core.now()
for i = 1, n do
  local job, err = client.jobs:get(id)
  if not job then
    io.stderr:write("request ", i, ": ", tostring(err), "\n")
    os.exit(1)
  end
  if job.id ~= id or job.status ~= "success" then
    io.stderr:write("request ", i, ": not the expected Job: ", tostring(job), "\n")
    os.exit(1)
  end
end
print(string.format("RESULT seconds=%.6f requests=%d", core.now() - t0, n))
