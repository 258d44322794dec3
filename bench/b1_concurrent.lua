--- B1 (SDK, concurrent): N client.jobs:get(id) over keep-alive, 16 in flight
-- (scenario.spawn), each answer decoded into a Job.
--   lua5.4 bench/b1_concurrent.lua BASE_URL [N] [IN_FLIGHT]
local scenario = require "scenario"
local core = require "scenario.core"

local base, n, width = arg[1], tonumber(arg[2] or 5000), tonumber(arg[3] or 16)
local client = scenario.new { base_url = base, api_key = "k", api_secret = "s", log = false }
local id = "job_124ba27fa8754e40b3ba34"
local done, failed = 0, nil
local t0 = core.now()
for w = 1, width do
  scenario.spawn(function()
    for _ = w, n, width do
      local job, err = client.jobs:get(id)
      if not job or job.id ~= id then failed = failed or tostring(err or job) end
      done = done + 1
    end
  end)
end
scenario.run()
if failed or done ~= n then
  io.stderr:write("b1_concurrent: ", tostring(failed), " (", done, " of ", n, ")\n")
  os.exit(1)
end
print(string.format("RESULT seconds=%.6f requests=%d", core.now() - t0, n))
