-- Quickstart: generate two images from a prompt, wait for the job, download
-- the PNGs.
--
--   lua5.4 examples/quickstart.lua ["a prompt"] [out-dir]
--
-- Credentials and endpoint come from the environment: SCENARIO_API_KEY,
-- SCENARIO_API_SECRET and (for the local simulator) SCENARIO_API_URL.
-- SCENARIO_MODEL_ID picks the model (default flux.1-dev).
local scenario = require "scenario"

local prompt = arg[1] or "a lighthouse on a cliff at dusk, painterly"
local out_dir = arg[2] or "out"

local client = scenario.new()

local job = assert(client.generate:txt2img {
  modelId = os.getenv("SCENARIO_MODEL_ID") or "flux.1-dev",
  prompt = prompt,
  numSamples = 2,
})
print("job " .. job.id .. " submitted")

assert(job:wait {
  timeout = 600,
  on_progress = function(j)
    io.stderr:write(string.format("  %-12s %3d%%\n", j.status, math.floor(j.progress * 100)))
  end,
})

for _, path in ipairs(assert(job:download(out_dir))) do
  print("wrote " .. path)
end
