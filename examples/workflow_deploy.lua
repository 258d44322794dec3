-- Workflow: build a Scenario workflow in Lua (a custom model, a human
-- approval, background removal), deploy it, run it, approve the review when
-- the run reaches it, and download the outputs.
--
--   lua5.4 examples/workflow_deploy.lua [out-dir] ["a prompt"]
--
-- Credentials and endpoint come from the environment: SCENARIO_API_KEY,
-- SCENARIO_API_SECRET and (for the local simulator) SCENARIO_API_URL.
-- SCENARIO_MODEL_ID picks the custom model (default model_sim-custom, the
-- simulator's). SCENARIO_WORKFLOW_ID updates that workflow instead of
-- creating one.
local scenario = require "scenario"
local workflow = require "scenario.workflow"

local out_dir = arg[1] or "out"
local prompt_text = arg[2] or "a knight in silver armour, character sheet"

local client = scenario.new()

local wf = workflow.new {
  name = "Hero sheet",
  description = "A character from a prompt, reviewed by a human, background removed",
  tags = { "example" },
  id = os.getenv("SCENARIO_WORKFLOW_ID"),
}
local prompt = wf:input("prompt", "string", { required = true, label = "Prompt", maxLength = 500 })
local style = wf:input("style", "string", { label = "Style",
  allowedValues = { "photo", "illustration", "pixel-art" } })

local gen = wf:custom_model("gen", os.getenv("SCENARIO_MODEL_ID") or "model_sim-custom", {
  inputs = { prompt = prompt, style = style, numSamples = 2, aspectRatio = "1:1" },
})
local review = wf:approval("review", { inputs = { images = gen:output("all") } })
wf:remove_background("nobg", { inputs = { image = gen:output("image") }, depends_on = { review } })

-- compiled and checked (the model's inputs too) before anything is sent
local record = assert(client.workflows:deploy(wf))
print("workflow " .. record.id .. " deployed (" .. #record.flow .. " nodes)")

local job = assert(client.workflows:run(wf, { prompt = prompt_text, style = "illustration" }))
print("run " .. job.id .. " submitted")

local approved = {}
assert(job:wait {
  timeout = 600,
  on_progress = function(j)
    local parts = {}
    for _, node in ipairs(j:nodes()) do
      parts[#parts + 1] = node.id .. "=" .. tostring(node.status)
      if node.type == "user-approval" and node.status == "processing" and not approved[node.id] then
        approved[node.id] = true
        assert(j:approve(node.id))
        print("approved " .. node.id)
      end
    end
    print(string.format("  %-12s %3d%%  %s", j.status, math.floor(j.progress * 100), table.concat(parts, " ")))
  end,
})

for _, path in ipairs(assert(job:download(out_dir))) do
  print("wrote " .. path)
end
