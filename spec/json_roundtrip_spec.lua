-- [] stays [] and {} stays {}: JSON decoded by scenario.json and written out
-- again says the same thing, compared by a reference reader written here
-- (not lua-cjson, not scenario.json) that tells arrays from objects. First
-- every JSON value the API document holds under `example`,
-- `examples.*.value` and `default`, and the whole document; then the paths
-- an answer takes: a result, an error body, the runner's --json, a
-- pipeline's state file, a workflow read back and compiled.
local cjson = require "cjson"
local json = require "scenario.json"
local workflow = require "scenario.workflow"
local pipeline = require "scenario.pipeline"
local state = require "scenario.pipeline.state"
local sim_mod = require "support.sim"
local sh = require "support.sh"
local native = require "support.native"
local interp = require "support.interp"
local files = require "support.files"

-- The reference reader -------------------------------------------------------

local NULL = setmetatable({}, { __tostring = function() return "null" end })
local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r",
  t = "\t" }

local function utf8_char(cp)
  local floor = math.floor
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
    0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

-- The JSON text as { kind = "array", items... } and { kind = "object",
-- fields = {...} }, strings (escapes decoded), numbers, booleans and NULL.
-- on_member(path, key, first, last), when given, sees the byte span of each
-- object member's value; path lists the keys and indexes above the object.
local function read_json(text, on_member)
  local pos, path = 1, {}
  local function fail(what) error(("reference reader: %s at byte %d"):format(what, pos), 0) end
  local function skip() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local function char() return text:sub(pos, pos) end
  local function read_string()
    local out, i = {}, pos + 1
    while true do
      local a = text:find('["\\]', i)
      if not a then fail("unterminated string") end
      out[#out + 1] = text:sub(i, a - 1)
      if text:byte(a) == 34 then pos = a + 1 return table.concat(out) end
      local e = text:sub(a + 1, a + 1)
      if e == "u" then
        local cp = tonumber(text:sub(a + 2, a + 5), 16)
        i = a + 6
        local lo = text:match("^\\u(%x%x%x%x)", i)
        if cp >= 0xD800 and cp < 0xDC00 and lo then
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(lo, 16) - 0xDC00)
          i = i + 6
        end
        out[#out + 1] = utf8_char(cp)
      elseif ESCAPES[e] then
        out[#out + 1], i = ESCAPES[e], a + 2
      else
        fail("bad escape")
      end
    end
  end
  local value
  local function read_object()
    local fields = {}
    pos = pos + 1
    skip()
    if char() == "}" then pos = pos + 1 return { kind = "object", fields = fields } end
    while true do
      skip()
      if char() ~= '"' then fail("a key expected") end
      local key = read_string()
      skip()
      if char() ~= ":" then fail("':' expected") end
      pos = pos + 1
      skip()
      local first = pos
      path[#path + 1] = key
      fields[key] = value()
      path[#path] = nil
      if on_member then on_member(path, key, first, pos - 1) end
      skip()
      local c = char()
      pos = pos + 1
      if c == "}" then return { kind = "object", fields = fields } end
      if c ~= "," then fail("',' or '}' expected") end
    end
  end
  local function read_array()
    local list = { kind = "array" }
    pos = pos + 1
    skip()
    if char() == "]" then pos = pos + 1 return list end
    while true do
      path[#path + 1] = #list + 1
      list[#list + 1] = value()
      path[#path] = nil
      skip()
      local c = char()
      pos = pos + 1
      if c == "]" then return list end
      if c ~= "," then fail("',' or ']' expected") end
    end
  end
  local LITERALS = { ["true"] = true, ["false"] = false, null = NULL }
  value = function()
    skip()
    local c = char()
    if c == "{" then return read_object() end
    if c == "[" then return read_array() end
    if c == '"' then return read_string() end
    local word = text:match("^%a+", pos)
    if word and LITERALS[word] ~= nil then
      pos = pos + #word
      return LITERALS[word]
    end
    local a, b = text:find("^%-?%d+%.?%d*[eE]?[%+%-]?%d*", pos)
    if not a then fail("a value expected") end
    pos = b + 1
    return tonumber(text:sub(a, b))
  end
  local v = value()
  skip()
  if pos <= #text then fail("text after the value") end
  return v
end

local function show(v)
  if type(v) == "table" and v ~= NULL then return v.kind == "array" and "an array" or "an object" end
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- nil when a and b (from read_json) say the same, else where they differ.
local function difference(a, b, where)
  where = where or "$"
  if a == NULL or b == NULL or type(a) ~= "table" or type(b) ~= "table" then
    if a == b then return nil end
    return ("%s: %s, then %s"):format(where, show(a), show(b))
  end
  if a.kind ~= b.kind then return ("%s: %s, then %s"):format(where, show(a), show(b)) end
  if a.kind == "array" then
    if #a ~= #b then return ("%s: %d items, then %d"):format(where, #a, #b) end
    for i = 1, #a do
      local d = difference(a[i], b[i], where .. "[" .. i .. "]")
      if d then return d end
    end
    return nil
  end
  for k, v in pairs(a.fields) do
    local d = difference(v, b.fields[k], where .. "." .. k)
    if d then return d end
  end
  for k in pairs(b.fields) do
    if a.fields[k] == nil then return where .. "." .. k .. ": absent, then present" end
  end
  return nil
end

-- nil when the JSON texts a and b say the same, else where they differ.
local function text_difference(a, b)
  return difference(read_json(a), read_json(b))
end

-- text decoded by scenario.json and encoded again.
local function again(text)
  local v, err = json.decode(text)
  assert(v ~= nil, err)
  return assert(json.encode(v))
end

-- The API document ------------------------------------------------------------

local DOC = assert(files.read("api/openapi.json"))

-- every value under `example`, `examples.<name>.value` and `default`, as the
-- document's own bytes
local EXAMPLES, DEFAULTS = {}, {}
read_json(DOC, function(path, key, first, last)
  local where = table.concat(path, "/") .. "/" .. key
  if key == "example" or (key == "value" and path[#path - 1] == "examples") then
    EXAMPLES[#EXAMPLES + 1] = { where = where, text = DOC:sub(first, last) }
  elseif key == "default" then
    DEFAULTS[#DEFAULTS + 1] = { where = where, text = DOC:sub(first, last) }
  end
end)

describe("the reference comparison", function()
  it("tells [] from {}, and a missing field from a present one", function()
    assert.matches("$.a: an array, then an object", text_difference('{"a":[]}', '{"a":{}}'), 1, true)
    assert.matches("$[2]: an object, then an array", text_difference('[1,{}]', '[1,[]]'), 1, true)
    assert.matches("$.b: absent, then present", text_difference('{"a":1}', '{"a":1,"b":null}'), 1, true)
    assert.matches('$.s: "a\\"b", then "a/b"', text_difference('{"s":"a\\"b"}', '{"s":"a\\/b"}'), 1, true)
    assert.is_nil(text_difference('{"a":[1,2.5,{"b":"\\u00e9\\ud83d\\ude00"}],"c":{}}',
      ' { "c" : { } , "a" : [ 1 , 25e-1 , { "b" : "é😀" } ] } '))
  end)

  it("catches what plain lua-cjson 2.1 does to the API document: {} in place of []", function()
    local plain = assert(json.encode(cjson.new().decode(DOC)))
    local d = text_difference(DOC, plain)
    assert.is_string(d)
    assert.matches(": an array, then an object", d, 1, true)
  end)
end)

describe("JSON of the API document decoded and encoded again", function()
  it(("keeps every example (%d), examples.*.value and default (%d) of the document")
    :format(#EXAMPLES, #DEFAULTS), function()
    local all = {}
    for _, e in ipairs(EXAMPLES) do all[#all + 1] = e end
    for _, e in ipairs(DEFAULTS) do all[#all + 1] = e end
    assert.is_true(#all > 0, "the document has no example or default value")
    local kinds = {}
    for _, e in ipairs(all) do
      local d = text_difference(e.text, again(e.text))
      assert.is_nil(d, e.where .. ": " .. tostring(d))
      local v = read_json(e.text)
      kinds[type(v) == "table" and v ~= NULL and v.kind or type(v)] = true
    end
    -- objects among them (this document has no `example` at all, and no
    -- array default: its [] are tried by the next case, the whole document)
    assert.is_true(kinds.object, "no object value among them")
  end)

  it("keeps the whole document, with its empty arrays and empty objects", function()
    local _, empty_arrays = DOC:gsub("%[%]", "")
    local _, empty_objects = DOC:gsub("{}", "")
    assert.is_true(empty_arrays > 0 and empty_objects > 0)
    local d = text_difference(DOC, again(DOC))
    assert.is_nil(d, d)
  end)

  it("keeps [] inside strings as text, and reads [ ] with whitespace as an array", function()
    for _, text in ipairs {
      '{"a":[],"s":"[]","t":"x\\"[]\\\\","u":"[ ]","k":{"[]":[]}}',
      '[[],[[]],{"a":[ \n\t ]},"[]"]', " [ ] ", "[]", "{}",
      '{"n":12345678901234567890,"list":[],"f":[1.5,-0.25e2]}',
      '{"e":"\\u0000scenario.json: an empty array\\u0000"}' } do
      local d = text_difference(text:gsub("12345678901234567890", '"12345678901234567890"'), again(text))
      assert.is_nil(d, text .. ": " .. tostring(d))
    end
    assert.is_true(json.is_array(json.decode("[]")))
    assert.is_false(json.is_array(json.decode("{}")))
    local v = json.decode('{"a":[],"b":{},"c":"[]"}')
    assert.is_true(json.is_array(v.a))
    assert.is_false(json.is_array(v.b))
    assert.are.equal("[]", v.c)
  end)

  it("keeps 500 generated texts: brackets, quotes and backslashes in strings, whitespace, nesting", function()
    local prng = require "support.prng"
    local next_u = prng.new(14)
    local pick, some = prng.pickers(next_u)
    local PIECES = { "[]", "[ ]", "{}", "\\\"", "\\\\", "\\n", "\\u00e9", "]", "[", '\\"[]\\"', "x", " ",
      "\\u0000scenario.json: an empty array\\u0000", "12345678901234567", ":[],", "é" }
    local SPACE = { "", "", " ", "\n  ", "\t" }
    local function text_of(depth)
      local r = next_u() % (depth > 3 and 3 or 6)
      if r == 0 then return '"' .. some(PIECES, 4) .. '"'
      elseif r == 1 then return pick { "1", "-2.5", "null", "true", "12345678901234567890", "0" }
      elseif r == 2 then return "[" .. pick(SPACE) .. "]"
      elseif r == 3 then
        local items = {}
        for i = 1, next_u() % 4 do items[i] = text_of(depth + 1) end
        return "[" .. pick(SPACE) .. table.concat(items, "," .. pick(SPACE)) .. pick(SPACE) .. "]"
      end
      local fields = {}
      for i = 1, next_u() % 4 do
        fields[i] = text_of(5):gsub("^[^\"].*", '"k"') .. pick(SPACE) .. ":" .. text_of(depth + 1)
      end
      return "{" .. pick(SPACE) .. table.concat(fields, ",") .. "}"
    end
    for _ = 1, 500 do
      local text = text_of(0)
      -- integers past 2^53 come back as their decimal strings (README, Lua versions)
      local want = text:gsub('([,:%[%s])12345678901234567890', '%1"12345678901234567890"')
        :gsub("^12345678901234567890$", '"12345678901234567890"')
      local d = text_difference(want, again(text))
      assert.is_nil(d, text .. ": " .. tostring(d))
    end
  end)

  it("still refuses what is not JSON, with lua-cjson's message at the text's own offsets", function()
    local v, err = json.decode('{"a":[],[]:1}')
    assert.is_nil(v)
    assert.matches("Expected object key string but found T_ARR_BEGIN at character 9", err, 1, true)
    v, err = json.decode('{"a":[] "b":1}')
    assert.is_nil(v)
    assert.matches("at character 9", err, 1, true)
    v, err = json.decode('["[]", [] ')
    assert.is_nil(v)
    assert.matches("T_END at character 11", err, 1, true)
  end)
end)

-- The paths of an answer -------------------------------------------------------

local RUNNER = (interp.name == "lua5.4" and interp.build or "build") .. "/scenario-lua"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- spec/support/json_server.py answering every request with status and body
local function json_server(status, body)
  local pipe = assert(io.popen("exec " .. native .. "python3 spec/support/json_server.py " ..
    status .. " " .. quote(body)))
  local port, pid = pipe:read("*l"):match("^LISTENING (%d+) (%d+)")
  return { url = "http://127.0.0.1:" .. port,
    stop = function() os.execute("kill " .. pid) pipe:close() end }
end

describe("[] through the SDK's paths", function()
  local sim, client
  local ASSET = "asset_seed000001"

  setup(function()
    sim = sim_mod.start { job_duration = 0.2, args = { "--seed-assets", "3" } }
    client = sim:client()
  end)
  teardown(function() if sim then sim:stop() end end)

  it("keeps an answer's [] in the result (client:call and a page of client:request)", function()
    local asset, res = assert(client:request("GET", "/assets/" .. ASSET))
    assert.truthy(res.body:find('"tags":[]', 1, true), res.body)
    assert.is_nil(text_difference(res.body, assert(json.encode(asset))))
    local result = assert(client:call("GetAssetsByAssetId", { assetId = ASSET }))
    assert.is_true(json.is_array(result.asset.tags))
    assert.are.equal("[]", json.encode(result.asset.tags))
    local page, pres = assert(client:request("GET", "/assets", { query = { pageSize = 3 } }))
    assert.is_nil(text_difference(pres.body, assert(json.encode(page))))
  end)

  it("keeps [] in an error body (err.body)", function()
    local body = '{"message":"bad fields","infos":{"fields":[],"details":{}},"errors":[[],{}]}'
    local server = json_server(422, body)
    local c = require("scenario").new { base_url = server.url, api_key = "k", api_secret = "s",
      log = false, max_retries = 0 }
    local result, err = c:call("GetAssetsByAssetId", { assetId = "asset_x" })
    server.stop()
    assert.is_nil(result)
    assert.are.equal(422, err.status)
    assert.are.equal("bad fields", err.message)
    assert.is_true(json.is_array(err.body.infos.fields))
    assert.is_nil(text_difference(body, assert(json.encode(err.body))))
  end)

  it("keeps [] in the runner's --json, results and error bodies alike", function()
    local _, res = assert(client:request("GET", "/assets/" .. ASSET))
    local env = ("SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s "):format(
      sim.url, sim_mod.KEY, sim_mod.SECRET)
    local ok, out = sh(env .. RUNNER .. " call GetAssetsByAssetId assetId=" .. ASSET .. " --json 2>/dev/null")
    assert.is_true(ok, out)
    assert.truthy(out:find('"tags":[]', 1, true), out)
    assert.is_nil(text_difference(res.body, out))
    local body = '{"message":"nope","infos":{"fields":[]},"list":[[],{}]}'
    local server = json_server(400, body)
    local _, eout = sh(("SCENARIO_API_URL=%s SCENARIO_API_KEY=k SCENARIO_API_SECRET=s %s " ..
      "call GetAssetsByAssetId assetId=asset_x --json 2>/dev/null"):format(server.url, RUNNER))
    server.stop()
    local doc = read_json(eout)
    assert.is_nil(difference(read_json(body), doc.fields.error.fields.body), eout)
    assert.truthy(eout:find('"fields":[]', 1, true), eout)
  end)

  it("keeps [] in a pipeline's state file, written, read back and written again", function()
    local dir = files.tmpdir()
    local path = dir .. "/state.json"
    local p = pipeline.new(client)
    -- a caption job has no output asset: its step's assets are []
    p:step("cap", "generate.caption", { images = { ASSET } })
    assert(p:run { state_file = path })
    local first = assert(files.read(path))
    assert.truthy(first:find('"assets":[]', 1, true), first)
    -- a field of a later SDK version, kept as it is
    local st = assert(state.read(path))
    st.steps.cap.notes = json.decode('{"seen":[],"by":{}}')
    assert(state.write(path, st))
    local read_back = assert(state.read(path))
    assert.is_true(json.is_array(read_back.steps.cap.assets))
    assert.is_true(json.is_array(read_back.steps.cap.notes.seen))
    local second = assert(files.read(path))
    assert(state.write(path, read_back))
    local third = assert(files.read(path))
    os.execute("rm -rf " .. quote(dir))
    local function same_but_updated(a, b)
      return text_difference(a:gsub('"updated":"[^"]*"', '"updated":""'),
        b:gsub('"updated":"[^"]*"', '"updated":""'))
    end
    assert.is_nil(same_but_updated(second, third))
    assert.truthy(third:find('"notes":{"by":{},"seen":[]}', 1, true), third)
    assert.truthy(third:find('"assets":[]', 1, true), third)
  end)

  it("keeps [] through workflow.from_api and compile, free-form fields included", function()
    local record = [==[{"workflow":{"id":"workflow_rt","name":"W","description":"d","privacy":"private",
      "status":"draft","tagSet":[],"outputAssetKinds":[],
      "editorInfo":{"groups":[],"positions":{},"deep":{"a":[[],{}]}},
      "inputs":[{"name":"styles","type":"string_array","allowedValues":[],"future":[]},
        {"name":"layers","type":"inputs_array","inputs":[]}],
      "flow":[{"id":"gen","type":"custom-model","modelId":"model_x","status":"pending","position":[],
        "inputs":[{"name":"tags","type":"string_array","value":[]},
          {"name":"p","type":"string","ref":{"node":"workflow","name":"styles","conditional":[]}}],
        "dependsOn":[]},
       {"id":"pick","type":"logic","logicType":"if-else","status":"pending","inputs":[],
        "logic":{"cases":[{"condition":"true","value":"a","extra":[]}],"default":"x","more":[]}}]}}]==]
    local wf = workflow.from_api(assert(json.decode(record)))
    local body = assert(wf:compile())
    -- the PUT body is the record without its read-only id
    local want = record:gsub('"id":"workflow_rt",', "")
    local d = text_difference(want:match('^{"workflow":(.*)}$'), assert(json.encode(body)))
    assert.is_nil(d, d)
  end)

  it("keeps a workflow's free-form [] deployed to the simulator and read back", function()
    local wf = workflow.new { name = "Round trip", description = "[] kept" }
    local prompt = wf:input("prompt", "string", { required = true })
    wf:custom_model("gen", "model_sim-custom", { inputs = { prompt = prompt } })
    wf.editorInfo = { groups = json.array {}, notes = { seen = json.array {}, by = {} } }
    assert(client.workflows:deploy(wf))
    local got, _, res = assert(client.workflows:get(wf.id))
    assert.truthy(res.body:find('"groups":[]', 1, true), res.body)
    local text = assert(json.encode(assert(workflow.from_api(got):compile())))
    assert.truthy(text:find('"editorInfo":{"groups":[],"notes":{"by":{},"seen":[]}}', 1, true), text)
  end)
end)

describe("json.encode's refusals", function()
  it("name the path of the value refused", function()
    local function refusal(v)
      local text, err = json.encode(v)
      assert.is_nil(text)
      return err
    end
    assert.are.equal("a.b[2]: is not a finite number", refusal { a = { b = { 1, 0 / 0 } } })
    assert.are.equal("x[1].f: cannot be sent as JSON (a function)", refusal { x = { { f = print } } })
    assert.are.equal("body: is not a finite number", refusal(math.huge))
    local t = { n = 1 }
    t.self = { again = t }
    assert.are.equal("self.again: contains itself (a cycle)", refusal(t))
    assert.are.equal("list: is an array with holes (nil items)", refusal { list = { 1, nil, 3 } })
  end)

  it("escape what JSON needs escaped, and only that", function()
    assert.are.equal('["plain","q\\"b\\\\","\\n\\t\\u0001","é"]',
      json.encode { "plain", 'q"b\\', "\n\t\1", "é" })
  end)
end)
