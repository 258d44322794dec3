-- scenario.workflow (the builder of PUT /workflows/{id}) and
-- client.workflows:deploy / load / run, job:nodes / job:approve: unit tests
-- of the builder, then against the local simulator, then the compiled body
-- of every node and input type against Prism (prism mock --errors).
local cjson = require "cjson"
local json = require "scenario.json"
local workflow = require "scenario.workflow"
local sim_mod = require "support.sim"

local function problems_of(err)
  assert.is_table(err, "expected an error")
  assert.are.equal("validation", err.kind)
  return table.concat(err.problems, "\n")
end

-- asserts that `err` lists a problem containing every one of the strings
local function has_problem(err, ...)
  local text = problems_of(err)
  for i = 1, select("#", ...) do
    local s = select(i, ...)
    assert.is_truthy(text:find(s, 1, true), ("no problem mentions %q in:\n%s"):format(s, text))
  end
end

local SIM_MODEL = {
  id = "model_sim-custom",
  inputs = {
    { name = "prompt", type = "string", required = { always = true }, maxLength = 2000 },
    { name = "numSamples", type = "number", min = 1, max = 8 },
    { name = "aspectRatio", type = "string", allowedValues = { "1:1", "16:9" } },
    { name = "image", type = "file", kind = "image" },
    { name = "mask", type = "file", required = { ifDefined = { image = "a mask goes with the image" } } },
    { name = "tags", type = "string_array" },
  },
}

-- A workflow with every input type and every node type.
local function everything()
  local wf = workflow.new { name = "Everything", description = "every node and input type",
    privacy = "unlisted", tags = { "test" }, status = "ready", outputAssetKinds = { "image" } }
  local prompt = wf:input("prompt", "string", { required = true, label = "Prompt", hint = "what to draw",
    minLength = 1, maxLength = 500, prompt = true, placeholder = "a knight" })
  local count = wf:input("count", "number", { min = 1, max = 4, step = 1, group = "advanced" })
  local hq = wf:input("hq", "boolean", { costImpact = true })
  local ref = wf:input("reference", "file", { kind = "image", parent = true, backgroundBehavior = "opaque" })
  local refs = wf:input("references", "file_array", { kind = "image", min = 0, max = 3 })
  wf:input("layers", "inputs_array", { inputs = { { name = "color", type = "string", color = true },
    { name = "weight", type = "number", min = 0, max = 1 } } })
  local model = wf:input("model", "model", { description = "a model to use" })
  wf:input("loras", "model_array", { modelTypes = { "flux.1-lora" } })
  wf:input("weights", "number_array", { min = 1, max = 2 })
  local styles = wf:input("styles", "string_array", { allowedValues = { "flat", "ink" },
    required = { ifDefined = { reference = "styles go with a reference" } } })
  local gp = wf:generate_prompt("idea", { inputs = { prompt = prompt } })
  local gen = wf:custom_model("gen", "model_sim-custom", { inputs = {
    prompt = gp:output("prompt"), numSamples = count, image = ref, highQuality = hq,
    referenceImages = refs, tags = { "a", "b" }, aspectRatio = "1:1",
    style = { value = "photo", type = "string", label = "Style" } } })
  local cond = wf:if_else("pick", { inputs = { styles = styles },
    cases = { { condition = "styles.length > 0", value = "styled" } }, default = "plain" })
  local tr = wf:transform("shape", { transform = "inputs.styles.join(',')", inputs = { styles = styles } })
  local review = wf:approval("review", { inputs = { images = gen:output("all") } })
  local nobg = wf:remove_background("nobg", { inputs = { image = gen:output("image"):when(cond) },
    depends_on = { review } })
  wf:subworkflow("sub", "workflow_other", { inputs = {
    image = { ref = nobg:output("image"), type = "file" },
    mode = cond:branch("styled"):as("string"),
    caption = tr:output("text"):as("string"),
    model = model,
    empty = { value = {}, type = "string_array" } } })
  return wf
end

describe("scenario.workflow builder", function()
  it("compiles every input type and every node type", function()
    local body, err = everything():compile()
    assert.is_nil(err)
    local types = {}
    for _, d in ipairs(body.inputs) do types[#types + 1] = d.type end
    table.sort(types)
    local want = {}
    for _, t in ipairs(workflow.INPUT_TYPES) do want[#want + 1] = t end
    table.sort(want)
    assert.are.same(want, types)
    local ntypes = {}
    for _, n in ipairs(body.flow) do ntypes[n.type] = true end
    for _, t in ipairs(workflow.NODE_TYPES) do assert.is_true(ntypes[t], t) end
    -- every node of a definition is pending (the flow item schema requires status)
    for _, n in ipairs(body.flow) do assert.are.equal("pending", n.status) end
    local byid = {}
    for _, n in ipairs(body.flow) do byid[n.id] = n end
    assert.are.same({ "idea" }, byid.gen.dependsOn)
    assert.are.same({ "gen", "pick", "review" }, byid.nobg.dependsOn)
    assert.are.same({ "nobg", "pick", "shape" }, byid.sub.dependsOn)
    assert.is_nil(byid.idea.dependsOn)
    assert.are.equal("if-else", byid.pick.logicType)
    assert.are.same({ cases = { { condition = "styles.length > 0", value = "styled" } }, default = "plain" },
      byid.pick.logic)
    assert.are.same({ transform = "inputs.styles.join(',')" }, byid.shape.logic)
    assert.are.equal("workflow_other", byid.sub.workflowId)
    assert.are.equal("model_sim-custom", byid.gen.modelId)
    local gin = {}
    for _, i in ipairs(byid.gen.inputs) do gin[i.name] = i end
    assert.are.same({ name = "numSamples", type = "number", ref = { node = "workflow", name = "count" } },
      gin.numSamples)
    assert.are.same({ name = "prompt", type = "string", ref = { node = "idea", name = "prompt" } }, gin.prompt)
    assert.are.same({ name = "tags", type = "string_array", value = { "a", "b" } }, gin.tags)
    assert.are.same({ name = "style", type = "string", value = "photo", label = "Style" }, gin.style)
    assert.are.same({ name = "image", type = "file", ref = { node = "workflow", name = "reference" } }, gin.image)
    assert.are.same({ node = "gen", name = "image", conditional = { "pick" } }, byid.nobg.inputs[1].ref)
    local sin = {}
    for _, i in ipairs(byid.sub.inputs) do sin[i.name] = i end
    assert.are.same({ node = "pick", equal = "styled" }, sin.mode.ref)
    assert.are.equal("model", sin.model.type)
    -- empty arrays are JSON arrays; inputs of a node keyed by name are sorted
    local text = assert(json.encode(body))
    assert.truthy(text:find('"name":"empty","type":"string_array","value":[]', 1, true))
    local names = {}
    for _, i in ipairs(byid.sub.inputs) do names[#names + 1] = i.name end
    assert.are.same({ "caption", "empty", "image", "mode", "model" }, names)
    assert.are.same({ always = true }, body.inputs[1].required)
    -- an empty workflow still sends arrays
    local empty = assert(workflow.new { name = "empty" }:compile())
    local etext = json.encode(empty)
    for _, k in ipairs { "tagSet", "inputs", "flow" } do
      assert.truthy(etext:find('"' .. k .. '":[]', 1, true), k .. " in " .. etext)
    end
  end)

  it("keeps node:input additions and replacements in order", function()
    local wf = workflow.new { name = "w" }
    local p = wf:input("prompt", "string")
    local gen = wf:node("gen", "custom-model", { modelId = "m", inputs = {
      { name = "prompt", ref = p }, { name = "guidance", value = 1 } } })
    gen:input("seed", 5)
    gen:input("guidance", 3.5)
    local body = assert(wf:compile())
    assert.are.same({ { name = "prompt", type = "string", ref = { node = "workflow", name = "prompt" } },
      { name = "guidance", type = "number", value = 3.5 }, { name = "seed", type = "number", value = 5 } },
      body.flow[1].inputs)
  end)

  it("names the option and the reason for every bad option", function()
    local wf = workflow.new { name = "w", colour = "red", privacy = "secret" }
    wf:input("a", "string", { maxLength = "long", frobnicate = true, kind = "image" })
    wf:input("b", "number", { min = 5, max = 1, step = 0 })
    wf:input("c", "text")
    wf:input("d", "string", { required = { sometimes = true } })
    wf:input("e", "number", { allowedValues = { 1, "two" } })
    wf:node("n1", "custom-model", { inputs = {}, color = "red" })
    wf:node("n2", "remove-background", { modelId = "m" })
    wf:node("n3", "teleport", {})
    wf:node("n4", "transform", {})
    wf:node("workflow", "user-approval", {})
    local _, err = wf:compile()
    has_problem(err, "colour: unknown option of workflow.new")
    has_problem(err, "privacy: must be one of private, public, unlisted")
    has_problem(err, "inputs.a.maxLength: must be a number")
    has_problem(err, "inputs.a.frobnicate: unknown option")
    has_problem(err, "inputs.a.kind: only for file, file_array inputs (this one is string)")
    has_problem(err, "inputs.b.min: must be <= max")
    has_problem(err, "inputs.b.step: must be >= 1")
    has_problem(err, "inputs.c.type: must be one of boolean, file")
    has_problem(err, "inputs.d.required.sometimes: unknown rule")
    has_problem(err, "inputs.e.allowedValues[2]: must be a number for a number input")
    has_problem(err, "flow.n1.modelId: required for a custom-model node")
    has_problem(err, "flow.n1.color: unknown option of a node")
    has_problem(err, "flow.n2.modelId: only for custom-model nodes (this one is remove-background)")
    has_problem(err, "flow.n3.type: must be one of custom-model")
    has_problem(err, "flow.n4.logic.transform: required for a transform node")
    has_problem(err, "flow.workflow: \"workflow\" is reserved")
    assert.is_true(#err.problems >= 16)
  end)

  it("refuses unknown references, duplicates and types it cannot infer, all at once", function()
    local wf = workflow.new { name = "w" }
    wf:input("p", "string")
    wf:input("p", "number")
    local a = wf:node("a", "generate-prompt", { inputs = { prompt = workflow.ref { node = "workflow",
      name = "nope" } } })
    wf:node("a", "generate-prompt", {})
    wf:node("b", "remove-background", { inputs = { image = workflow.ref { node = "ghost", name = "image" },
      thing = {} }, depends_on = { "phantom" } })
    local other = workflow.new { name = "o" }
    local foreign = other:input("x", "string")
    a:input("foreign", foreign)
    local _, err = wf:compile()
    has_problem(err, "inputs.p: declared twice")
    has_problem(err, "flow.a: duplicate node id")
    has_problem(err, "flow.a.inputs.prompt: references unknown workflow input nope")
    has_problem(err, "flow.b.inputs.image: references unknown node ghost")
    has_problem(err, "flow.b.inputs.thing: cannot infer the node input type")
    has_problem(err, "flow.b.depends_on: unknown node phantom")
    has_problem(err, "flow.a.inputs.foreign: references an input of another workflow")
  end)

  it("names the nodes of a cycle", function()
    local wf = workflow.new { name = "w" }
    local a = wf:node("a", "generate-prompt", {})
    local b = wf:node("b", "generate-prompt", { inputs = { prompt = a:output("prompt") } })
    local c = wf:node("c", "generate-prompt", { inputs = { prompt = b:output("prompt") } })
    a:input("prompt", c:output("prompt")) -- closes a -> b -> c -> a
    wf:node("d", "generate-prompt", {}):depends_on("d")
    local _, err = wf:compile()
    has_problem(err, "flow: cycle: a -> b -> c -> a")
    has_problem(err, "flow: cycle: d -> d")
    assert.are.equal(2, #err.problems)
  end)

  it("takes 50 nodes and refuses 51", function()
    local wf = workflow.new { name = "w" }
    for i = 1, 50 do wf:node("n" .. i, "generate-prompt", {}) end
    assert.is_table(wf:compile())
    wf:node("n51", "generate-prompt", {})
    local _, err = wf:compile()
    has_problem(err, "flow: a workflow has at most 50 nodes (got 51)")
  end)

  it("checks custom-model nodes against the model's inputs", function()
    local wf = workflow.new { name = "w" }
    local n = wf:input("n", "string")
    wf:custom_model("gen", "model_sim-custom", { inputs = { numSamples = 12, aspectRatio = "2:1",
      colour = "red", image = "asset_1", tags = "not-an-array" } })
    wf:custom_model("gen2", "model_sim-custom", { inputs = { prompt = "ok", numSamples = n } })
    local _, err = wf:compile { models = { ["model_sim-custom"] = SIM_MODEL } }
    has_problem(err, "flow.gen.inputs.prompt: required by model model_sim-custom (string)")
    has_problem(err, "flow.gen.inputs.numSamples: must be <= 8 (got 12)")
    has_problem(err, "flow.gen.inputs.aspectRatio: must be one of 1:1, 16:9 (got \"2:1\")")
    has_problem(err, "flow.gen.inputs.colour: model model_sim-custom has no input colour")
    has_problem(err, "flow.gen.inputs.mask: required when image is given (a mask goes with the image)")
    has_problem(err, "flow.gen.inputs.tags: must be an array for a string_array input")
    has_problem(err, "flow.gen2.inputs.numSamples: model model_sim-custom takes a number here, "
      .. "the reference gives a string")
    -- the model's declared type wins over the constant's
    local ok = workflow.new { name = "w" }
    ok:custom_model("gen", "model_sim-custom", { inputs = { prompt = "p", image = "asset_1", mask = "asset_2" } })
    local body = assert(ok:compile { models = { ["model_sim-custom"] = SIM_MODEL } })
    for _, i in ipairs(body.flow[1].inputs) do
      if i.name == "image" then assert.are.equal("file", i.type) end
    end
  end)

  it("wires if-else branches with ref.equal and ref.conditional", function()
    local wf = workflow.new { name = "w" }
    local p = wf:input("kind", "string", { allowedValues = { "a", "b" } })
    local cond = wf:if_else("cond", { inputs = { kind = p },
      cases = { { condition = "kind == 'a'", value = "a" } }, default = "b" })
    wf:remove_background("rb", { inputs = { image = { ref = cond:branch("a"), type = "file" } } })
    wf:generate_prompt("gp", { inputs = { prompt = workflow.ref { conditional = { cond }, name = "x" }:as("string") } })
    local body = assert(wf:compile())
    assert.are.same({ node = "cond", equal = "a" }, body.flow[2].inputs[1].ref)
    assert.are.same({ "cond" }, body.flow[2].dependsOn)
    assert.are.same({ conditional = { "cond" }, name = "x" }, body.flow[3].inputs[1].ref)
    assert.are.same({ "cond" }, body.flow[3].dependsOn)
    local bad = workflow.new { name = "w" }
    bad:if_else("c", { cases = {} })
    has_problem(select(2, bad:compile()), "flow.c.logic.cases: an if-else node needs at least one")
  end)

  it("checks run inputs against the workflow's inputs", function()
    local wf = everything()
    local defs = wf:input_definitions()
    assert.are.same({}, workflow.check_run_inputs(defs, { prompt = "a knight", count = 2 }))
    local problems = table.concat(workflow.check_run_inputs(defs, { count = 9, hq = "yes", references = "a",
      weights = { 1, 2, 3 }, styles = { "flat", "neon" }, reference = "asset_1", layers = { { weight = 2 } },
      bogus = 1 }), "\n")
    for _, s in ipairs { "prompt: required (string)", "count: must be <= 4 (got 9)",
      "hq: must be a boolean for a boolean input", "references: must be an array for a file_array input",
      "weights: must have at most 2 items (got 3)", "styles[2]: must be one of flat, ink (got \"neon\")",
      "layers[1].weight: must be <= 1 (got 2)", "bogus: not an input of this workflow" } do
      assert.truthy(problems:find(s, 1, true), s .. " not in:\n" .. problems)
    end
    -- ifDefined: styles is required once a reference is given
    local p2 = table.concat(workflow.check_run_inputs(defs, { prompt = "x", reference = "asset_1" }), "\n")
    assert.truthy(p2:find("styles: required when reference is given (styles go with a reference)", 1, true), p2)
  end)

  it("round-trips a record through from_api, unknown fields and empty arrays included", function()
    local wf = everything()
    wf.editorInfo = { positions = { gen = { x = 1, y = 2 } }, groups = json.array {} }
    local body = assert(wf:compile())
    local text = assert(json.encode(body))
    -- what the API would send back: the body plus read-only fields, and a
    -- node field and an input field the builder does not know
    local rec = cjson.decode(text)
    rec.id, rec.authorId, rec.createdAt, rec.updatedAt = "workflow_1", "u", "2025-01-01T00:00:00Z", "x"
    rec.flow[1].position = { x = 3 }
    rec.flow[1].outputAssetIds = {}
    rec.inputs[1].future = "kept"
    rec.editorInfo.groups = json.array {} -- the API's text has [] there
    local want = workflow.decode(text) -- keeps [] as []
    want.flow[1].position = { x = 3 }
    want.flow[1].outputAssetIds = json.array {}
    want.inputs[1].future = "kept"
    local want_text = json.encode(want)
    assert.truthy(want_text:find('"value":[]', 1, true))
    -- lua-cjson 2.1 read every [] above as {}: the builder knows the arrays
    -- of the document; the free-form editorInfo keeps its [] through
    -- workflow.decode
    local loaded = workflow.from_api(workflow.decode(assert(json.encode({ workflow = rec }))))
    assert.are.equal("workflow_1", loaded.id)
    local again = assert(loaded:compile())
    assert.are.equal(want_text, json.encode(again))
    -- and through plain cjson every field the document declares an array
    -- is an array again (editorInfo's free-form [] aside)
    local plain = assert(workflow.from_api(cjson.decode(json.encode { workflow = rec })):compile())
    plain.editorInfo.groups = json.array {}
    assert.are.equal(want_text, json.encode(plain))
  end)
end)

describe("client.workflows against the simulator", function()
  local sim, client

  setup(function()
    sim = sim_mod.start { job_duration = 0.3 }
    client = sim:client()
  end)

  teardown(function()
    if sim then sim:stop() end
  end)

  local function hero(name)
    local wf = workflow.new { name = name or "Hero sheet", description = "test" }
    local prompt = wf:input("prompt", "string", { required = true, maxLength = 500 })
    local gen = wf:custom_model("gen", "model_sim-custom", { inputs = { prompt = prompt, numSamples = 2 } })
    local review = wf:approval("review", { inputs = { images = gen:output("all") } })
    wf:remove_background("nobg", { inputs = { image = gen:output("image") }, depends_on = { review } })
    return wf
  end

  it("deploys, and the record read back compiles to the same body", function()
    local before = sim:stats().routes
    local wf = hero()
    local rec = assert(client.workflows:deploy(wf))
    assert.are.equal(rec.id, wf.id)
    local after = sim:stats().routes
    local function delta(route) return (after[route] or 0) - (before[route] or 0) end
    assert.are.equal(1, delta("POST /workflows"))
    assert.are.equal(1, delta("PUT /workflows/{workflowId}"))
    assert.are.equal(1, delta("GET /models/{modelId}"))
    local sent = json.encode(wf.deployed)
    assert.are.equal(sent, json.encode(assert(wf:compile())))
    local got = assert(client.workflows:get(wf.id))
    local again = assert(workflow.from_api(got):compile())
    assert.are.same(wf.deployed, again)
    assert.are.equal(sent, json.encode(again))
    local loaded = assert(client.workflows:load(wf.id))
    assert.are.equal(sent, json.encode(assert(loaded:compile())))
    -- deploying again updates the same workflow (no second POST)
    wf.description = "updated"
    assert(client.workflows:deploy(wf))
    assert.are.equal(1, sim:count("POST /workflows") - (before["POST /workflows"] or 0))
    assert.are.equal("updated", assert(client.workflows:get(wf.id)).description)
  end)

  it("deploys from a strict client: node constants in `value` are not refused", function()
    local strict = sim:client { strict = true }
    local wf = hero("Strict hero")
    local rec = assert(strict.workflows:deploy(wf))
    local samples
    for _, node in ipairs(rec.flow) do
      for _, input in ipairs(node.id == "gen" and node.inputs or {}) do
        if input.name == "numSamples" then samples = input.value end
      end
    end
    assert.are.equal(2, samples)
    -- the same body through the generated method is refused by strict mode
    local body = assert(wf:compile())
    local res, err = strict.workflows:update(wf.id, body)
    assert.is_nil(res)
    assert.are.equal("validation", err.kind)
    assert.matches("value: unknown field", err.message)
  end)

  it("sends nothing when the compilation fails", function()
    local total = sim:stats().total
    local wf = workflow.new { name = "bad" }
    local a = wf:node("a", "generate-prompt", {})
    a:input("prompt", wf:node("b", "generate-prompt", { inputs = { prompt = a:output("prompt") } }):output("prompt"))
    local rec, err = client.workflows:deploy(wf)
    assert.is_nil(rec)
    has_problem(err, "flow: cycle: a -> b -> a")
    assert.are.equal(total, sim:stats().total)
  end)

  it("checks custom-model inputs with GET /models/{id}, once per model, before sending", function()
    local before = sim:stats().routes
    local wf = workflow.new { name = "models" }
    wf:custom_model("g1", "model_sim-custom", { inputs = { numSamples = 99 } })
    wf:custom_model("g2", "model_sim-custom", { inputs = { prompt = "p", style = "cubism" } })
    wf:custom_model("g3", "model_missing", { inputs = { prompt = "p" } })
    local rec, err = client.workflows:deploy(wf)
    assert.is_nil(rec)
    has_problem(err, "flow.g1.inputs.prompt: required by model model_sim-custom (string)")
    has_problem(err, "flow.g1.inputs.numSamples: must be <= 8 (got 99)")
    has_problem(err, "flow.g2.inputs.style: must be one of photo, illustration, pixel-art (got \"cubism\")")
    has_problem(err, "flow.g3.modelId: model model_missing not found")
    local after = sim:stats().routes
    assert.are.equal(2, (after["GET /models/{modelId}"] or 0) - (before["GET /models/{modelId}"] or 0))
    assert.are.equal(before["POST /workflows"], after["POST /workflows"])
    assert.are.equal(before["PUT /workflows/{workflowId}"], after["PUT /workflows/{workflowId}"])
  end)

  it("runs: checks inputs, prices, reports node statuses, approves, downloads", function()
    local wf = hero("Run me")
    assert(client.workflows:deploy(wf))
    local runs = sim:count("PUT /workflows/{workflowId}/run")
    local j, err = client.workflows:run(wf, { prompt = string.rep("x", 501), extra = 1 })
    assert.is_nil(j)
    has_problem(err, "prompt: must be at most 500 characters long (got 501)", "extra: not an input of this workflow")
    -- a plain id of a workflow this client deployed is checked too
    local _, err2 = client.workflows:run(wf.id, {})
    has_problem(err2, "prompt: required (string)")
    assert.are.equal(runs, sim:count("PUT /workflows/{workflowId}/run"))
    local cost = assert(client.workflows:run(wf, { prompt = "a knight" }, { dry_run = true }))
    assert.are.equal(12, cost.creativeUnitsCost)

    local job = assert(client.workflows:run(wf, { prompt = "a knight" }))
    assert.are.equal("workflow", job.type)
    local seen, approved = {}, {}
    assert(job:wait { timeout = 30, on_progress = function(jj)
      for _, n in ipairs(jj:nodes()) do
        seen[#seen + 1] = n.id .. "=" .. n.status
        if n.type == "user-approval" and n.status == "processing" and not approved[n.id] then
          approved[n.id] = true
          assert(jj:approve(n.id))
        end
      end
    end })
    local text = table.concat(seen, " ")
    assert.truthy(text:find("review=processing", 1, true), text)
    assert.truthy(text:find("gen=success", 1, true), text)
    assert.is_true(approved.review)
    assert.are.equal(1, sim:count("PUT /workflows/{workflowId}/user-approval"))
    local nodes = job:nodes()
    assert.are.equal(3, #nodes)
    for _, n in ipairs(nodes) do assert.are.equal("success", n.status) end
    assert.is_true(#nodes[1].assets >= 1)
    local dir = os.tmpname()
    os.remove(dir)
    local files = assert(job:download(dir))
    assert.is_true(#files >= 1)
    for _, f in ipairs(files) do
      local fh = assert(io.open(f, "rb"))
      assert.are.equal("\137PNG", fh:read(4))
      fh:close()
    end
    os.execute("rm -rf " .. dir)
  end)

  it("still runs a plain id, and the generated form with workflowId in the fields", function()
    local wf = hero("Plain")
    assert(client.workflows:deploy(wf))
    local fresh = sim:client() -- knows nothing of the workflow: nothing to check against
    local j1 = assert(fresh.workflows:run(wf.id, { prompt = "x" }))
    local j2 = assert(fresh.workflows:run { workflowId = wf.id, prompt = "y" })
    assert.are.equal("workflow", j1.type)
    assert.are.equal("workflow", j2.type)
    assert(j1:cancel())
    assert(j2:cancel())
    local _, err = client.workflows:run(workflow.new { name = "never deployed" }, {})
    has_problem(err, "workflowId: the workflow is not deployed")
  end)

  it("runs examples/workflow_deploy.lua", function()
    local dir = os.tmpname()
    os.remove(dir)
    local cmd = ("SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s %s "
      .. "examples/workflow_deploy.lua %s 2>&1")
      :format(sim.url, sim_mod.KEY, sim_mod.SECRET, require("support.lua_cmd"), dir)
    local ok, out = require("support.sh")(cmd)
    assert.is_true(ok, out)
    assert.truthy(out:find("approved review", 1, true), out)
    assert.truthy(out:find("nobg=success", 1, true), out)
    local files = {}
    for path in out:gmatch("wrote (%S+)") do files[#files + 1] = path end
    assert.is_true(#files >= 1, out)
    os.execute("rm -rf " .. dir)
  end)
end)

describe("a compiled workflow against prism mock --errors", function()
  it("is accepted with zero violations", function()
    local prism_mod = require "support.prism"
    local doc = prism_mod.mock_document()
    local prism = prism_mod.start("mock", nil, doc)
    local ok, err = pcall(function()
      local client = require("scenario").new { base_url = prism.url, api_key = "k", api_secret = "s",
        log = false, max_retries = 0, timeout = 10 }
      local body = assert(everything():compile())
      local res, rerr = client.workflows:update("workflow_contract", body)
      assert(res, tostring(rerr))
      -- Prism writes its log a moment after answering
      local text
      for _ = 1, 100 do
        text = prism:log_text()
        if text:find("Responding with", 1, true) then break end
        os.execute("sleep 0.05")
      end
      assert.truthy(text:find("passed the validation rules", 1, true), text)
      assert.are.same({}, prism:violations())
    end)
    prism:stop()
    os.remove(doc)
    assert(ok, err)
  end)
end)
