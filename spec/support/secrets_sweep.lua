-- Run by spec/secrets_spec.lua: goes through every log level and every error
-- path with the simulator's credentials, printing everything a user could
-- see (logs, errors, tracebacks, tostring of every object). The spec greps it.
local scenario = require "scenario"
local sim_mod = require "support.sim"
local sim = sim_mod.start { job_duration = 0.3 }

local function show(label, ...)
  local parts = { label }
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    parts[#parts + 1] = tostring(v)
    if type(v) == "table" then
      for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(x) end
    end
  end
  print(table.concat(parts, " | "))
end

local levels = { "debug", "info", "warn", "error", function(level, msg) print("fn", level, msg) end }
for _, level in ipairs(levels) do
  for _, auth in ipairs { "basic", "bearer" } do
    local opts = { base_url = sim.url, log = level, poll_interval = 0.1, timeout = 0.5 }
    if auth == "basic" then
      opts.api_key, opts.api_secret = sim_mod.KEY, sim_mod.SECRET
    else
      opts.token = sim_mod.TOKEN
    end
    local c = scenario.new(opts)
    show("client", c)
    show("ok", c:request("GET", "/assets"))
    show("404", c:request("GET", "/assets/missing"))
    show("500", c.generate:txt2img({ prompt = "x" }, { headers = { ["X-Sim-Fault"] = "status=500" } }))
    show("429", c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "status=429" }, max_retries = 1 }))
    show("timeout", c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "delay_headers=1" } }))
    show("reset", c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "reset" } }))
    show("html", c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "html" }, max_retries = 0 }))
    show("badjson", c:request("GET", "/assets", { headers = { ["X-Sim-Fault"] = "invalid_json" } }))
    show("validation", c.generate:txt2img { prompt = 3, numSamples = "x" })
    show("unknown op", c:call("NoSuchOperation", {}))
    local job = c.generate:txt2img({ prompt = "x", modelId = "m" }, { headers = { ["X-Sim-Fault"] = "job_fail" } })
    show("job", job)
    if job then show("job wait", job:wait { timeout = 5 }) end
    local good = c.generate:txt2img { prompt = "y", modelId = "m" }
    if good and good:wait { timeout = 5 } then
      show("download", good:download(os.tmpname() .. ".d"))
    end
    local wrong = scenario.new { base_url = sim.url, log = level,
      api_key = sim_mod.KEY, api_secret = sim_mod.SECRET .. "x" }
    show("auth", wrong:request("GET", "/assets"))
    local refused = scenario.new { base_url = "http://127.0.0.1:1", log = level, max_retries = 0,
      api_key = sim_mod.KEY, api_secret = sim_mod.SECRET, token = nil }
    show("refused", refused:request("GET", "/assets"))
    local ok, err = pcall(function() assert(c:request("GET", "/assets/missing")) end)
    show("assert", ok, err)
    print(debug.traceback("traceback"))
  end
end
local insecure = scenario.new { base_url = sim.url, insecure = true, api_key = sim_mod.KEY,
  api_secret = sim_mod.SECRET, log = "debug" }
show("insecure", insecure)
sim:stop()
print("SWEEP DONE")
