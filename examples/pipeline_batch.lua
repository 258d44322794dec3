-- A batch pipeline: a dozen prompts, two variations of each, the background
-- removed from every variation, the cut-outs downloaded. Priced first (dry
-- runs) and refused over the budget; resumable: run it again after a crash
-- or Ctrl-C and it re-attaches to the jobs already submitted, skips the
-- steps already done, and pays for nothing twice.
--
--   lua5.4 examples/pipeline_batch.lua [out-dir] [max-cost]
--
-- Credentials and endpoint come from the environment: SCENARIO_API_KEY,
-- SCENARIO_API_SECRET and (for the local simulator) SCENARIO_API_URL.
-- SCENARIO_MODEL_ID picks the model (default flux.1-dev);
-- SCENARIO_POLL_INTERVAL the seconds before a job's first poll (default 2; the
-- tests use 0.1 for the simulator's short jobs). The state file is
-- <out-dir>/batch.state.json.
local scenario = require "scenario"
local pipeline = require "scenario.pipeline"

local out_dir = arg[1] or "out/batch"
local max_cost = tonumber(arg[2]) or 500
local model = os.getenv("SCENARIO_MODEL_ID") or "flux.1-dev"

local prompts = {
  "a lighthouse on a cliff at dusk", "a red fox in the snow", "a steampunk airship",
  "a treasure chest full of gems", "a wizard's tower in a forest", "a robot gardener",
  "a castle made of ice", "a desert caravan at noon", "a koi pond in autumn",
  "a lantern-lit night market", "a crystal sword on an anvil", "a sleeping dragon",
}

local client = scenario.new { poll_interval = tonumber(os.getenv("SCENARIO_POLL_INTERVAL")) }
local p = pipeline.new(client)

-- one txt2img step per prompt (two samples: the two variations), then one
-- background removal per variation
p:each(prompts, function(prompt, i)
  local gen = p:step("gen-" .. i, "generate.txt2img",
    { modelId = model, prompt = prompt .. ", game asset, plain background", numSamples = 2 })
  return p:each({ 1, 2 }, function(v)
    return p:step(string.format("nobg-%d-%d", i, v), "generate.remove_background",
      { image = gen:asset(v) })
  end)
end)

local done, total = 0, #p.steps

local result, err = p:run {
  concurrency = 6,
  max_cost = max_cost,
  state_file = out_dir .. "/batch.state.json",
  download = out_dir,                 -- leaf steps: out_dir/<step name>/<asset>.png
  on_event = function(ev)
    if ev.type == "finished" or ev.type == "failed" or ev.type == "skipped" then
      done = done + 1
      io.stderr:write(string.format("[%2d/%d] %-10s %s%s\n", done, total, ev.step, ev.type,
        ev.error and (": " .. tostring(ev.error.message)) or ""))
    end
  end,
}
if not result then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local files = 0
for _, name in ipairs(result.order) do files = files + #result.steps[name].files end
print(string.format("%d steps, %d files in %s", #result.order, files, out_dir))
print(string.format("spend: estimated %s, spent %s creative units (this run and earlier ones)",
  tostring(result.spend.estimated or "-"), tostring(result.spend.spent)))
if err then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
