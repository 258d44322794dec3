-- Contract tests: every one of the 108 operations of api/openapi.json is
-- invoked through its resource method (client.<resource>:<method>(path
-- params..., fields, options)) with valid fields drawn from the document
-- (spec/support/samples.lua), against Prism, a third-party OpenAPI mock
-- (`prism mock --errors api/openapi.json`, pinned in spec/contract). Prism
-- validates each request against the document and answers 422 to any
-- violation; with --errors it also refuses to send a response of its own that
-- the document does not allow (500 VIOLATIONS).
--
-- For every call the test reads Prism's log: exactly one request, with the
-- expected method and path, that passed Prism's validation and was answered
-- with a 2xx. Two sweeps: the required fields only, then every declared
-- query parameter and body field (nested ones too). Then dry runs (269), and
-- invalid fields that the client refuses before anything is sent.
local cjson = require "cjson"
local operations = require "scenario.operations"
local validate = require "scenario.validate"
local samples = require "support.samples"
local prism_mod = require "support.prism"
local sim_mod = require "support.sim"
local compat = require "scenario.compat"

-- an integer: of the integer subtype on Lua 5.3+, integral elsewhere
local function is_int(v)
  if math.type then return math.type(v) == "integer" end -- luacheck: ignore 143 (5.3+ only)
  return compat.is_integer(v)
end

local IDS = {}
for id in pairs(operations) do IDS[#IDS + 1] = id end
table.sort(IDS)

local DOC
do
  local f = assert(io.open("api/openapi.json"))
  DOC = cjson.decode(f:read("*a"))
  f:close()
end

-- whether the document declares a 269 (dry run) response for op
local function declares_269(op)
  local item = DOC.paths[op.path]
  local entry = item and item[op.method:lower()]
  return entry and entry.responses and entry.responses["269"] ~= nil or false
end

local function resource_object(client, op)
  local node = client
  for part in op.resource:gmatch("[^.]+") do
    node = node and node[part]
  end
  return node
end

local function expected_path(op, args)
  local path = op.path
  for i, name in ipairs(op.path_params) do
    path = path:gsub("{" .. name .. "}", (validate.encode_path_segment(args[i]):gsub("%%", "%%%%")))
  end
  return path
end

-- Prism's log, one entry per request received:
-- { method, path, passed = bool, errors = { validator messages },
--   status = "200" (what Prism answered), terminated = "error text" }
local function parse_log(text)
  local out, cur = {}, nil
  for line in text:gmatch("[^\n]+") do
    local method, path = line:match("%[HTTP SERVER%] (%a+) (%S+) .-Request received")
    if method then
      cur = { method = method:upper(), path = path, passed = false, errors = {} }
      out[#out + 1] = cur
    elseif cur then
      if line:find("[VALIDATOR]", 1, true) and line:find("passed the validation rules", 1, true) then
        cur.passed = true
      elseif line:find("[VALIDATOR]", 1, true) and line:find("error", 1, true) then
        cur.errors[#cur.errors + 1] = line:match("error%s+(.*)$") or line
      end
      local status = line:match('Responding with "(%d+)"')
      if status then cur.status = status end
      local terminated = line:match("Request terminated with error: (.*)$")
      if terminated then cur.terminated = terminated end
    end
  end
  return out
end

local function finished(entry)
  return entry.status ~= nil or entry.terminated ~= nil
end

describe("contract: the 108 operations through their resource methods against prism mock --errors", function()
  local prism, client, mock_doc

  setup(function()
    mock_doc = prism_mod.mock_document()
    prism = prism_mod.start("mock", nil, mock_doc)
    client = require("scenario").new { base_url = prism.url, api_key = "contract-key",
      api_secret = "contract-secret", log = false, max_retries = 0, timeout = 10 }
  end)

  teardown(function()
    if prism then prism:stop() end
    if mock_doc then os.remove(mock_doc) end
  end)

  -- Prism's log entries written since byte offset `from`, once the last
  -- request is answered (Prism writes its log a moment after replying).
  -- `failed`: the client saw an error status, so wait for Prism's line that
  -- says why (it logs the status it meant to send before checking it).
  local function requests_since(from, failed)
    local seen
    for _ = 1, 200 do
      seen = parse_log(prism:log_text():sub(from + 1))
      local last = seen[#seen]
      if last and finished(last) and (last.terminated or not failed) then return seen end
      os.execute("sleep 0.01")
    end
    return seen
  end

  -- what Prism said about its own answer (500 VIOLATIONS carries the list)
  local function prism_violations(err)
    local body = type(err) == "table" and err.body
    if type(body) ~= "table" or type(body.validation) ~= "table" then return nil end
    local out = {}
    for _, v in ipairs(body.validation) do
      local where = type(v.location) == "table" and table.concat(v.location, ".") or "?"
      out[#out + 1] = where .. ": " .. tostring(v.message)
    end
    return table.concat(out, " | ")
  end

  -- Calls op through its resource method; returns a problem string or nil,
  -- and what the call returned.
  local function invoke(op, fields, options, expect_status)
    local target = resource_object(client, op)
    local method = target and target[op.method_name]
    if type(method) ~= "function" then
      return ("no resource method client.%s:%s"):format(op.resource, op.method_name)
    end
    local args = samples.path_args(op)
    local n = #args
    args[n + 1], args[n + 2] = fields, options
    local from = #prism:log_text()
    -- a resource method gives result, answer, response (or nil, err)
    local r = compat.pack(pcall(method, target, compat.unpack(args, 1, n + 2)))
    local ok, result, res = r[1], r[2], r[2] == nil and r[3] or r[4]
    local failed = ok and result == nil and type(res) == "table" and res.status ~= nil
    local seen = requests_since(from, failed)
    local problems = {}
    if not ok then
      problems[#problems + 1] = "raised: " .. tostring(result)
    elseif result == nil then
      local why = prism_violations(res)
      problems[#problems + 1] = why
        and ("HTTP %s: Prism could not mock an answer that the document allows: %s")
          :format(tostring(res.status), why)
        or "returned nil, " .. tostring(res)
    elseif type(result) ~= "table" then
      problems[#problems + 1] = "returned a " .. type(result)
    end
    if #seen ~= 1 then
      problems[#problems + 1] = ("Prism saw %d requests, not 1"):format(#seen)
    else
      local s = seen[1]
      local want = expected_path(op, args)
      if s.method ~= op.method or s.path ~= want then
        problems[#problems + 1] = ("Prism saw %s %s, not %s %s"):format(s.method, s.path, op.method, want)
      end
      if not s.passed or #s.errors > 0 then
        problems[#problems + 1] = "request violates the document: " .. table.concat(s.errors, "; ")
      end
      if s.terminated then
        if not failed then problems[#problems + 1] = "Prism: " .. s.terminated end
      elseif not s.status or not s.status:match("^2%d%d$") then
        problems[#problems + 1] = "Prism answered " .. tostring(s.status)
      elseif expect_status and s.status ~= expect_status then
        problems[#problems + 1] = ("Prism answered %s, not %s"):format(s.status, expect_status)
      end
    end
    if ok and result ~= nil then
      local status = type(res) == "table" and res.status
      if not (is_int(status) and status >= 200 and status <= 299) then
        problems[#problems + 1] = "response status " .. tostring(status)
      end
    end
    if #problems > 0 then
      if #seen == 1 and seen[1].passed and #seen[1].errors == 0 then
        problems[#problems + 1] = "(the request itself passed Prism's validation)"
      end
      return table.concat(problems, "; "), result, res, seen
    end
    return nil, result, res, seen
  end

  -- Runs every operation; returns the number passed and a report of failures.
  local function sweep(optional)
    local passed, failures = 0, {}
    for _, id in ipairs(IDS) do
      local op = operations[id]
      local problem, result = invoke(op, samples.fields(op, { optional = optional }))
      if not problem and (op.resource == "generate" or id == "PutWorkflowRunByWorkflowId")
          and type(result.job) == "nil" and type(result.wait) ~= "function" then
        problem = "a generation returned neither a Job nor a body with a job"
      end
      if problem then
        failures[#failures + 1] = id .. ": " .. problem
      else
        passed = passed + 1
      end
    end
    return passed, failures
  end

  it("knows 108 operations, each with a resource method", function()
    assert.are.equal(108, #IDS)
    local missing = {}
    for _, id in ipairs(IDS) do
      local op = operations[id]
      local target = resource_object(client, op)
      if not (target and type(target[op.method_name]) == "function") then
        missing[#missing + 1] = id .. " -> client." .. op.resource .. ":" .. op.method_name
      end
    end
    assert.are.same({}, missing)
  end)

  it("108 of 108 succeed with their required fields", function()
    local passed, failures = sweep(false)
    assert.are.equal(108, passed, ("%d of 108 passed; failures:\n  %s"):format(passed,
      table.concat(failures, "\n  ")))
  end)

  it("108 of 108 succeed with every declared query parameter and body field", function()
    local passed, failures = sweep(true)
    assert.are.equal(108, passed, ("%d of 108 passed; failures:\n  %s"):format(passed,
      table.concat(failures, "\n  ")))
  end)

  it("dry runs of the generate operations answer 269 with their cost", function()
    local n, failures = 0, {}
    for _, id in ipairs(IDS) do
      local op = operations[id]
      if op.dry_run and declares_269(op) then
        n = n + 1
        local problem, result, res = invoke(op, samples.fields(op, { optional = true }),
          { dry_run = true, headers = { Prefer = "code=269" } }, "269")
        if not problem then
          if res.status ~= 269 then
            problem = "status " .. tostring(res.status)
          elseif type(result.creativeUnitsCost) ~= "number" then
            problem = "no creativeUnitsCost in " .. cjson.encode(result)
          elseif type(result.wait) == "function" then
            problem = "a dry run returned a Job"
          end
        end
        if problem then failures[#failures + 1] = id .. ": " .. problem end
      end
    end
    assert.are.equal(33, n)
    assert.are.same({}, failures)
  end)

  it("dry runs of the operations without a 269 response return the body, not a Job", function()
    for _, id in ipairs { "PostGenerateCustom", "PutWorkflowRunByWorkflowId" } do
      local op = operations[id]
      assert.is_true(op.dry_run)
      assert.is_false(declares_269(op))
      local problem, result = invoke(op, samples.fields(op), { dry_run = true })
      assert.is_nil(problem, id .. ": " .. tostring(problem))
      assert.is_nil(result.wait, id .. " returned a Job")
    end
  end)

  it("Prism saw no request that violates the document (no 422)", function()
    local bad = {}
    local all = parse_log(prism:log_text())
    for _, s in ipairs(all) do
      if not s.passed or #s.errors > 0 or (s.terminated or ""):find("UNPROCESSABLE", 1, true) then
        bad[#bad + 1] = s.method .. " " .. s.path .. ": " .. table.concat(s.errors, "; ")
      end
    end
    -- two sweeps of 108, 33 + 2 dry runs
    assert.are.equal(2 * 108 + 35, #all)
    assert.are.same({}, bad)
    assert.are.same({}, prism:violations())
  end)
end)

describe("contract: invalid inputs for a sample of operations are rejected client-side", function()
  local sim, client

  setup(function()
    sim = sim_mod.start()
    client = sim:client { max_retries = 0 }
  end)

  teardown(function()
    if sim then sim:stop() end
  end)

  -- valid fields for op with some replaced (false: removed)
  local function with(id, changes, optional)
    local fields = samples.fields(operations[id], { optional = optional })
    for k, v in pairs(changes) do
      if v == false then fields[k] = nil else fields[k] = v end
    end
    return fields
  end

  local function rejected(expected, result, err)
    assert.is_nil(result)
    assert.are.equal("validation", err.kind)
    assert.is_nil(err.status)
    for _, want in ipairs(expected) do
      local found = false
      for _, p in ipairs(err.problems) do
        if p == want then found = true end
      end
      assert.is_true(found, ("%q not among the problems:\n  %s"):format(want,
        table.concat(err.problems, "\n  ")))
    end
    assert.are.equal(#expected, #err.problems, table.concat(err.problems, "\n"))
    assert.are.equal(0, sim:stats().total, "a rejected call reached the simulator")
  end

  it("wrong type, out of range and a nested array item, all in one error (txt2img)", function()
    local fields = with("PostTxt2imgInferences", { prompt = 42, width = 10, numSamples = 1.5,
      concepts = { { modelId = "a", scale = 1 }, { modelId = "b", scale = 3 } } })
    rejected({
      "prompt: must be a string for this operation (got number)",
      "width: must be >= 64 (got 10)",
      "numSamples: must be an integer (got 1.5)",
      "concepts[2].scale: must be <= 2 (got 3)",
    }, client.generate:txt2img(fields))
  end)

  it("a missing required body field and a nested required one (txt2img)", function()
    local fields = with("PostTxt2imgInferences", { modelId = false, concepts = { { scale = 1 } } })
    rejected({ "modelId: required", "concepts[1].modelId: required" }, client.generate:txt2img(fields))
  end)

  it("a bad enum and a pattern mismatch (models.create)", function()
    local fields = with("PostModels", { type = "sd-2", classSlug = "Not A Slug" }, true)
    local _, err = client.models:create(fields)
    assert.are.equal("validation", err.kind)
    local text = table.concat(err.problems, "\n")
    assert.are.equal(2, #err.problems, text)
    assert.matches('classSlug: must match ^[a-z0-9-]+$ (got "Not A Slug")', text, 1, true)
    assert.matches('type: must be one of custom, flux%.1, .* %(got "sd%-2"%)', text)
  end)

  it("query parameters: out of range, bad enum, bad item of a comma-joined array (assets.list)", function()
    local _, err = client.assets:list { pageSize = 500, sortDirection = "up", types = { "txt2img", "nope" } }
    assert.are.equal("validation", err.kind)
    local text = table.concat(err.problems, "\n")
    assert.are.equal(3, #err.problems, text)
    assert.matches("pageSize: must be <= 100 (got 500)", text, 1, true)
    assert.matches('sortDirection: must be one of asc, desc (got "up")', text, 1, true)
    assert.matches('types%[2%]: must be one of .* %(got "nope"%)', text)
  end)

  it("a missing required query parameter and a wrong nested type (models.images, models.train)", function()
    rejected({ "ids: required" }, client.models.images:delete("model-1", {}))
    rejected({
      "parameters.learningRate: must be > 0 (got 0)",
      "parameters.batchSize: must be <= 4 (got 9)",
      "parameters.samplePrompts[2]: must be a string (got number)",
    }, client.models:train("model-1", { parameters = { learningRate = 0, batchSize = 9,
      samplePrompts = { "ok", 7 } } }))
  end)

  it("an array body with a bad item (models.training_images:update_pairs)", function()
    rejected({ "[2].sourceId: must be a string (got number)" },
      client.models.training_images:update_pairs("model-1", { { sourceId = "a", targetId = "b" },
        { sourceId = 5, targetId = "c" } }))
  end)

  it("a bad enum in a body and a missing path parameter (jobs.action, assets.get)", function()
    rejected({ 'action: must be one of cancel (got "stop")' }, client.jobs:action("job-1", { action = "stop" }))
    rejected({ "assetId: required" }, client.assets:get({}))
  end)

  it("a wrong seed type named for its operation and a too long string (models.create, img2img)", function()
    rejected({ "name: must be at most 64 characters long (got 65)" },
      client.models:create { name = string.rep("n", 65) })
    local fields = with("PostImg2imgInferences", { seed = 12 })
    local _, err = client.generate:img2img(fields)
    assert.are.equal("validation", err.kind)
    assert.matches("^seed: must be a %a+ for this operation %(got ", err.problems[1])
  end)

  it("none of them reached the server", function()
    assert.are.equal(0, sim:stats().total)
  end)
end)
