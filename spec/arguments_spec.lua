-- Careless callers (issue 15): every public entry point of the README, called
-- with arguments of the wrong type, without them, or with '.' for ':',
-- answers a scenario.Error of kind "validation" whose message names the
-- argument (returned as nil, err by calls, raised by constructors, the
-- scheduler and the builders), never a raw Lua error; and nothing reaches
-- the simulator.
local scenario = require "scenario"
local workflow = require "scenario.workflow"
local pipeline = require "scenario.pipeline"
local sim_mod = require "support.sim"
local unpack = require("scenario.compat").unpack

-- stands for a missing argument in the lists below
local NIL = setmetatable({}, { __tostring = function() return "nil" end })
local function fn() end
local NAN = 0 / 0

local function show(v)
  if v == NIL then return "nil" end
  if type(v) == "string" then return string.format("%q", v) end
  return type(v) == "number" and tostring(v) or type(v)
end

local function pack(...) return { n = select("#", ...), ... } end

-- Calls f, expecting a validation error naming `name`: returned as the
-- second value after nil (or false: scenario.pcall), or raised.
local function expect(how, name, label, f)
  local r = pack(pcall(f))
  local err
  if how == "raises" then
    assert(not r[1], label .. ": returned instead of raising a validation error")
    err = r[2]
  else
    assert(r[1], label .. ": raised " .. tostring(r[2]))
    assert(r[2] == nil or r[2] == false, label .. ": gave a result: " .. tostring(r[2]))
    err = r[3]
  end
  assert(scenario.is_error(err), label .. ": not a scenario.Error: " .. tostring(err))
  assert(err.kind == "validation", label .. ": kind " .. tostring(err.kind) .. ": " .. tostring(err))
  assert(type(err.message) == "string" and err.message:find(name, 1, true),
    label .. ": the message does not name " .. name .. ": " .. tostring(err.message))
end

describe("arguments of the public entry points", function()
  local sim, client, job, file
  setup(function()
    sim = sim_mod.start()
    client = sim:client()
    job = assert(client.jobs:job("job_x"))
    file = os.tmpname()
    local f = assert(io.open(file, "wb"))
    f:write("\137PNG\r\n\26\n" .. string.rep("x", 64))
    f:close()
  end)
  teardown(function()
    os.remove(file)
    sim:stop()
  end)
  before_each(function() sim:reset() end)

  -- Each entry point: how it answers a bad argument ("returns" or
  -- "raises"), a call taking its arguments, good arguments, and per
  -- argument its name, bad values (each tried alone, the others good) and
  -- its position when it is not its place in that list.
  -- `more`: further calls, { name the message must hold, call }.
  local function entries()
    local wf = workflow.new { name = "w" }
    local node = wf:node("n", "remove-background")
    local ref = node:output("image")
    local p = pipeline.new(client)
    local step = p:step("base", "generate.txt2img", { modelId = "m", prompt = "p" })
    local group = p:each({ 1 }, function() return step end)
    local some_asset = { id = "asset_x", url = sim.url .. "/_files/asset_x.png" }
    local ANY = { NIL, 42, "text", {}, fn, true }
    local NOT_TABLE = { 42, "text", fn, true }
    local NOT_STRING = { NIL, 42, {}, fn, true, "" }
    return {
      { "client:request", "returns", function(...) return client:request(...) end,
        { "GET", "/assets", NIL },
        { { "method", { NIL, 42, {}, fn, true, "", "GE T", "FETCH" } },
          { "path", { NIL, 42, {}, fn, true, "", "assets", "/a b", "/a\nb" } },
          { "options", NOT_TABLE } },
        more = {
          { "options.body", function() return client:request("POST", "/assets", { body = fn }) end },
          { "options.body", function() return client:request("POST", "/assets", { body = 42 }) end },
          { "options.query", function() return client:request("GET", "/assets", { query = "a=1" }) end },
          { "options.timeout", function() return client:request("GET", "/assets", { timeout = "10" }) end },
          { "options.headers", function() return client:request("GET", "/assets", { headers = 5 }) end },
          { "options.unsafe", function() return client:request("GET", "/assets", { unsafe = "no" }) end },
          { "options.dry_run", function() return client:request("GET", "/assets", { dry_run = 1 }) end },
          -- an option it does not take, named with the one it looks like
          { "options.timout: unknown option (did you mean timeout?)",
            function() return client:request("GET", "/assets", { timout = 5 }) end },
          { "self", function() return client.request("GET", "/assets") end },
        } },
      { "client:url", "raises", function(...) return client:url(...) end,
        { "/assets", NIL },
        { { "path", { NIL, 42, {}, "assets", "/a b" } }, { "query", NOT_TABLE } },
        more = { { "self", function() return client.url("/assets") end } } },
      { "client:redact", "raises", function(...) return client:redact(...) end,
        { "text" },
        { { "text", { NIL, 42, {}, fn } } },
        more = { { "self", function() return client.redact("text") end } } },
      { "client:call", "returns", function(...) return client:call(...) end,
        { "GetAssets", NIL, NIL },
        { { "operation_id", NOT_STRING }, { "fields", NOT_TABLE }, { "options", NOT_TABLE } },
        more = { { "self", function() return client.call("GetAssets") end } } },
      { "client.assets:get (generated)", "returns", function(...) return client.assets:get(...) end,
        { "asset_x", NIL, NIL },
        { { "options", NOT_TABLE, 3 } },
        more = {
          { "assetId", function() return client.assets:get() end },
          { "assetId", function() return client.assets:get({}) end },
          { "fields", function() return client.assets:get(true) end },
          { "fields", function() return client.assets:get(fn) end },
          { "fields", function() return client.assets:get("asset_x", 42) end },
          { "fields", function() return client.assets:get("asset_x", "text") end },
          { "options.timeout", function() return client.assets:get("asset_x", {}, { timeout = "1" }) end },
          { "options.dry_run", function() return client.assets:get("asset_x", {}, { dry_run = "yes" }) end },
          { "options.strict", function() return client.assets:get("asset_x", {}, { strict = 1 }) end },
          { "self", function() return client.assets.get("asset_x") end },
          { "self", function() return client.assets.get() end },
          { "self", function() return client.models.presets.list("model_x") end },
        } },
      { "client.generate:custom (generated)", "returns", function(...) return client.generate:custom(...) end,
        { "model_x", {}, NIL },
        { { "options", NOT_TABLE, 3 } },
        more = {
          { "modelId", function() return client.generate:custom() end },
          { "fields", function() return client.generate:custom(true) end },
          { "fields", function() return client.generate:custom("model_x", 42) end },
          { "prompt", function() return client.generate:txt2img { modelId = "m", prompt = 5 } end },
          { "self", function() return client.generate.custom("model_x", {}) end },
          { "self", function() return client.generate.txt2img { modelId = "m", prompt = "p" } end },
        } },
      { "client.assets:each / :pages", "raises", function(...) return client.assets:each(...) end,
        { NIL, NIL },
        { { "fields", { 42, "text", fn, true } }, { "options", NOT_TABLE } },
        more = {
          { "fields", function() return client.assets:pages(42) end },
          { "self", function() return client.assets.each({}) end },
          { "self", function() return client.assets.pages() end },
          { "self", function() return client.assets.snapshots.each("asset_x") end },
          { "fields", function() return client.assets.snapshots:each("asset_x", true) end },
        } },
      { "client.assets:download", "returns", function(...) return client.assets:download(...) end,
        { some_asset, "out.png", NIL },
        { { "asset_or_id", { NIL, 42, fn, true, "", {}, { url = 5 } } },
          { "path", NOT_STRING }, { "options", NOT_TABLE } },
        more = {
          { "options.on_progress", function()
            return client.assets:download(some_asset, "o.png", { on_progress = 5 })
          end },
          { "options.timeout", function() return client.assets:download(some_asset, "o.png", { timeout = "5" }) end },
          { "self", function() return client.assets.download(some_asset, "o.png") end },
        } },
      { "client.assets:upload", "returns", function(...) return client.assets:upload(...) end,
        { file, NIL },
        { { "path", NOT_STRING }, { "options", NOT_TABLE } },
        more = { { "self", function() return client.assets.upload(file) end } } },
      { "client.uploads:file", "returns", function(...) return client.uploads:file(...) end,
        { file, NIL },
        { { "path", NOT_STRING }, { "options", NOT_TABLE } },
        more = {
          { "options.on_progress", function() return client.uploads:file(file, { on_progress = 5 }) end },
          { "self", function() return client.uploads.file(file) end },
        } },
      { "client.uploads:data", "returns", function(...) return client.uploads:data(...) end,
        { "bytes", NIL },
        { { "bytes", NOT_STRING }, { "options", NOT_TABLE } },
        more = { { "self", function() return client.uploads.data("bytes") end } } },
      { "client.uploads:url", "returns", function(...) return client.uploads:url(...) end,
        { "https://example.com/a.png", NIL },
        { { "url", { NIL, 42, {}, fn, true, "", "ftp://example.com/a.png" } }, { "options", NOT_TABLE } },
        more = { { "self", function() return client.uploads.url("https://example.com/a.png") end } } },
      { "client.jobs:job", "returns", function(...) return client.jobs:job(...) end,
        { "job_x" },
        { { "id", { NIL, 42, fn, true, "", {}, { jobId = 5 } } } },
        more = { { "self", function() return client.jobs.job("job_x") end } } },
      { "client.jobs:wait_all", "returns", function(...) return client.jobs:wait_all(...) end,
        { { job }, NIL },
        { { "jobs", { NIL, 42, "text", fn, true } }, { "jobs[1]", { { 1 }, { "job_x" }, { {} } }, 1 },
          { "options", NOT_TABLE, 2 } },
        more = {
          { "options.timeout", function() return client.jobs:wait_all({ job }, { timeout = "10" }) end },
          { "options.on_progress", function() return client.jobs:wait_all({ job }, { on_progress = 5 }) end },
          { "options.concurency: unknown option (did you mean concurrency?)",
            function() return client.jobs:wait_all({ job }, { concurency = 2 }) end },
          { "options.concurrency", function() return client.jobs:wait_all({ job }, { concurrency = 0 }) end },
          { "jobs[2]", function() return client.jobs:wait_all({ job, "job_y" }) end },
          { "self", function() return client.jobs.wait_all({ job }) end },
        } },
      { "client.workflows:deploy", "returns", function(...) return client.workflows:deploy(...) end,
        { wf, NIL },
        { { "wf", ANY }, { "options", NOT_TABLE } },
        more = { { "self", function() return client.workflows.deploy(wf) end } } },
      { "client.workflows:load", "returns", function(...) return client.workflows:load(...) end,
        { "workflow_x", NIL },
        { { "id", NOT_STRING }, { "options", NOT_TABLE } },
        more = { { "self", function() return client.workflows.load("workflow_x") end } } },
      { "client.workflows:run", "returns", function(...) return client.workflows:run(...) end,
        { "workflow_x", {}, NIL },
        { { "id_or_wf", { NIL, 42, fn, true, "" } }, { "inputs", NOT_TABLE }, { "options", NOT_TABLE } },
        more = {
          { "workflowId", function() return client.workflows:run({}) end },
          { "self", function() return client.workflows.run("workflow_x", {}) end },
        } },
      { "client.workflows:approve (generated)", "returns", function(...) return client.workflows:approve(...) end,
        { "workflow_x", { workflowJobId = "j", nodeId = "n" }, NIL },
        { { "options", NOT_TABLE, 3 } },
        more = {
          { "workflowId", function() return client.workflows:approve() end },
          { "fields", function() return client.workflows:approve("workflow_x", true) end },
        } },
      { "job:wait", "returns", function(...) return job:wait(...) end,
        { NIL },
        { { "options", NOT_TABLE } },
        more = {
          { "options.timeout", function() return job:wait { timeout = "10" } end },
          { "options.timeout", function() return job:wait { timeout = -1 } end },
          { "options.timeout", function() return job:wait { timeout = NAN } end },
          { "options.on_progress", function() return job:wait { on_progress = 5 } end },
          { "options.on_progress", function() return job:wait { on_progress = "print" } end },
          { "options.poll_interval", function() return job:wait { poll_interval = "1" } end },
          { "options.cancel_on_timeout", function() return job:wait { cancel_on_timeout = "yes" } end },
          { "options.timeot: unknown option (did you mean timeout?)", function() return job:wait { timeot = 1 } end },
          { "self", function() return job.wait({}) end },
          { "self", function() return job.wait() end },
        } },
      { "job:refresh", "returns", function(...) return job:refresh(...) end,
        { NIL },
        { { "options", NOT_TABLE } },
        more = {
          { "options.timeout", function() return job:refresh { timeout = "10" } end },
          { "options.max_retry: unknown option (did you mean max_retries?)",
            function() return job:refresh { max_retry = 1 } end },
          { "self", function() return job.refresh() end },
        } },
      { "job:download", "returns", function(...) return job:download(...) end,
        { "out", NIL },
        { { "dir", NOT_STRING }, { "options", NOT_TABLE } },
        more = {
          { "options.concurrency", function() return job:download("out", { concurrency = 0 }) end },
          { "options.concurrency", function() return job:download("out", { concurrency = "4" }) end },
          { "options.on_progress", function() return job:download("out", { on_progress = 5 }) end },
          { "options.concurency: unknown option (did you mean concurrency?)",
            function() return job:download("out", { concurency = 2 }) end },
          { "self", function() return job.download("out") end },
        } },
      { "job:approve", "returns", function(...) return job:approve(...) end,
        { "node_x", NIL },
        { { "node_id", NOT_STRING }, { "options", NOT_TABLE } },
        more = { { "self", function() return job.approve("node_x") end } } },
      { "job:cancel, :assets, :nodes, :outcome, :eta", "returns", function() return job:cancel() end,
        {}, {},
        more = {
          { "self", function() return job.cancel() end },
          { "self", function() return job.assets() end },
          { "self", function() return job.nodes() end },
          { "self", function() return job.outcome() end },
          { "self", function() return job.eta("x") end },
        } },
      { "scenario.new", "raises", function(...) return scenario.new(...) end,
        { NIL },
        { { "options", NOT_TABLE } },
        more = { { "timeout", function() return scenario.new { timeout = "10" } end } } },
      { "scenario.spawn", "raises", function(...) return scenario.spawn(...) end,
        { fn }, { { "fn", { NIL, 42, "text", {}, true } } } },
      { "scenario.cancel", "raises", function(...) return scenario.cancel(...) end,
        { coroutine.create(fn) }, { { "co", { NIL, 42, "text", {}, fn, true } } } },
      { "scenario.step", "raises", function(...) return scenario.step(...) end,
        { 0 }, { { "max_ms", { "text", {}, fn, true, -1, NAN, 1 / 0 } } } },
      { "scenario.sleep", "raises", function(...) return scenario.sleep(...) end,
        { 0 }, { { "seconds", { NIL, "text", {}, fn, true, -1, NAN, 1 / 0 } } } },
      { "scenario.array", "raises", function(...) return scenario.array(...) end,
        { {} }, { { "list", NOT_TABLE } } },
      { "scenario.pcall", "returns", function(...) return scenario.pcall(...) end,
        { fn }, { { "fn", { NIL, 42, "text", {}, true } } } },
      { "scenario.on_error", "raises", function(v) scenario.on_error = v end,
        { scenario.on_error }, { { "on_error", { NIL, 42, "text", {}, true } } } },
      { "workflow.ref", "raises", function(...) return workflow.ref(...) end,
        { { node = "n", name = "image" } }, { { "fields", { NIL, 42, "text", fn, true } } } },
      { "workflow.decode", "returns", function(...) return workflow.decode(...) end,
        { "{}" }, { { "text", { NIL, 42, {}, fn, true } } } },
      { "wf:compile", "returns", function(...) return wf:compile(...) end,
        { NIL }, { { "options", NOT_TABLE } },
        more = {
          { "options.models", function() return wf:compile { models = 5 } end },
          -- what the builder records, wf:compile returns
          { "options", function() return workflow.new(42):compile() end },
          { "input name", function()
            local w = workflow.new { name = "w" }
            w:input(42, "string")
            return w:compile()
          end },
          { "node id", function()
            local w = workflow.new { name = "w" }
            w:node(nil, "remove-background")
            return w:compile()
          end },
        } },
      { "the workflow builder called with '.'", "raises", function() return wf.input("prompt", "string") end,
        {}, {},
        more = {
          { "self", function() return wf.input("prompt", "string") end },
          { "self", function() return wf.node("m", "remove-background") end },
          { "self", function() return wf.custom_model("m", "model_x") end },
          { "self", function() return wf.compile() end },
          { "self", function() return wf.get_node("n") end },
          { "self", function() return node.output("image") end },
          { "self", function() return node.input("x", 1) end },
          { "self", function() return ref.when(node) end },
          { "self", function() return ref.as("file") end },
        } },
      { "pipeline.new", "raises", function(...) return pipeline.new(...) end,
        { client }, { { "client", ANY } } },
      { "p:step", "raises", function(...) return p:step(...) end,
        { "s", "generate.txt2img", { modelId = "m", prompt = "p" }, NIL },
        { { "name", NOT_STRING }, { "operation", { NIL, 42, {}, fn, true, "", "nope.nope", "assets.get" } },
          { "fields", NOT_TABLE }, { "options", NOT_TABLE } },
        more = {
          { "download", function() return p:step("s", "generate.txt2img", {}, { download = 5 }) end },
          { "self", function() return p.step("s", "generate.txt2img", {}) end },
        } },
      { "p:each, p:asset, p:assets, step:asset, group:asset", "raises", function(...) return p:each(...) end,
        { {}, fn }, { { "list", { NIL, 42, "text", fn, true } }, { "fn", { NIL, 42, "text", {}, true } } },
        more = {
          { "name", function() return p:asset(42) end },
          { "name", function() return p:asset() end },
          { "name", function() return p:assets({}) end },
          { "asset(i)", function() return p:asset("s", 0) end },
          { "asset(i)", function() return p:asset("s", "1") end },
          { "self", function() return p.each({}, fn) end },
          { "self", function() return p.asset("s") end },
          { "self", function() return step.asset(1) end },
          { "self", function() return step.assets() end },
          { "self", function() return group.asset(1) end },
          { "asset(i)", function() return step:asset(0) end },
        } },
      { "p:run", "returns", function(...) return p:run(...) end,
        { NIL }, { { "options", NOT_TABLE } },
        more = {
          { "options.concurrency", function() return p:run { concurrency = 0 } end },
          { "options.on_event", function() return p:run { on_event = 5 } end },
          { "self", function() return p.run({}) end },
        } },
    }
  end

  -- Every case of an entry: { label, name, call }
  local function cases_of(e)
    local label, call, good, args = e[1], e[3], e[4], e[5]
    local n = #good
    local out = {}
    for i, a in ipairs(args) do
      for _, bad in ipairs(a[2]) do
        local list = {}
        for k = 1, n do list[k] = good[k] end
        list[a[3] or i] = bad
        for k = 1, n do if list[k] == NIL then list[k] = nil end end
        out[#out + 1] = { label .. " with " .. a[1] .. " = " .. show(bad), a[1], function()
          return call(unpack(list, 1, n))
        end }
      end
    end
    for i, m in ipairs(e.more or {}) do
      out[#out + 1] = { label .. " (more #" .. i .. ")", m[1], m[2] }
    end
    return out
  end

  it("answers a validation error naming the argument, and sends nothing, at every entry point", function()
    local count, failed = 0, {}
    for _, e in ipairs(entries()) do
      for _, c in ipairs(cases_of(e)) do
        local ok, why = pcall(expect, e[2], c[2], c[1], c[3])
        if not ok then failed[#failed + 1] = tostring(why) end
        count = count + 1
      end
      local sent = sim:stats().total
      if sent ~= 0 then failed[#failed + 1] = e[1] .. ": " .. sent .. " requests reached the simulator" end
      sim:reset()
    end
    assert(#failed == 0, #failed .. " of " .. count .. " cases failed:\n" .. table.concat(failed, "\n"))
    assert.is_true(count > 300, "cases: " .. count)
  end)

  it("keeps the good arguments of the table working", function()
    -- the same good arguments as above, sent: a check that refuses them
    -- would make every case above pass for the wrong reason
    local body = assert(client:request("GET", "/assets"))
    assert.is_table(body.assets)
    assert(client:call("GetAssets"))
    assert(client:request("get", "/assets", { query = { pageSize = 1 }, timeout = 10, dry_run = false }))
    local n = 0
    for page in client.assets:pages({ pageSize = 5 }) do
      assert.is_table(page.assets)
      n = n + 1
    end
    assert.are.equal(1, n)
    assert.are.equal(sim.url .. "/assets?pageSize=1", client:url("/assets", { pageSize = 1 }))
    assert.are.equal("text", client:redact("text"))
    assert.is_table(workflow.decode("{}"))
    assert.is_number(scenario.step(0))
    scenario.sleep(0)
    assert.is_true(select(1, scenario.pcall(fn)))
    assert.is_table(scenario.array())
    local j = assert(client.jobs:job { jobId = "job_y", status = "pending" })
    assert.are.equal("job_y", j.id)
    local ok, err = j:wait { timeout = 0, poll_interval = 0.05, cancel_on_timeout = false }
    assert.is_nil(ok)
    assert.are_not.equal("validation", err.kind)
  end)

  it("re-raises the caller's own error from a callback, unchanged", function()
    local mine = { "mine" }
    local j = assert(client.jobs:job("job_x"))
    local ok, err = pcall(j.wait, j, { on_progress = function() error(mine) end })
    assert.is_false(ok)
    assert.are.equal(mine, err)
    ok, err = pcall(client.jobs.wait_all, client.jobs, { j }, { on_progress = function() error(mine) end })
    assert.is_false(ok)
    assert.are.equal(mine, err)
  end)

  it("names the allowed HTTP methods and shows the value given", function()
    local _, err = client:request("GE T", "/assets")
    assert.are.equal('client:request: method: must be one of GET, POST, PUT, PATCH, DELETE, HEAD, '
      .. 'OPTIONS (got "GE T")', err.message)
    assert.are.equal("method", err.field)
    _, err = client.assets.get("asset_x")
    assert.matches("call it with ':' %(client%.assets:get%(%.%.%.%)%)", err.message)
    assert.are.equal("GetAssetsByAssetId", err.operation)
    _, err = job:wait { timeout = "10", on_progress = 5 }
    assert.are.equal(2, #err.problems)        -- every bad argument at once
  end)
end)
