-- Validation and routing of fields before anything is sent.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path

local cjson = require "cjson"
local ops = require "scenario.operations"
local validate = require "scenario.validate"

local check = validate.check

-- problems of a check that must fail
local function problems(op, fields, opts)
  local r, errs = check(op, fields, opts)
  assert.is_nil(r, "expected problems, got a request")
  assert.is_table(errs)
  return errs
end

-- the request of a check that must pass
local function ok(op, fields, opts)
  local r, errs = check(op, fields, opts)
  assert.is_table(r, errs and table.concat(errs, "\n"))
  return r
end

local txt2img = ops.PostTxt2imgInferences

describe("validate.check", function()
  describe("problems", function()
    it("reports missing required body fields", function()
      assert.same({ "modelId: required", "prompt: required" }, problems(txt2img, {}))
    end)

    it("reports wrong types, naming the value or its type", function()
      local errs = problems(txt2img, { modelId = "m", prompt = "p", numSamples = "x" })
      assert.same({ 'numSamples: must be an integer (got "x")' }, errs)
      errs = problems(txt2img, { modelId = "m", prompt = "p", numSamples = 2.5 })
      assert.same({ "numSamples: must be an integer (got 2.5)" }, errs)
      errs = problems(txt2img, { modelId = "m", prompt = true })
      assert.same({ "prompt: must be a string for this operation (got boolean)" }, errs)
      errs = problems(txt2img, { modelId = "m", prompt = "p", hideResults = "yes" })
      assert.same({ 'hideResults: must be a boolean (got "yes")' }, errs)
      errs = problems(txt2img, { modelId = "m", prompt = "p", concepts = "c" })
      assert.same({ 'concepts: must be an array (got "c")' }, errs)
      errs = problems(txt2img, { modelId = "m", prompt = "p", concepts = { { "x" } } })
      assert.same({ "concepts[1]: must be an object (got array)" }, errs)
    end)

    it("follows each operation's own type for seed and says so", function()
      assert.same({ "seed: must be a string for this operation (got number)" },
        problems(txt2img, { modelId = "m", prompt = "p", seed = 42 }))
      ok(txt2img, { modelId = "m", prompt = "p", seed = "42" })
      local upscale = ops.PostUpscaleInferences
      assert.equal("number", upscale.body.properties.seed.type)
      local errs = problems(upscale, { image = "asset_1", seed = "42" })
      assert.same({ 'seed: must be a number for this operation (got "42")' }, errs)
      ok(upscale, { image = "asset_1", seed = 42 })
    end)

    it("reports values outside an enum", function()
      local errs = problems(txt2img, { modelId = "m", prompt = "p", aspectRatio = "7:1" })
      assert.same({ "aspectRatio: must be one of 16:9, 1:1, 21:9, 2:3, 3:2, 3:4, 4:3, 4:5, "
        .. '5:4, 9:16, 9:21 (got "7:1")' }, errs)
      errs = problems(ops.PostJobActionByJobId, { jobId = "j", action = "stop" })
      assert.same({ 'action: must be one of cancel (got "stop")' }, errs)
    end)

    it("reports values outside minimum and maximum", function()
      local errs = problems(txt2img, { modelId = "m", prompt = "p", numSamples = 0, guidance = 21 })
      assert.same({ "guidance: must be <= 20 (got 21)", "numSamples: must be >= 1 (got 0)" }, errs)
    end)

    it("reports exclusive minimums, lengths and patterns", function()
      local train = ops.PutModelsTrainByModelId
      local errs = problems(train, { modelId = "m", parameters = { learningRate = 0 } })
      assert.same({ "parameters.learningRate: must be > 0 (got 0)" }, errs)
      errs = problems(ops.PostModels, { name = string.rep("n", 65), classSlug = "Not A Slug" })
      assert.same({
        'classSlug: must match ^[a-z0-9-]+$ (got "Not A Slug")',
        "name: must be at most 64 characters long (got 65)",
      }, errs)
      ok(ops.PostModels, { name = "n", classSlug = "a-slug-2" })
    end)

    it("gives nested paths into arrays and objects (1-based)", function()
      local errs = problems(txt2img, {
        modelId = "m", prompt = "p",
        concepts = { { modelId = "a", scale = 1 }, { modelId = "b", scale = 3 }, { scale = -3 } },
      })
      assert.same({
        "concepts[2].scale: must be <= 2 (got 3)",
        "concepts[3].modelId: required",
        "concepts[3].scale: must be >= -2 (got -3)",
      }, errs)
      errs = problems(ops.PostDownloadAssets, {
        query = { assetIds = { "a", 7 }, modelIds = {} }, options = {},
      })
      assert.same({
        "options.fileNameTemplate: required",
        "query.inferenceIds: required",
        "query.assetIds[2]: must be a string (got number)",
      }, errs)
    end)

    it("lists every problem at once: path, query and body", function()
      local op = ops.PostModelPresetByModelId
      local errs = problems(op, { originalAssets = "maybe" })
      assert.equal("modelId: required", errs[1])
      assert.equal('originalAssets: must be a boolean (got "maybe")', errs[2])
      assert.is_true(#errs >= 3) -- and the required body fields
      errs = problems(txt2img, {
        prompt = 1, numSamples = 500, seed = 1, aspectRatio = "x", dryRun = "sometimes",
      })
      assert.same({
        'dryRun: must be a boolean (got "sometimes")',
        "modelId: required",
        'aspectRatio: must be one of 16:9, 1:1, 21:9, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 9:21 (got "x")',
        "numSamples: must be <= 128 (got 500)",
        "prompt: must be a string for this operation (got number)",
        "seed: must be a string for this operation (got number)",
      }, errs)
    end)

    it("checks query parameters against the corrected bounds", function()
      assert.same({ "pageSize: must be <= 100 (got 500)" }, problems(ops.GetAssets, { pageSize = 500 }))
      assert.same({ "pageSize: must be <= 200 (got 201)" }, problems(ops.GetJobs, { pageSize = 201 }))
      assert.same({ 'pageSize: must be an integer (got "ten")' },
        problems(ops.GetJobs, { pageSize = "ten" }))
      assert.same({ "ids: required" }, problems(ops.DeleteModelsImagesByModelId, { modelId = "m" }))
      local errs = problems(ops.GetAssets, { types = { "txt2img", "nope" }, sortDirection = "up" })
      assert.truthy(errs[1]:find('^sortDirection: must be one of asc, desc %(got "up"%)$'))
      assert.truthy(errs[2]:find('^types%[2%]: must be one of .* %(got "nope"%)$'))
    end)

    it("refuses nothing it should accept", function()
      local r = ok(txt2img, {
        modelId = "m", prompt = "a cat", numSamples = 2, guidance = 7.5, seed = "1",
        concepts = { { modelId = "c", scale = -2 }, { modelId = "d", scale = 2.0 } },
        aspectRatio = "16:9", hideResults = false,
      })
      assert.same({}, r.unknown)
      assert.equal(2.0, r.body.concepts[2].scale)
    end)
  end)

  describe("path parameters", function()
    it("are required", function()
      assert.same({ "assetId: required" }, problems(ops.GetAssetsByAssetId, {}))
      assert.same({ "assetId: required" }, problems(ops.GetAssetsByAssetId, { assetId = "" }))
      assert.same({ "assetId: must be a string (got table)" },
        problems(ops.GetAssetsByAssetId, { assetId = { x = 1 } }))
    end)

    it("are percent-encoded", function()
      assert.equal("/assets/abc%20d", ok(ops.GetAssetsByAssetId, { assetId = "abc d" }).path)
      assert.equal("/assets/a%2Fb", ok(ops.GetAssetsByAssetId, { assetId = "a/b" }).path)
      assert.equal("/models/m%3F1/presets/p%25x",
        ok(ops.PutModelPresetByModelIdAndPresetId,
          { modelId = "m?1", presetId = "p%x", isDefault = true }).path)
      assert.equal("/jobs/42", ok(ops.GetJobId, { jobId = 42 }).path)
    end)

    it("refuse ids that would reach a literal route", function()
      assert.same({ 'assetId: "public" cannot be sent: /assets/public reaches another route' },
        problems(ops.GetAssetsByAssetId, { assetId = "public" }))
      assert.same({ 'workflowId: "tags" cannot be sent: /workflows/tags reaches another route' },
        problems(ops.GetWorkflowsByWorkflowId, { workflowId = "tags" }))
    end)
  end)

  describe("encode_path_segment", function()
    it("keeps RFC 3986 unreserved characters and encodes the rest", function()
      local enc = validate.encode_path_segment
      assert.equal("AZaz09-._~", enc("AZaz09-._~"))
      assert.equal("a%20b%2Fc%3Fd%23e%25f%2Bg%3Ah%40i", enc("a b/c?d#e%f+g:h@i"))
      assert.equal("%C3%A9", enc("é"))
      assert.equal("7", enc(7))
    end)
  end)

  describe("routing", function()
    it("sends path, query and body fields where the operation declares them", function()
      local r = ok(txt2img, { modelId = "m", prompt = "p", dryRun = true, originalAssets = false })
      assert.equal("/generate/txt2img", r.path)
      assert.same({ dryRun = "true", originalAssets = "false" }, r.query)
      assert.same({ modelId = "m", prompt = "p" }, r.body)

      r = ok(ops.PutModelPresetByModelIdAndPresetId, { modelId = "m", presetId = "p", isDefault = true })
      assert.equal("/models/m/presets/p", r.path)
      assert.same({ isDefault = true }, r.body)
    end)

    it("serialises query values", function()
      local r = ok(ops.GetAssets, {
        pageSize = 10.0, types = { "txt2img", "img2img" }, tags = { "a", "b" },
        originalAssets = true, authorId = 12, projectId = "proj",
      })
      assert.same({
        pageSize = "10", types = "txt2img,img2img", tags = "a,b", originalAssets = "true",
        authorId = "12", projectId = "proj",
      }, r.query)
      assert.same({}, r.unknown)
      assert.is_nil(r.body)
      -- an already joined string is accepted, and its items checked
      assert.equal("txt2img,img2img", ok(ops.GetAssets, { types = "txt2img,img2img" }).query.types)
      assert.same({ 'types[2]: must be one of 3d-texture, 3d-texture-albedo, 3d-texture-metallic, '
        .. '3d-texture-mtl, 3d-texture-normal, 3d-texture-roughness, 3d23d, 3d23d-texture, '
        .. 'audio2audio, background-removal, canvas, canvas-drawing, ... (71 values) (got "x")' },
        problems(ops.GetAssets, { types = "txt2img,x" }))
      assert.equal("25", ok(ops.GetJobs, { pageSize = "25" }).query.pageSize)
    end)

    it("sends unknown fields to the body, or the query when there is no body, and lists them", function()
      local r = ok(txt2img, { modelId = "m", prompt = "p", brandNew = 1,
        concepts = { { modelId = "c", scale = 1, weight = 2 } } })
      assert.equal(1, r.body.brandNew)
      assert.equal(2, r.body.concepts[1].weight)
      assert.same({ "brandNew", "concepts[1].weight" }, r.unknown)

      r = ok(ops.GetJobId, { jobId = "j", expand = "all" })
      assert.same({ expand = "all" }, r.query)
      assert.same({ "expand" }, r.unknown)
    end)

    it("takes explicit query = {...} and body = {...} sub-tables", function()
      local r = ok(txt2img, {
        modelId = "m", query = { dryRun = true, extra = "x" }, body = { prompt = "p" },
      })
      assert.same({ dryRun = "true", extra = "x" }, r.query)
      assert.same({ modelId = "m", prompt = "p" }, r.body)
      assert.same({ "extra" }, r.unknown)

      assert.same({ "prompt: given both as a field and in body = {...}" },
        problems(txt2img, { modelId = "m", prompt = "a", body = { prompt = "b" } }))
      assert.same({ "body: field names must be strings (got 1)", "modelId: required", "prompt: required" },
        problems(txt2img, { body = { "x" } }))
      assert.same({ "body: GET /assets/{assetId} takes no request body" },
        problems(ops.GetAssetsByAssetId, { assetId = "a", body = { x = 1 } }))
    end)

    it("routes a name declared in both query and body only through a sub-table", function()
      local op = {
        id = "Both", method = "POST", path = "/both", path_params = {},
        query = { mode = { type = "string" } },
        body = { type = "object", properties = { mode = { type = "integer" } } },
        body_required = false, body_is_array = false,
      }
      assert.same({ "mode: is both a query parameter and a body field: give it in query = {...} "
        .. "or body = {...}" }, problems(op, { mode = "x" }))
      local r = ok(op, { query = { mode = "fast" }, body = { mode = 3 } })
      assert.same({ mode = "fast" }, r.query)
      assert.same({ mode = 3 }, r.body)
    end)

    it("treats a field named query as that field when the operation declares it", function()
      local r = ok(ops.PostSearchAssets, { query = "red cats", originalAssets = true })
      assert.same({ query = "red cats" }, r.body)
      assert.same({ originalAssets = "true" }, r.query)
    end)

    it("sends a required empty body and omits an optional absent one", function()
      local r = ok(ops.PostModelsCopyByModelId, { modelId = "m" })
      assert.same({}, r.body)
      assert.is_nil(ok(ops.GetModelsByModelId, { modelId = "m" }).body)
    end)

    it("takes any field into a free-form body without calling it unknown", function()
      local r = ok(ops.PostGenerateCustom, { modelId = "m", prompt = "p", steps = 4, dryRun = true })
      assert.equal("/generate/custom/m", r.path)
      assert.same({ prompt = "p", steps = 4 }, r.body)
      assert.same({ dryRun = "true" }, r.query)
      assert.same({}, r.unknown)
      r = ok(ops.PutWorkflowRunByWorkflowId, { workflowId = "w", image = "asset_1" }, { strict = true })
      assert.same({ image = "asset_1" }, r.body)
    end)

    it("does not modify the caller's tables", function()
      local concepts = { { modelId = "c", scale = 1 } }
      local fields = { modelId = "m", prompt = "p", concepts = concepts, dryRun = true }
      local r = ok(txt2img, fields)
      assert.is_not.equal(concepts, r.body.concepts)
      assert.is_nil(getmetatable(concepts))
      assert.same({ { modelId = "c", scale = 1 } }, concepts)
      assert.equal(true, fields.dryRun)
    end)

    it("rejects positional values for object-bodied operations", function()
      assert.same({ "fields: positional values are only accepted by operations whose body is an array" },
        problems(txt2img, { modelId = "m", prompt = "p", "stray" }))
    end)
  end)

  it("routes operations that take only path parameters the same on their fast path", function()
    local ids = { "job_1", "a b/c", "%41", "é", "x?y#z", "..", "-._~" }
    local function expect(op, values)
      local path = op.path
      for i, name in ipairs(op.path_params) do
        local enc = values[i]:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)
        path = path:gsub("{" .. name .. "}", (enc:gsub("%%", "%%%%")))
      end
      return path
    end
    local n = 0
    for _, op in pairs(ops) do
      if #op.path_params > 0 and not op.body and next(op.query or {}) == nil and not op.reserved then
        for k = 1, #ids do
          local fields, values = {}, {}
          for i, name in ipairs(op.path_params) do
            values[i] = ids[(k + i - 2) % #ids + 1]
            fields[name] = values[i]
          end
          local r = ok(op, fields)
          assert.are.equal(expect(op, values), r.path)
          assert.same({}, r.query)
          assert.is_nil(r.body)
          assert.are.equal(0, #r.unknown)
          n = n + 1
        end
        -- an empty id is still refused, a number still accepted
        local fields = {}
        for _, name in ipairs(op.path_params) do fields[name] = "" end
        assert.is_truthy(problems(op, fields)[1]:find(": required", 1, true))
      end
    end
    assert.is_true(n > 50, n .. " cases")
  end)

  describe("strict mode", function()
    it("turns unknown fields into problems", function()
      local errs = problems(txt2img, { modelId = "m", prompt = "p", brandNew = 1,
        concepts = { { modelId = "c", scale = 1, weight = 2 } } }, { strict = true })
      assert.same({
        "brandNew: unknown field",
        "concepts[1].weight: unknown field",
      }, errs)
      assert.same({ "expand: unknown field" },
        problems(ops.GetJobId, { jobId = "j", expand = "all" }, { strict = true }))
    end)

    it("suggests the declared name an unknown field is likely a typo of", function()
      assert.same({ "concepts[1].scale: required",
        "concepts[1].scael: unknown field (did you mean scale?)",
        "numSample: unknown field (did you mean numSamples?)" },
        problems(txt2img, { modelId = "m", prompt = "p", numSample = 2,
          concepts = { { modelId = "c", scael = 1 } } }, { strict = true }))
      -- query parameters and path parameters are candidates of a top-level field
      assert.same({ "jobID: unknown field (did you mean jobId?)" },
        problems(ops.GetJobId, { jobId = "j", jobID = "x" }, { strict = true }))
      local r = ok(txt2img, { modelId = "m", prompt = "p", negativePromt = "x" })
      assert.same({ "negativePromt" }, r.unknown)
      assert.same({ negativePromt = "negativePrompt" }, r.suggestions)
    end)

    it("suggests only close names: by edit distance, ignoring case, swaps counted once", function()
      assert.equal("numSamples", validate.suggest("NUMSAMPLES", { "numSamples", "prompt" }))
      assert.equal("prompt", validate.suggest("pormpt", { "prompts", "prompt" }))
      assert.equal("width", validate.suggest("widht", { "width", "height" }))
      assert.is_nil(validate.suggest("colour", { "width", "height", "seed" }))
      assert.is_nil(validate.suggest("ab", { "xy" }))
      assert.equal("seed", validate.suggest("sed", { "seed", "steps" }))
    end)

    it("refuses unknown fields by default only on operations that spend", function()
      assert.is_true(validate.strict_for(txt2img, nil, {}))
      assert.is_false(validate.strict_for(ops.GetJobId, nil, {}))
      assert.is_false(validate.strict_for(txt2img, nil, { allow_unknown = true }))
      assert.is_false(validate.strict_for(txt2img, false, {}))
      assert.is_true(validate.strict_for(ops.GetJobId, true, {}))
      assert.is_false(validate.strict_for(ops.GetJobId, true, { strict = false }))
      assert.is_false(validate.strict_for(txt2img, true, { allow_unknown = true }))
    end)

    it("still accepts projectId, declared nowhere but used by the API", function()
      local r = ok(ops.GetJobId, { jobId = "j", projectId = "p" }, { strict = true })
      assert.same({ projectId = "p" }, r.query)
    end)
  end)

  describe("an operation whose body is an array", function()
    local pairs_op = ops.PutModelsTrainingImagesPairsByModelId

    it("takes the items from the array part of the fields", function()
      local r = ok(pairs_op, { modelId = "m",
        { sourceId = "a", targetId = "b" }, { sourceId = "c", targetId = "d", instruction = "x" } })
      assert.equal("/models/m/training-images/pairs", r.path)
      assert.same({ { sourceId = "a", targetId = "b" },
        { sourceId = "c", targetId = "d", instruction = "x" } }, r.body)
      assert.equal(validate.array_mt, getmetatable(r.body))
    end)

    it("or from body = {...}", function()
      local r = ok(pairs_op, { modelId = "m", body = { { sourceId = "a", targetId = "b" } } })
      assert.same({ { sourceId = "a", targetId = "b" } }, r.body)
    end)

    it("sends an empty array (marked as one) when given nothing", function()
      local r = ok(pairs_op, { modelId = "m" })
      assert.same({}, r.body)
      assert.equal(validate.array_mt, getmetatable(r.body))
    end)

    it("checks the items with indexed paths", function()
      assert.same({ "[2].sourceId: must be a string (got number)", "[3]: must be an object (got boolean)" },
        problems(pairs_op, { modelId = "m", { sourceId = "a" }, { sourceId = 1 }, true }))
      assert.same({ "body: give the items either as the array part of the fields or as body = {...}" },
        problems(pairs_op, { modelId = "m", { sourceId = "a" }, body = { { sourceId = "b" } } }))
      assert.same({ "body: must be an array (got table)" },
        problems(pairs_op, { modelId = "m", body = { sourceId = "b" } }))
    end)
  end)

  describe("null", function()
    it("is refused where the document does not allow it", function()
      assert.same({ "prompt: must be a string for this operation (got null)" },
        problems(txt2img, { modelId = "m", prompt = cjson.null }))
    end)
  end)

  describe("one_of", function()
    it("accepts a value matching any alternative", function()
      local op = {
        id = "X", method = "POST", path = "/x", path_params = {}, query = {},
        body_required = true, body_is_array = false,
        body = { type = "object", properties = {
          size = { one_of = { { type = "integer", minimum = 1 }, { type = "string", enum = { "auto" } } } },
        } },
      }
      ok(op, { size = 3 })
      ok(op, { size = "auto" })
      assert.same({ "size: matches none of the allowed forms (first: size: must be >= 1 (got 0))" },
        problems(op, { size = 0 }))
    end)
  end)

  describe("every generated operation", function()
    it("accepts its path parameters and required fields", function()
      local samples = { string = "s", number = 1, integer = 1, boolean = true }
      local function sample(node)
        if node.enum then return node.enum[1] end
        if node.type == "array" then return { sample(node.items or {}) } end
        if node.type == "object" or node.properties then
          local t = {}
          for _, r in ipairs(node.required or {}) do
            t[r] = node.properties and node.properties[r] and sample(node.properties[r]) or "s"
          end
          return t
        end
        local v = samples[node.type] or "s"
        if type(v) == "number" and node.minimum then
          v = node.exclusiveMinimum and node.minimum + 1 or node.minimum
        end
        return v
      end
      for id, op in pairs(ops) do
        local fields = {}
        for _, p in ipairs(op.path_params) do fields[p] = "id_" .. p end
        for name, q in pairs(op.query) do
          if q.required then fields[name] = "a" end
        end
        if op.body_is_array then
          fields.body = sample(op.body)
        elseif op.body and op.body.type then
          for k, v in pairs(sample(op.body)) do fields[k] = v end
        end
        local r, errs = check(op, fields, { strict = true })
        assert.is_table(r, id .. ": " .. table.concat(errs or {}, "; "))
        assert.is_nil(r.path:find("{", 1, true), id)
      end
    end)
  end)
end)
