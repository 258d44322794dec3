-- Hostile servers (issue 15): spec/support/hostile_server.py answers with
-- endless bodies, a 2 GB Content-Length, a gzip bomb, oversized headers,
-- slowloris, redirect loops and escapes, echoed credentials and broken JSON.
-- Each case runs one call in a child interpreter (the one busted runs on,
-- with this build of the core) under max_response_bytes = 8 MiB and short
-- timeouts, and reports its outcome and its peak RSS (VmHWM): every case
-- must end in the documented result or scenario.Error within its timeout,
-- with the process under the cap + 64 MiB, and no error may show the
-- credentials the server echoes.
local scenario = require "scenario"
local core = require "scenario.core"
local util = require "scenario.util"
local files = require "support.files"
local sh = require "support.sh"
local lua_cmd = require "support.lua_cmd"
local native = require "support.native"

local MiB = 1024 * 1024
local CAP = 8 * MiB
local RSS_LIMIT_KIB = (CAP + 64 * MiB) / 1024
local TIMEOUT = 2
local SLACK = 2     -- seconds a child may take past its timeout (start-up, a loaded machine)
local KEY, SECRET = "hostile-key-7f3a", "hostile-secret-9c2e"
local BASIC = util.base64(KEY .. ":" .. SECRET)

-- The child's program: CASE is replaced by the body of a function that
-- makes one call and returns its two results. Printed: a Lua table literal.
local CHILD = [==[
local scenario = require "scenario"
local core = require "scenario.core"
local download = require "scenario.download"
local BASE, OTHER, DIR = arg[1], arg[2], arg[3]
local CAP, TIMEOUT = tonumber(arg[4]), tonumber(arg[5])
local client = scenario.new { base_url = BASE, api_key = "KEY", api_secret = "SECRET",
  max_response_bytes = CAP, timeout = TIMEOUT, max_retries = 2, log = false }

local read = require("support.files").read

-- every key and string of a table, for the parent to search
local function flat(v, out)
  out = out or {}
  if type(v) == "table" then
    for k, x in pairs(v) do flat(k, out); flat(x, out) end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

local started = core.now()
local ok, a, b = pcall(function() CASE end)
local elapsed = core.now() - started
local out = {}
local function put(k, v)
  if v == nil then return end
  if type(v) == "string" then v = string.format("%q", v) else v = tostring(v) end
  out[#out + 1] = k .. " = " .. v
end
if not ok then
  put("raised", tostring(a))
elseif a then
  put("ok", true)
  if type(a) == "table" then put("result", table.concat(flat(a), "\n")) end
  if type(a) == "string" then put("file", read(a)) end
else
  put("kind", b.kind)
  put("message", b.message)
  put("text", tostring(b))
  put("status", b.status)
  put("attempts", b.attempts)
  put("retryable", b.retryable)
  put("is_error", scenario.is_error(b))
  put("body", table.concat(flat(b.body), "\n"))
end
put("elapsed", elapsed)
local ls = io.popen("ls -A '" .. DIR .. "'")
put("files", ls:read("*a"))
ls:close()
for line in io.lines("/proc/self/status") do
  local kib = line:match("^VmHWM:%s*(%d+)")
  if kib then put("hwm", tonumber(kib)) end
end
io.write("return { " .. table.concat(out, ",\n") .. " }\n")
]==]

local load_chunk = rawget(_G, "loadstring") or load

describe("a hostile server", function()
  local pipe, port, other, pid, base, script

  setup(function()
    pipe = io.popen("exec " .. native .. "python3 spec/support/hostile_server.py", "r")
    local line = pipe:read("*l")
    port, other, pid = (line or ""):match("^LISTENING (%d+) (%d+) (%d+)")
    assert(port, "the hostile server did not start: " .. tostring(line))
    base = "http://127.0.0.1:" .. port
    script = os.tmpname()
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if pipe then pipe:close() end
    if script then os.remove(script) end
  end)

  -- Runs `case` (the body of a function returning res, err) in a child
  -- interpreter (DIR: an empty directory it may write to, removed after);
  -- returns its report, after the checks every case shares.
  local function child(case, cap)
    local dir = files.tmpdir()
    local program = CHILD:gsub("CASE", function() return case end)
      :gsub("\"KEY\"", function() return string.format("%q", KEY) end)
      :gsub("\"SECRET\"", function() return string.format("%q", SECRET) end)
    files.write(script, program)
    local ok, out = sh(lua_cmd .. " " .. script .. " " .. base .. " " .. other .. " " .. dir
      .. " " .. (cap or CAP) .. " " .. TIMEOUT .. " 2>&1")
    assert(ok, "the child failed:\n" .. out)
    local chunk = assert(load_chunk(out), "the child's report:\n" .. out)
    local report = chunk()
    os.execute("rm -rf " .. files.quote(dir))
    assert(report.raised == nil, "the call raised: " .. tostring(report.raised))
    -- the process never grew past the cap and some room
    assert(report.hwm and report.hwm < RSS_LIMIT_KIB, "peak RSS " .. tostring(report.hwm) .. " KiB")
    assert(report.elapsed < TIMEOUT + SLACK, "took " .. report.elapsed .. " s")
    return report
  end

  local function api(route) return string.format("return client:request('GET', '/%s')", route) end

  local function no_secret(r)
    for _, field in ipairs { "message", "text", "body", "result", "file" } do
      local s = r[field] or ""
      for _, secret in ipairs { KEY, SECRET, BASIC } do
        assert(not s:find(secret, 1, true), field .. " shows a secret: " .. s)
      end
    end
  end

  local function refused_over_cap(r)
    assert.is_nil(r.ok)
    assert.is_true(r.is_error)
    assert.are.equal("api", r.kind)
    assert.matches("larger than max_response_bytes (8388608 bytes)", r.message, 1, true)
    assert.matches("max_response_bytes = <bytes>", r.message, 1, true)
    assert.are.equal(1, r.attempts)        -- max_retries = 2, yet never retried
    assert.is_false(r.retryable)
  end

  describe("bodies held in memory stop at max_response_bytes", function()
    it("an endless chunked 200", function()
      local r = child(api("endless-chunked"))
      refused_over_cap(r)
      assert.are.equal(200, r.status)
    end)

    it("a 200 announcing 2 GB", function()
      refused_over_cap(child(api("huge-length")))
    end)

    it("a gzip bomb (1 GiB of zeros, decoded bytes counted)", function()
      refused_over_cap(child(api("gzip-bomb")))
    end)

    it("an endless error body (500)", function()
      local r = child(api("endless-error"))
      refused_over_cap(r)
      assert.are.equal(500, r.status)
    end)

    it("a 1 MiB answer passes under the client's cap and fails under a per-call one", function()
      local r = child(api("assets"))
      assert.is_true(r.ok)
      assert.matches("asset_000999", r.result, 1, true)
      r = child("return client.assets:list({}, { max_response_bytes = 65536 })")
      assert.are.equal("api", r.kind)
      assert.matches("max_response_bytes (65536 bytes)", r.message, 1, true)
      assert.are.equal("GetAssets", r.message and r.text:match(" in (%w+)"))
      r = child(api("assets"), 100000)                -- the client's own option
      assert.matches("max_response_bytes (100000 bytes)", r.message, 1, true)
    end)
  end)

  describe("headers", function()
    it("a 1 MB header line is the server's fault", function()
      local r = child(api("big-header"))
      assert.are.equal("api", r.kind)
      assert.matches("the server's response headers were too large", r.message, 1, true)
      assert.are.equal(1, r.attempts)
    end)

    it("20,000 headers stop at 256 KiB of header block", function()
      local r = child(api("many-headers"))
      assert.are.equal("api", r.kind)
      assert.matches("the server's response headers were too large", r.message, 1, true)
      assert.matches("262144 bytes", r.message, 1, true)
    end)

    it("a header repeated 5,000 times comes joined, in order", function()
      local r = child([[
        local body, res = client:request('GET', '/repeated-headers')
        if not body then return nil, res end
        return { joined = res.headers['x-rep'] .. '|' .. res.headers['x-one'] }]])
      local values = {}
      for i = 0, 4999 do values[#values + 1] = "v" .. i end
      local got = r.result:match("v0, .*")
      assert.is_true(got == table.concat(values, ", ") .. "|1", "joined: " .. tostring(got):sub(1, 200))
    end)
  end)

  describe("slowloris (one byte a second)", function()
    it("headers end in a timeout", function()
      local r = child(api("slow-headers"))
      assert.are.equal("timeout", r.kind)
    end)

    it("a body ends in a timeout", function()
      local r = child(api("slow-body"))
      assert.are.equal("timeout", r.kind)
    end)
  end)

  describe("answers that are not what they claim", function()
    it("a non-JSON 200 is an api error", function()
      local r = child(api("not-json"))
      assert.are.equal("api", r.kind)
      assert.matches("invalid JSON", r.message, 1, true)
    end)

    it("invalid UTF-8 inside JSON strings is kept as bytes (no error, no crash)", function()
      local r = child(api("bad-utf8"))
      assert.is_true(r.ok)
      assert.matches("bad \255\254 \237\160\128 end", r.result, 1, true)
    end)

    it("an error body echoing Authorization shows no secret in the error", function()
      local r = child(api("echo-auth-error"))
      assert.are.equal("auth", r.kind)
      assert.are.equal(401, r.status)
      assert.matches("[REDACTED]", r.message, 1, true)
      assert.matches("[REDACTED]", r.body, 1, true)   -- the server did echo it
      no_secret(r)
    end)
  end)

  describe("redirects", function()
    it("API calls do not follow them", function()
      local r = child(api("redirect-loop"))
      assert.are.equal("api", r.kind)
      assert.are.equal(302, r.status)
    end)

    it("a download refuses a redirect loop", function()
      local r = child("return download.url(client, BASE .. '/redirect-loop', DIR .. '/f.bin', { timeout = TIMEOUT })")
      assert.are.equal("api", r.kind)
      assert.matches("redirect was refused", r.message, 1, true)
      assert.are.equal("", r.files)
    end)

    it("a download refuses a redirect to file://", function()
      local r = child("return download.url(client, BASE .. '/redirect-file', DIR .. '/f.bin', { timeout = TIMEOUT })")
      assert.are.equal("api", r.kind)
      assert.matches("redirect was refused", r.message, 1, true)
      assert.matches("file", r.message, 1, true)
      assert.are.equal("", r.files)
    end)

    it("a redirect to another host gets no Authorization", function()
      -- the same origin receives it (the server echoes it into the file) ...
      local r = child("return download.url(client, BASE .. '/echo-auth', DIR .. '/f.bin', { timeout = TIMEOUT })")
      assert.are.equal("Basic " .. BASIC, r.file)
      -- ... another port, through a redirect, does not
      r = child("return download.url(client, BASE .. '/redirect-other', DIR .. '/f.bin', { timeout = TIMEOUT })")
      assert.is_true(r.ok)
      assert.are.equal("", r.file)
    end)
  end)

  describe("downloads stop at the size announced for the file", function()
    local function dl(route, size)
      return string.format("return client.assets:download({ id = 'a', url = BASE .. '/%s', "
        .. "properties = { size = %d } }, DIR .. '/a.png', { timeout = TIMEOUT })", route, size)
    end

    local function refused_past_size(r)
      assert.are.equal("api", r.kind)
      assert.matches("larger than the 100000 bytes announced for it", r.message, 1, true)
      assert.is_false(r.retryable)
      assert.are.equal(1, r.attempts)
      assert.are.equal("", r.files)            -- neither the file nor its temporary
    end

    it("an endless body", function()
      refused_past_size(child(dl("endless-chunked", 100000)))
    end)

    it("a 2 GB Content-Length: stopped once the bytes pass the size", function()
      refused_past_size(child(dl("huge-length", 100000)))
    end)

    it("a gzip bomb: the bytes as served, never decoded", function()
      refused_past_size(child(dl("gzip-bomb", 100000)))
    end)

    it("an endless error body stops at max_response_bytes", function()
      local r = child(dl("endless-error", 100000))
      assert.are.equal("api", r.kind)
      assert.are.equal(500, r.status)
      assert.matches("larger than max_response_bytes (8388608 bytes)", r.message, 1, true)
      assert.are.equal("", r.files)
    end)
  end)
end)

describe("max_response_bytes", function()
  it("defaults to 64 MiB", function()
    assert.are.equal(64 * MiB, scenario.new({ base_url = "http://127.0.0.1:9" }).max_response_bytes)
  end)

  it("refuses a value that is not a whole number of bytes", function()
    for _, v in ipairs { 0, -1, 1.5, 2 ^ 41, "big" } do
      local ok, err = pcall(scenario.new, { base_url = "http://127.0.0.1:9", max_response_bytes = v })
      assert.is_false(ok)
      assert.are.equal("validation", err.kind)
      assert.matches("max_response_bytes", err.message, 1, true)
    end
    local client = scenario.new { base_url = "http://127.0.0.1:9" }
    local body, err = client:request("GET", "/x", { max_response_bytes = 0 })
    assert.is_nil(body)
    assert.are.equal("validation", err.kind)
    assert.matches("options.max_response_bytes: must be a whole number from 1", err.message, 1, true)
    body, err = client.assets:list({}, { max_response_bytes = "x" })
    assert.is_nil(body)
    assert.matches("options.max_response_bytes", err.message, 1, true)
  end)
end)

describe("numbers in the core's messages", function()
  it("an upload offset past the end of the file is written as an integer", function()
    local path = os.tmpname()
    files.write(path, ("x"):rep(100))
    local ok, err = pcall(core.request, { url = "http://127.0.0.1:9/x", method = "PUT",
      upload_file = path, upload_offset = 24 * MiB })
    assert.is_false(ok)
    assert.matches("upload_offset 25165824 is outside", err, 1, true)
    ok, err = pcall(core.request, { url = "http://127.0.0.1:9/x", method = "PUT",
      upload_file = path, upload_offset = 0, upload_length = 2 ^ 24 })
    os.remove(path)
    assert.is_false(ok)
    assert.matches("upload_length 16777216 goes past the end", err, 1, true)
  end)

  it("an upload option of a float type is written as an integer", function()
    local client = scenario.new { base_url = "http://127.0.0.1:9" }
    local up, err = client.uploads:file("x.png", { part_size = 4 * 2 ^ 20 })   -- a float on 5.4
    assert.is_nil(up)
    assert.are.equal("validation", err.kind)
    assert.matches("got 4194304)", err.message, 1, true)
    up, err = client.uploads:file("x.png", { concurrency = 2.5 })
    assert.is_nil(up)
    assert.matches("got 2.5)", err.message, 1, true)
  end)
end)
