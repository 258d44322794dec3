-- Lua-side fuzzing: random and malformed inputs through the SDK's pure
-- functions, its validation, its resource methods and its handling of the
-- API's answers. The only outcomes allowed are a result or a scenario.Error
-- (for the pure functions: their documented result); never a raw Lua error.
--
-- Cases come from a seeded generator of our own (math.random is left to the
-- SDK), so a run is repeatable: SCENARIO_FUZZ_SEED=<n> picks another seed and
-- SCENARIO_FUZZ_SCALE=<k> multiplies every case count (default 1, about 10 s).
-- A failure names the seed and the case number, and shows the input.
local scenario = require "scenario"
local errors = require "scenario.errors"
local validate = require "scenario.validate"
local operations = require "scenario.operations"
local json = require "scenario.json"
local util = require "scenario.util"
local core = require "scenario.core"
local sim_mod = require "support.sim"
local Job = require("scenario.job").Job

local SEED = tonumber(os.getenv("SCENARIO_FUZZ_SEED")) or 20260122
local SCALE = tonumber(os.getenv("SCENARIO_FUZZ_SCALE")) or 1

-- rand(n) in 1..n, rand() in (0, 1), from support.prng: a seed draws the
-- same numbers on Lua 5.1-5.4 and LuaJIT (the cases differ only where 5.3+
-- adds math.maxinteger and math.mininteger to INTERESTING_NUMBERS).
local function generator(seed)
  local prng = require "support.prng"
  local next_u, scale = prng.new(seed), prng.M1 + 1
  return function(n)
    local u = next_u() / scale
    if n then return math.floor(u * n) + 1 end
    return u
  end
end

local function cases(n) return math.max(1, math.floor(n * SCALE)) end

-- a printable, bounded view of any value, for failure messages
local function show(v, depth, seen)
  depth, seen = depth or 0, seen or {}
  local t = type(v)
  if t == "string" then return string.format("%q", #v > 200 and v:sub(1, 200) .. "..." or v) end
  if t ~= "table" then return tostring(v) end
  if seen[v] or depth > 4 then return "{...}" end
  seen[v] = true
  local parts = {}
  for k, x in pairs(v) do
    if #parts > 20 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = "[" .. show(k, depth + 1, seen) .. "]=" .. show(x, depth + 1, seen)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

---------------------------------------------------------------------------
-- generators

local INTERESTING_STRINGS = {
  "", " ", "a", "/", "..", "../../etc/passwd", "%", "%00", "%zz", "?", "#", "&", "=", "+",
  "\0", "a\0b", "\r\n", "X-Injected: 1", "{assetId}", "download", "public", "é", "\255\254",
  "\237\160\128", string.rep("x", 300), "nan", "inf", "-1", "1e999", "true", "null",
  "http://127.0.0.1:1/x", "success", "failure", "in-progress", "canceled",
}

local INTERESTING_NUMBERS = {
  0, -0.0, 1, -1, 0.5, 1e308, -1e308, 1 / 0, -1 / 0, 0 / 0,
  2 ^ 53, 2 ^ 53 + 1, 2 ^ 63, 1e-320, 3, 8, 200, 1000, 2147483648,
}
-- the integer subtype's bounds, where there is one (Lua 5.3+)
if math.maxinteger then -- luacheck: ignore 143 (5.3+ only)
  table.insert(INTERESTING_NUMBERS, 11, math.maxinteger) -- luacheck: ignore 143
  table.insert(INTERESTING_NUMBERS, 12, math.mininteger) -- luacheck: ignore 143
end

local function random_bytes(rand, max)
  local n = rand(max + 1) - 1
  local b = {}
  for i = 1, n do b[i] = string.char(rand(256) - 1) end
  return table.concat(b)
end

local function random_string(rand)
  local r = rand(4)
  if r == 1 then return INTERESTING_STRINGS[rand(#INTERESTING_STRINGS)] end
  if r == 2 then return random_bytes(rand, 40) end
  local s = {}
  for i = 1, rand(12) do s[i] = string.char(rand(26) + 96) end
  return table.concat(s)
end

local function random_number(rand)
  local r = rand(4)
  if r == 1 then return INTERESTING_NUMBERS[rand(#INTERESTING_NUMBERS)] end
  if r == 2 then return rand(2001) - 1001 end
  if r == 3 then return (rand() - 0.5) * 10 ^ (rand(40) - 20) end
  return rand(100)
end

-- any Lua value a caller might pass as a field
local function random_value(rand, depth)
  depth = depth or 0
  local r = rand(depth > 3 and 7 or 10)
  if r == 1 then return nil end
  if r == 2 then return rand(2) == 1 end
  if r <= 4 then return random_string(rand) end
  if r <= 6 then return random_number(rand) end
  if r == 7 then
    local odd = { json.null, print, coroutine.create(function() end), io.stderr, json.array() }
    return odd[rand(#odd)]
  end
  local t = {}
  if r == 8 then
    for i = 1, rand(5) - 1 do t[i] = random_value(rand, depth + 1) end
  else
    for _ = 1, rand(5) - 1 do
      local k = rand(6) == 1 and random_value(rand, depth + 2) or random_string(rand)
      if k ~= nil and k == k then t[k] = random_value(rand, depth + 1) end
    end
  end
  if rand(20) == 1 then t[rand(3)] = t end -- a cycle
  return t
end

---------------------------------------------------------------------------
-- pure functions

describe("fuzz: percent-encoding and query strings", function()
  local function decode(s)
    return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
  end

  it("util.urlencode and validate.encode_path_segment keep only unreserved bytes and round-trip", function()
    local rand = generator(SEED)
    for case = 1, cases(3000) do
      local s = rand(5) == 1 and random_number(rand) or random_string(rand)
      for _, f in ipairs { util.urlencode, validate.encode_path_segment } do
        local ok, enc = pcall(f, s)
        assert(ok, string.format("seed %d case %d: %s(%s) raised %s", SEED, case,
          f == util.urlencode and "urlencode" or "encode_path_segment", show(s), tostring(enc)))
        assert(type(enc) == "string" and not enc:find("[^%w%-%._~%%]"),
          "case " .. case .. ": unsafe byte in " .. show(enc))
        if type(s) == "string" then
          assert(decode(enc) == s, "case " .. case .. ": does not round-trip: " .. show(s))
        end
      end
    end
  end)

  it("util.query_string gives key=value pairs that decode back to the table", function()
    local rand = generator(SEED + 1)
    for case = 1, cases(2000) do
      local q = {}
      for _ = 1, rand(5) - 1 do
        local v
        local r = rand(4)
        if r == 1 then v = random_string(rand)
        elseif r == 2 then v = rand(2) == 1
        elseif r == 3 then v = rand(1000) - 500
        else
          v = {}
          for i = 1, rand(4) - 1 do v[i] = random_string(rand) end
        end
        q[random_string(rand)] = v
      end
      local ok, qs = pcall(util.query_string, q)
      assert(ok, string.format("seed %d case %d: query_string(%s) raised %s", SEED + 1, case,
        show(q), tostring(qs)))
      local back, n = {}, 0
      for pair in (qs .. "&"):gmatch("([^&]*)&") do
        if pair ~= "" then
          local k, v = pair:match("^([^=]*)=(.*)$")
          assert(k, "case " .. case .. ": not a pair: " .. pair)
          back[decode(k)] = decode(v)
          n = n + 1
        end
      end
      local want = 0
      for k, v in pairs(q) do
        want = want + 1
        local text = type(v) == "table" and {} or nil
        if text then
          for i = 1, #v do text[i] = v[i] end
          text = table.concat(text, ",")
        else
          text = tostring(v)
        end
        assert(back[k] == text, "case " .. case .. ": " .. show(k) .. " came back as " .. show(back[k]))
      end
      assert(n == want, "case " .. case .. ": " .. n .. " pairs for " .. want .. " keys")
    end
  end)
end)

describe("fuzz: JSON", function()
  it("json.encode gives valid JSON or nil and a message, for any value", function()
    local rand = generator(SEED + 2)
    for case = 1, cases(3000) do
      local v = random_value(rand)
      local ok, text, msg = pcall(json.encode, v)
      assert(ok, string.format("seed %d case %d: json.encode(%s) raised %s", SEED + 2, case,
        show(v), tostring(text)))
      if text then
        local decoded, derr = json.decode(text)
        assert(decoded ~= nil, "case " .. case .. ": encoded invalid JSON " .. show(text) ..
          " (" .. tostring(derr) .. ")")
      else
        assert(type(msg) == "string", "case " .. case .. ": no message for " .. show(v))
      end
    end
  end)

  it("json.decode gives a value or nil and a message, for any bytes", function()
    local rand = generator(SEED + 3)
    local seeds = { '{"a":[1,2,{"b":null}]}', '[' .. string.rep("[", 300), '"\\ud800"', '1e999',
      '{"a":1,"a":2}', '-0', '{"\0":1}', '[1,]', '{"job":{"jobId":"j"}}' }
    for case = 1, cases(3000) do
      local s
      if rand(2) == 1 then
        s = random_bytes(rand, 60)
      else
        s = seeds[rand(#seeds)]
        local at = rand(#s + 1)
        s = s:sub(1, at - 1) .. random_bytes(rand, 3) .. s:sub(at + rand(3) - 1)
      end
      local ok, v, err = pcall(json.decode, s)
      assert(ok, string.format("seed %d case %d: json.decode(%s) raised %s", SEED + 3, case,
        show(s), tostring(v)))
      assert(v ~= nil or type(err) == "string")
    end
  end)
end)

---------------------------------------------------------------------------
-- validation and resource methods

local OP_IDS = {}
for id in pairs(operations) do OP_IDS[#OP_IDS + 1] = id end
table.sort(OP_IDS)

-- fields for an operation: its own names with random values, some unknown
-- names, sometimes a right value
local function random_fields(rand, op)
  local names = {}
  for _, p in ipairs(op.path_params or {}) do names[#names + 1] = p end
  for k in pairs(op.query or {}) do names[#names + 1] = k end
  if op.body and op.body.properties then
    for k in pairs(op.body.properties) do names[#names + 1] = k end
  end
  table.sort(names)
  local f = {}
  for _ = 1, rand(6) - 1 do
    local r = rand(10)
    local k
    if r <= 6 and #names > 0 then k = names[rand(#names)]
    elseif r == 7 then k = rand(3)
    elseif r == 8 then k = rand(2) == 1 and "query" or "body"
    else k = random_string(rand) end
    if k ~= nil then f[k] = random_value(rand) end
  end
  return f
end

describe("fuzz: validation", function()
  it("validate.check routes or lists problems, for random fields of every operation", function()
    local rand = generator(SEED + 4)
    for case = 1, cases(4000) do
      local op = operations[OP_IDS[rand(#OP_IDS)]]
      local fields = rand(20) == 1 and random_value(rand) or random_fields(rand, op)
      local ok, routed, problems = pcall(validate.check, op, fields, { strict = rand(2) == 1 })
      assert(ok, string.format("seed %d case %d: validate.check(%s, %s) raised %s", SEED + 4,
        case, op.id, show(fields), tostring(routed)))
      if routed then
        assert(type(routed.path) == "string" and routed.path:sub(1, 1) == "/"
          and not routed.path:find("[{}]"), "case " .. case .. ": path " .. show(routed.path))
        for k, v in pairs(routed.query) do
          assert(type(k) == "string" and (type(v) == "string" or type(v) == "table"),
            "case " .. case .. ": query " .. show(routed.query))
        end
      else
        assert(type(problems) == "table" and #problems > 0, "case " .. case .. ": no problems")
        for _, p in ipairs(problems) do assert(type(p) == "string") end
      end
    end
  end)

  it("resource methods and client:call give a result or a scenario.Error", function()
    -- a closed port: a call that passes validation fails to connect at once
    local client = scenario.new { base_url = "http://127.0.0.1:1", api_key = "k",
      api_secret = "s", max_retries = 0, log = function() end }
    local rand = generator(SEED + 5)
    for case = 1, cases(3000) do
      local op = operations[OP_IDS[rand(#OP_IDS)]]
      local fields = random_fields(rand, op)
      local options
      local r = rand(8)
      if r == 1 then options = random_value(rand)
      elseif r == 2 then
        -- numbers that are wrong, or right and small (a long timeout with
        -- retries against the closed port would only make the run slow)
        local timeouts = { 0, 0.5, 1, -1, 0 / 0, 1 / 0, 1e300, 2 ^ 63, "1", true }
        local retries = { 0, 0, 0, 1, 0.5, -1, 0 / 0, 1 / 0, 2 ^ 31, 1e300, "0", {} }
        local function other(v) if type(v) == "number" then return nil end return v end
        options = { timeout = rand(3) == 1 and other(random_value(rand)) or timeouts[rand(#timeouts)],
          max_retries = rand(3) == 1 and other(random_value(rand)) or retries[rand(#retries)],
          headers = rand(3) == 1 and random_value(rand) or nil,
          dry_run = rand(4) == 1 and random_value(rand) or nil }
      end
      local call
      if rand(3) == 1 then
        call = function() return client:call(rand(10) == 1 and random_string(rand) or op.id, fields, options) end
      else
        -- path parameters positionally, as the README shows
        local args = {}
        for i, p in ipairs(op.path_params or {}) do
          args[i] = fields[p]
          fields[p] = nil
          if args[i] == nil then args[i] = random_string(rand) end
        end
        args[#args + 1] = fields
        args[#args + 1] = options
        local node = client
        for part in op.resource:gmatch("[^.]+") do node = node[part] end
        local method = node[op.method_name]
        local unpack = require("scenario.compat").unpack
        call = function() return method(node, unpack(args, 1, #(op.path_params or {}) + 2)) end
      end
      local ok, res, err = pcall(call)
      assert(ok, string.format("seed %d case %d: %s(%s, %s) raised %s", SEED + 5, case, op.id,
        show(fields), show(options), tostring(res)))
      assert(res ~= nil or errors.is(err), string.format("case %d: %s gave %s, %s", case, op.id,
        show(res), show(err)))
    end
  end)
end)

---------------------------------------------------------------------------
-- the API's answers

-- A server that answers each request with the next queued response (200 {}
-- when none is queued). POST /__queue takes lines "status content-type hex",
-- POST /__clear empties the queue.
local ECHO = [[
import http.server, os, socketserver, threading
queue, lock = [], threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def any(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        if self.path == "/__clear":
            with lock:
                queue.clear()
            st, ct, body = 200, "application/json", b"{}"
        elif self.path == "/__queue":
            with lock:
                for line in data.decode().splitlines():
                    st, ct, hx = (line.split(" ") + ["", ""])[:3]
                    queue.append((int(st), ct, bytes.fromhex(hx)))
            st, ct, body = 200, "application/json", b"{}"
        else:
            with lock:
                st, ct, body = queue.pop(0) if queue else (200, "application/json", b"{}")
        self.send_response(st)
        self.send_header("Content-Type", ct)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = any
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print("LISTENING %d %d" % (s.server_address[1], os.getpid()), flush=True)
s.serve_forever()
]]

local KEYS = { "job", "jobId", "id", "status", "progress", "metadata", "assetIds", "assets",
  "asset", "url", "mimeType", "nextPaginationToken", "message", "error", "code", "apiError",
  "details", "creativeUnitsCost", "estimatedCost", "errorMessage", "createdAt", "models",
  "jobType", "inference", "x" }

local STATUSES = { 200, 200, 200, 201, 269, 400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503 }

-- a JSON text: mostly well-formed with the API's field names, sometimes cut,
-- spliced or not JSON at all
local function json_text(rand, depth)
  depth = depth or 0
  local r = rand(depth > 3 and 6 or 9)
  if r == 1 then return "null" end
  if r == 2 then return rand(2) == 1 and "true" or "false" end
  if r == 3 then
    local nums = { "0", "-0", "1", "0.5", "1e999", "-1e999", "9007199254740993", "1E2", "-12" }
    return nums[rand(#nums)]
  end
  if r <= 5 then return json.quote(random_string(rand)) end
  if r == 6 then return json.quote(INTERESTING_STRINGS[rand(#INTERESTING_STRINGS)]) end
  if r == 7 then
    local items = {}
    for i = 1, rand(4) - 1 do items[i] = json_text(rand, depth + 1) end
    return "[" .. table.concat(items, ",") .. "]"
  end
  local fields = {}
  for i = 1, rand(5) - 1 do
    fields[i] = json.quote(KEYS[rand(#KEYS)]) .. ":" .. json_text(rand, depth + 1)
  end
  return "{" .. table.concat(fields, ",") .. "}"
end

local function response_body(rand)
  local r = rand(10)
  if r == 1 then return random_bytes(rand, 50) end
  if r == 2 then return "" end
  if r == 3 then return "<html><body><h1>502 Bad Gateway</h1></body></html>" end
  local text = json_text(rand)
  if r == 4 then text = text:sub(1, rand(#text + 1) - 1) end
  if r == 5 then text = "{" .. json.quote(KEYS[rand(#KEYS)]) .. ":" .. text .. "}" end
  if r == 6 then
    text = '{"job":{"jobId":' .. json_text(rand, 2) .. ',"status":' .. json_text(rand, 2)
      .. ',"progress":' .. json_text(rand, 2) .. ',"metadata":{"assetIds":' .. json_text(rand, 2)
      .. '}}}'
  end
  if r == 7 then
    text = '{"assets":[{"id":' .. json_text(rand, 2) .. ',"url":' .. json_text(rand, 2)
      .. ',"mimeType":' .. json_text(rand, 2) .. '}],"nextPaginationToken":' .. json_text(rand, 3)
      .. '}'
  end
  return text
end

-- Known and reported, not fixed here (lua/scenario/job.lua is not this
-- spec's to change): a Job trusts the shape of the job record it is given.
--  - `jobId`/`id` or `status` of another type: a table status breaks its log
--    line (string.format %q), a boolean or table id the URL of its next poll;
--  - a `job` object without an id (from a generation): the Job's next poll
--    builds "/jobs/" .. nil;
--  - `job` that is not an object (true, 5, null): Job:refresh indexes it.
-- The generator does not send those shapes; everything else goes.
local function job_shapes_known_bad(body)
  local ok, t = pcall(json.decode, body)
  if not ok or type(t) ~= "table" then return false end
  local job = t.job
  if job ~= nil and type(job) ~= "table" and type(job) ~= "string" then
    return true
  end
  if type(job) == "table" then
    local id = job.jobId or job.id
    if type(id) ~= "string" and type(id) ~= "number" then return true end
  end
  for _, rec in ipairs { t, type(job) == "table" and job or nil } do
    for _, k in ipairs { "jobId", "id" } do
      local v = rec[k]
      if v ~= nil and v ~= json.null and type(v) ~= "string" and type(v) ~= "number" then return true end
    end
    if rec.status ~= nil and type(rec.status) ~= "string" then return true end
  end
  return false
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

describe("fuzz: answers", function()
  local pipe, pid, url, dir, client

  setup(function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(ECHO)
    f:close()
    pipe = io.popen("exec " .. require("support.native") .. "python3 " .. script)
    local port
    port, pid = pipe:read("*l"):match("^LISTENING (%d+) (%d+)")
    os.remove(script)
    url = "http://127.0.0.1:" .. port
    dir = os.tmpname()
    os.remove(dir)
    client = scenario.new { base_url = url, api_key = "k", api_secret = "s", max_retries = 0,
      timeout = 5, poll_interval = 0.01, log = function() end }
  end)
  teardown(function()
    os.execute("kill " .. pid)
    pipe:close()
    os.execute("rm -rf " .. dir)
  end)

  local function queue(responses)
    local lines = {}
    for i, r in ipairs(responses) do lines[i] = r[1] .. " " .. r[2] .. " " .. hex(r[3]) end
    local req = core.request { url = url .. "/__queue", method = "POST",
      body = table.concat(lines, "\n"), timeout = 5 }
    require("scenario.loop").await(req)
    assert(req:result())
  end

  -- each call, as an application makes it; every raised error must be a
  -- scenario.Error (pagers raise the error of a failed page)
  local CALLS = {
    function() return client.assets:list { pageSize = 5 } end,
    function()
      local n = 0
      for _ in client.assets:each { pageSize = 2, limit = 5 } do n = n + 1 end
      return n
    end,
    function() return client.generate:txt2img { modelId = "m", prompt = "p" } end,
    function() return client.generate:txt2img({ modelId = "m", prompt = "p" }, { dry_run = true }) end,
    function() return client.jobs:get("job_1") end,
    function() return client.jobs:job("job_1"):refresh() end,
    function() return client.jobs:job("job_1"):cancel() end,
    function()
      local job, err = client.generate:txt2img { modelId = "m", prompt = "p" }
      if not job then return nil, err end
      -- an answer without a job object comes back as it is (reported)
      if getmetatable(job) ~= Job then return job end
      local ok, werr = job:wait { timeout = 0.05, on_progress = function() end }
      if not ok then return nil, werr end
      return job:download(dir)
    end,
    function() return client.jobs:job("job_1"):assets() end,
    function() return client.assets:download("asset_1", dir .. "/one.bin") end,
    function() return client:call("GetModels", {}) end,
    function() return client:request("DELETE", "/assets", { body = { assetIds = { "a" } } }) end,
  }

  it("every call gives a result or a scenario.Error, whatever the API answers", function()
    local rand = generator(SEED + 6)
    for case = 1, cases(4000) do
      local responses = {}
      for i = 1, rand(4) do
        local body = response_body(rand)
        while job_shapes_known_bad(body) do body = response_body(rand) end
        local ct = rand(6) == 1 and "text/html" or "application/json"
        responses[i] = { STATUSES[rand(#STATUSES)], ct, body }
      end
      queue(responses)
      local which = rand(#CALLS)
      local ok, res, err = pcall(CALLS[which])
      local why = string.format("seed %d case %d (call %d), answers %s", SEED + 6, case, which,
        show(responses))
      if ok then
        assert(res ~= nil or errors.is(err), why .. ": gave " .. show(res) .. ", " .. show(err))
      else
        assert(errors.is(res), why .. ": raised " .. tostring(res))
      end
      -- what this call did not consume must not reach the next one
      local req = core.request { url = url .. "/__clear", method = "POST", timeout = 5 }
      require("scenario.loop").await(req)
      assert(req:result())
    end
  end)

  it("the simulator's malformed answers give a scenario.Error on every call", function()
    local sim = sim_mod.start { job_duration = 0.1 }
    local c = sim:client { max_retries = 0, timeout = 2 }
    local faults = { "invalid_json", "truncated", "empty", "html", "reset_body", "reset" }
    local calls = {
      function(h) return c.assets:list({ pageSize = 2 }, h) end,
      function(h) return c.generate:txt2img({ modelId = "m", prompt = "p" }, h) end,
      function(h) return c.jobs:get("job_nope", {}, h) end,
      function(h) return c:call("GetModels", {}, h) end,
      function(h) return c.assets:get_bulk({ assetIds = { "a" } }, h) end,
    }
    for _, fault in ipairs(faults) do
      for i, call in ipairs(calls) do
        local ok, res, err = pcall(call, { headers = { ["X-Sim-Fault"] = fault } })
        assert(ok, fault .. " / call " .. i .. " raised " .. tostring(res))
        assert(res == nil and errors.is(err), fault .. " / call " .. i .. ": " .. show(res))
      end
    end
    sim:stop()
  end)
end)
