-- The C core on its own: timers, step semantics, request objects.
local core = require "scenario.core"
local sim_mod = require "support.sim"

local wait = require "support.finish"

describe("scenario.core", function()
  local sim
  setup(function() sim = sim_mod.start() end)
  teardown(function() sim:stop() end)

  it("fires timers in due order and reports them from step", function()
    local late, early = core.timer(0.12), core.timer(0.02)
    local order = {}
    while #order < 2 do
      for _, h in ipairs(core.step(500)) do order[#order + 1] = h end
    end
    assert.are.equal(early, order[1])
    assert.are.equal(late, order[2])
    assert.is_true(late:done())
  end)

  it("step(0) returns at once while a slow request is in flight", function()
    local req = core.request { url = sim.url .. "/_files/none.png", timeout = 5,
      headers = { "X-Sim-Fault: delay_headers=0.5" } }
    local t0 = core.now()
    local list = core.step(0)
    assert.is_true(core.now() - t0 < 0.05)
    assert.are.equal(0, #list)
    assert.is_false(req:done())
    t0 = core.now()
    core.step(50)
    local spent = core.now() - t0
    assert.is_true(spent < 0.2, "step(50) took " .. spent)
    req:cancel()
    assert.is_true(req:done())
  end)

  it("reports a cancelled request as canceled and leaves nothing pending", function()
    local before = core.pending()
    local req = core.request { url = sim.url .. "/jobs/x", timeout = 5,
      headers = { "X-Sim-Fault: delay_headers=1" } }
    assert.are.equal(before + 1, core.pending())
    req:cancel()
    local res, err = req:result()
    assert.is_nil(res)
    assert.are.equal("canceled", err.kind)
    assert.are.equal(before, core.pending())
    local reported = false
    for _, h in ipairs(core.step(0)) do reported = reported or h == req end
    assert.is_true(reported)
  end)

  it("returns status, lower-cased headers and body", function()
    local res = assert(wait(core.request { url = sim.url .. "/jobs/nope", timeout = 5 }))
    assert.are.equal(401, res.status)
    assert.matches("application/json", res.headers["content-type"])
    assert.is_string(res.headers["x-request-id"])
    assert.matches("message", res.body)
    assert.are.equal(1, res.attempts)
  end)

  it("makes headers from raw_headers on first read, and finds one with core.header", function()
    local res = assert(wait(core.request { url = sim.url .. "/jobs/nope", timeout = 5 }))
    assert.matches("^HTTP/1%.[01] 401", res.raw_headers)
    assert.is_nil(rawget(res, "headers"))           -- not made until read
    local h = res.headers
    assert.are.equal(h, rawget(res, "headers"))     -- made once, then kept
    local id = h["x-request-id"]
    assert.is_string(id)
    assert.are.equal(id, core.header(res.raw_headers, "X-Request-ID"))
    local n = 0
    for name in pairs(h) do
      n = n + 1
      assert.are.equal(name:lower(), name)
      assert.are.equal(h[name], core.header(res.raw_headers, name))
    end
    assert.is_true(n >= 3)
    assert.is_nil(res.nothing_here)
  end)

  it("a response's __index called by hand on something else than a table raises", function()
    -- run in a child interpreter: a crash would take busted down with it
    local interp = dofile("spec/support/interp.lua")
    local script = "local core = require 'scenario.core'; " ..
      "local mt = debug.getregistry()['scenario.core.response']; " ..
      "assert(type(mt) == 'table'); " ..
      "print(pcall(mt.__index, 'not a table', 'headers'))"
    local cmd = ("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./%s/lua/?.so;;' %s -e %q 2>&1; echo rc=$?")
      :format(interp.build, interp.name, script)
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.matches("^false\t.*rc=0", out)
  end)

  it("core.header: the first name present, a repeated header's last value, trimmed", function()
    local raw = "HTTP/1.1 200 OK\r\nServer: x\r\nX-Amzn-RequestId: \tabc \r\n" ..
      "x-request-id:  r1\r\nX-Request-Id: r2\r\nEmpty:\r\n\r\n"
    assert.are.equal("r2", core.header(raw, "x-request-id", "x-amzn-requestid"))
    assert.are.equal("abc", core.header(raw, "nope", "X-AMZN-REQUESTID", "x-request-id"))
    assert.are.equal("", core.header(raw, "empty"))
    assert.is_nil(core.header(raw, "x-request"))     -- a prefix is not the name
    assert.is_nil(core.header(raw, "HTTP/1.1 200 OK"))
    assert.is_nil(core.header("", "server"))
    assert.are.equal("x", core.header("Server: x", "server"))  -- no line break at the end
    assert.has_error(function() core.header(raw, "a", "b", "c", "d", "e", "f", "g", "h", "i") end)
  end)

  it("never shows a query string in tostring", function()
    local req = core.request { url = sim.url .. "/_files/a.png?X-Signature=supersecret", timeout = 5 }
    local s = tostring(req)
    assert.matches("GET 127.0.0.1:%d+/_files/a.png", s)
    assert.is_nil(s:find("supersecret", 1, true))
    wait(req)
    assert.matches("scenario.core.timer", tostring(core.timer(0)))
    core.step(0)
  end)

  it("an error raised by on_data aborts the transfer and comes back with it", function()
    local calls = 0
    local req = core.request { url = sim.url .. "/_sim/stats", timeout = 5,
      on_data = function() calls = calls + 1; error({ mine = true }) end }
    local res, err = wait(req)
    assert.is_nil(res)
    assert.are.equal("callback", err.kind)
    assert.is_true(err.value.mine)
    assert.are.equal(1, calls)
    assert.are.equal(1, err.attempts)
  end)

  it("streams a 2xx body to on_data instead of buffering it", function()
    local chunks = {}
    local res = assert(wait(core.request { url = sim.url .. "/_sim/stats", timeout = 5,
      on_data = function(c) chunks[#chunks + 1] = c end }))
    assert.are.equal(200, res.status)
    assert.are.equal("", res.body)
    assert.matches('"total"', table.concat(chunks))
  end)

  -- A request is a guard: its __close cancels it. loop.with closes it on
  -- every version; Lua 5.4's `<close>` (syntax the others do not parse, so
  -- that part is compiled with load) calls the same metamethod.
  it("closes a running request with its __close (loop.with; on Lua 5.4 also <close>)", function()
    local loop = require "scenario.loop"
    local function slow()
      return core.request { url = sim.url .. "/jobs/x", timeout = 5,
        headers = { "X-Sim-Fault: delay_headers=1" } }
    end
    local before = core.pending()
    local req = slow()
    loop.with(req, function()
      assert.is_false(req:done())
      assert.are.equal(before + 1, core.pending())
    end)
    assert.is_true(req:done())
    assert.are.equal(before, core.pending())
    core.step(0)
    if _VERSION == "Lua 5.4" then
      local closed = assert(load([[
        local slow, assert = ...
        local seen
        do
          local req <close> = slow()
          assert.is_false(req:done())
          seen = req
        end
        return seen
      ]]))(slow, assert)
      assert.is_true(closed:done())
      assert.are.equal(before, core.pending())
      core.step(0)
    end
  end)

  describe("retry policy numbers", function()
    it("backs off min(0.5 * 2^n, 8) times the jitter", function()
      assert.are.equal(0.5, core.backoff(0, 1))
      assert.are.equal(1.0, core.backoff(1, 1))
      assert.are.equal(4.0, core.backoff(3, 1))
      assert.are.equal(8.0, core.backoff(10, 1))
      assert.are.equal(0.375, core.backoff(0, 0.75))
      assert.are.equal(0.375, core.backoff(0, 0.1)) -- jitter clamped to [0.75, 1]
    end)

    it("parses Retry-After as seconds or an HTTP date, up to 60 s", function()
      assert.are.equal(1, core.retry_after("1"))
      assert.are.equal(60, core.retry_after(" 60 "))
      assert.is_nil(core.retry_after("61"))
      assert.is_nil(core.retry_after("0"))
      assert.is_nil(core.retry_after("soon"))
      assert.is_nil(core.retry_after(""))
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 10)
      local secs = core.retry_after(date)
      assert.is_true(secs > 8 and secs <= 11, tostring(secs))
      assert.is_nil(core.retry_after(os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 3600)))
    end)
  end)
end)
