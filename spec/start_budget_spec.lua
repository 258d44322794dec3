-- The start budget of a step (csrc/loop.c): an attempt waits in a FIFO until
-- a step lets it into the multi handle, a few per step(0), all of them in a
-- step that may wait. What is checked here is behaviour, never time: how many
-- a step(0) admits, in which order, that everything completes, and what a
-- queued request does when it is cancelled, times out, retries or is dropped.
local core = require "scenario.core"
local loop = require "scenario.loop"
local lua_cmd = require "support.lua_cmd"

describe("the step's start budget", function()
  local pipe, port, pid, base, was_threaded
  local DEFAULT = 1

  setup(function()
    pipe = io.popen("exec " .. require("support.native") .. "python3 spec/support/seen_server.py", "r")
    local line = pipe:read("*l")
    port, pid = (line or ""):match("^LISTENING (%d+) (%d+)")
    assert(port, "seen server did not start: " .. tostring(line))
    base = "http://127.0.0.1:" .. port
    -- the budget of a step that starts the transfers itself: without the
    -- I/O thread, also in a run with SCENARIO_IO_THREAD=1
    was_threaded = core.io_thread(false)
  end)

  teardown(function()
    os.execute("kill " .. pid)
    pipe:close()
    core.start_budget(DEFAULT)
    core.io_thread(was_threaded)
  end)

  -- the paths the server was asked so far (a step that waits: admitted at once)
  local function seen()
    local req = core.request { url = base .. "/seen", timeout = 10 }
    while not req:done() do core.step(100) end
    local res = assert(req:result())
    local paths = {}
    for p in res.body:gmatch("[^\n]+") do paths[p] = true end
    return paths
  end

  local function requests(prefix, n, opts)
    local reqs = {}
    for i = 1, n do
      local o = { url = ("%s/%s/%d"):format(base, prefix, i), timeout = 30 }
      for k, v in pairs(opts or {}) do o[k] = v end
      reqs[i] = core.request(o)
    end
    return reqs
  end

  local function all_done(reqs)
    for _, r in ipairs(reqs) do
      if not r:done() then return false end
    end
    return true
  end

  local function is_queued(req) return tostring(req):find(": queued,", 1, true) ~= nil end

  it("lets at most start_budget transfers in per step(0), oldest first, and all complete", function()
    assert.are.equal(DEFAULT, core.start_budget(3))   -- the default, then 3
    finally(function() core.start_budget(DEFAULT) end)
    local N = 10
    local reqs = requests("fifo", N)
    assert.are.equal(N, core.queued())                 -- nothing enters before a step
    local _, ever0 = core.admitted()
    local total, steps = 0, 0
    while not all_done(reqs) do
      core.step(0)
      steps = steps + 1
      local now, ever = core.admitted()
      assert.is_true(now <= 3, "a step(0) admitted " .. now)
      assert.are.equal(total + now, ever - ever0)
      total = total + now
      -- FIFO: the first `total` requests have left the queue, the rest wait
      for i, r in ipairs(reqs) do
        assert.are.equal(i > total, is_queued(r), "request " .. i .. " after " .. total .. " admitted")
      end
    end
    assert.are.equal(N, total)
    assert.is_true(steps >= math.ceil(N / 3))
    assert.are.equal(0, core.queued())
    for i, r in ipairs(reqs) do
      local res, err = r:result()
      assert.is_truthy(res, err and err.message)
      assert.are.equal(200, res.status)
      assert.are.equal("/fifo/" .. i, res.body)
      assert.are.equal(1, res.attempts)
    end
  end)

  it("lets bulk transfers in after every other waiting attempt, each class oldest first", function()
    core.start_budget(1)
    finally(function() core.start_budget(DEFAULT) end)
    local bulk = requests("bulk", 3, { bulk = true })
    local calls = requests("call", 2)
    local order, started = {}, {}
    local function note(list, name)
      for i, r in ipairs(list) do
        if not is_queued(r) and not started[name .. i] then
          started[name .. i] = true
          order[#order + 1] = name .. i
        end
      end
    end
    while not (all_done(bulk) and all_done(calls)) do
      core.step(0)
      note(bulk, "bulk")
      note(calls, "call")
    end
    -- one admitted per step(0): the calls, asked for last, start first
    assert.are.same({ "call1", "call2", "bulk1", "bulk2", "bulk3" }, order)
    for i, r in ipairs(bulk) do
      assert.are.equal("/bulk/" .. i, assert(r:result()).body)
    end
  end)

  it("a queued request that is cancelled never starts: the server never sees it", function()
    core.start_budget(1)
    finally(function() core.start_budget(DEFAULT) end)
    local reqs = requests("cancel", 4, { method = "POST", body = "{}", unsafe = true })
    reqs[4]:cancel()                                   -- before any step
    core.step(0)                                       -- 1 admitted; 2 and 3 queued
    assert.is_false(is_queued(reqs[1]))
    assert.is_true(is_queued(reqs[2]))
    reqs[2]:cancel()                                   -- after a step, still queued
    while not all_done(reqs) do core.step(0) end
    for _, i in ipairs { 2, 4 } do
      local res, err = reqs[i]:result()
      assert.is_nil(res)
      assert.are.equal("canceled", err.kind)
      assert.is_false(err.sent)
      assert.are.equal(0, err.attempts)
    end
    assert.are.equal(200, assert(reqs[1]:result()).status)
    assert.are.equal(200, assert(reqs[3]:result()).status)
    local paths = seen()
    assert.is_true(paths["/cancel/1"] and paths["/cancel/3"])
    assert.is_nil(paths["/cancel/2"])
    assert.is_nil(paths["/cancel/4"])
    assert.are.equal(0, core.queued())
  end)

  it("a queued request whose deadline passes fails with a timeout, unsent, without a start slot", function()
    core.start_budget(1)
    finally(function() core.start_budget(DEFAULT) end)
    local first = requests("deadline", 2)
    local late = core.request { url = base .. "/deadline/late", timeout = 0.05 }
    core.step(0)                                       -- first[1] in; first[2], late wait
    assert.is_true(is_queued(late))
    local until_ = core.now() + 0.2                    -- the deadline passes, no step runs
    while core.now() < until_ do end
    core.step(0)                                       -- first[2] takes the slot; late expires
    assert.is_true(late:done())
    local res, err = late:result()
    assert.is_nil(res)
    assert.are.equal("timeout", err.kind)
    assert.is_false(err.sent)
    assert.are.equal(0, err.attempts)
    assert.matches("waited for its turn", err.message)
    while not all_done(first) do core.step(0) end
    assert.are.equal(200, assert(first[1]:result()).status)
    assert.are.equal(200, assert(first[2]:result()).status)
    assert.is_nil(seen()["/deadline/late"])
  end)

  it("a step that may wait admits every queued transfer at once", function()
    core.start_budget(1)
    finally(function() core.start_budget(DEFAULT) end)
    local reqs = requests("wait", 6)
    core.step(1)
    assert.are.equal(6, (core.admitted()))
    assert.are.equal(0, core.queued())
    while not all_done(reqs) do core.step(100) end
    for _, r in ipairs(reqs) do assert.are.equal(200, assert(r:result()).status) end
  end)

  it("scenario.run and the blocking calls admit everything in their first step", function()
    core.start_budget(1)
    local step = core.step
    local admitted = {}
    finally(function()
      core.step = step
      core.start_budget(DEFAULT)
    end)
    core.step = function(ms)                           -- records what each step admitted
      local finished = step(ms)
      admitted[#admitted + 1] = { ms = ms, n = (core.admitted()) }
      return finished
    end
    local results = {}
    loop.spawn(function()
      local reqs = requests("run", 5)
      for i, r in ipairs(reqs) do
        loop.await(r)
        results[i] = assert(r:result()).status
      end
    end)
    local function first_admission()
      for _, a in ipairs(admitted) do
        if a.n > 0 then return a end
      end
    end
    loop.run()
    assert.same({ 200, 200, 200, 200, 200 }, results)
    local a = first_admission()
    assert.is_true(a.ms > 0)
    assert.are.equal(5, a.n)
    -- a blocking call outside any coroutine
    admitted = {}
    local reqs = requests("block", 4)
    loop.await(reqs[4])
    a = first_admission()
    assert.is_true(a.ms > 0)
    assert.are.equal(4, a.n)
    assert.are.equal(200, assert(reqs[4]:result()).status)
  end)

  it("a retry waits in the queue like a first attempt", function()
    core.start_budget(1)
    finally(function() core.start_budget(DEFAULT) end)
    local _, ever0 = core.admitted()
    local req = core.request { url = base .. "/fail-once/retry", timeout = 30, max_retries = 2 }
    local queued_again = false
    while not req:done() do
      core.step(0)
      queued_again = queued_again or (is_queued(req) and (select(2, core.admitted())) > ever0)
    end
    local res = assert(req:result())
    assert.are.equal(200, res.status)
    assert.are.equal(2, res.attempts)
    assert.is_true(queued_again, "the retry went through the queue")
    assert.are.equal(2, select(2, core.admitted()) - ever0)
  end)

  it("refuses a budget that is not a whole number >= 0", function()
    assert.has_error(function() core.start_budget(-1) end)
    assert.has_error(function() core.start_budget(1.5) end)
    assert.are.equal(DEFAULT, core.start_budget(0))    -- 0: no limit
    finally(function() core.start_budget(DEFAULT) end)
    local reqs = requests("nolimit", 5)
    core.step(0)
    assert.are.equal(5, (core.admitted()))
    while not all_done(reqs) do core.step(0) end
  end)

  it("a state closed with requests still queued frees them", function()
    local script = ('local core = require "scenario.core"; core.io_thread(false); core.start_budget(1); ' ..
      'local keep = {}; for i = 1, 5 do keep[i] = core.request { url = "%s/closed/" .. i } end; ' ..
      'core.step(0); assert(core.queued() == 4); os.exit(0, true)'):format(base)
    local ok = os.execute(lua_cmd .. " -e '" .. script .. "'")
    assert.is_true(ok == true or ok == 0)
  end)
end)
