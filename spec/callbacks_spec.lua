-- A user callback that raises (issue 9): for every callback the SDK takes, the
-- user's own error value comes out of the call that took it (compared by
-- identity: a table sentinel), or reaches scenario.on_error for a spawned
-- coroutine, and nothing is left behind: no transfer or timer in the core, no
-- coroutine, wait or queued wake-up in the scheduler, no request in flight at
-- the simulator, no temporary or partial file; and the client still works.
local scenario = require "scenario"
local core = require "scenario.core"
local loop = require "scenario.loop"
local download = require "scenario.download"
local sim_mod = require "support.sim"

local MiB = 1024 * 1024

local files = require "support.files"
local tmpdir, ls, exists = files.tmpdir, files.ls, files.exists

-- a sentinel the callbacks raise: only identity tells it apart
local function sentinel(name)
  return setmetatable({ name = name }, { __tostring = function() return "sentinel " .. name end })
end

describe("a user callback that raises", function()
  local sim, client, dir, job4, assets, big, made_tmp
  local real_tmpname = os.tmpname
  local timings = {}

  setup(function()
    sim = sim_mod.start { job_duration = 0.3, args = { "--seed-assets", "6" } }
    client = sim:client()
    dir = tmpdir()
    job4 = assert(client.generate:txt2img { modelId = "m", prompt = "four", numSamples = 4 })
    assert(job4:wait { timeout = 10 })
    assets = assert(job4:assets())
    assert.are.equal(4, #assets)
    big = os.tmpname()
    local f = assert(io.open(big, "wb"))
    f:write(string.rep("\0", 12 * MiB))   -- three parts of 5, 5 and 2 MiB
    f:close()
  end)

  teardown(function()
    rawset(os, "tmpname", real_tmpname)
    os.remove(big)
    os.execute("rm -rf '" .. dir .. "'")
    sim:stop()
  end)

  before_each(function()
    sim:reset()
    made_tmp = {}
    -- remember the temporary files the SDK makes (uploads:data)
    rawset(os, "tmpname", function()
      local name = real_tmpname()
      made_tmp[#made_tmp + 1] = name
      return name
    end)
  end)

  after_each(function() rawset(os, "tmpname", real_tmpname) end)

  teardown(function()
    if #timings > 0 then print("\n" .. table.concat(timings, "\n")) end
  end)

  -- Everything the call started has stopped, and the client still works.
  -- Returns how long the simulator took to see no request in flight.
  local function assert_nothing_left(name)
    assert.are.equal(0, core.pending(), name .. ": transfers or timers left in the core")
    assert.are.same({ spawned = 0, waiting = 0, ready = 0, backlog = 0 }, loop.stats(),
      name .. ": the scheduler still holds something")
    local t0 = core.now()
    local in_flight = sim:stats().in_flight
    while in_flight > 0 and core.now() - t0 < 5 do
      loop.sleep(0.05)
      in_flight = sim:stats().in_flight
    end
    assert.are.equal(0, in_flight, name .. ": requests still in flight at the simulator")
    local drained = core.now() - t0
    assert.are.same({}, ls(dir), name .. ": files left in the download directory")
    for _, t in ipairs(made_tmp) do
      assert.is_false(exists(t), name .. ": temporary file left: " .. t)
    end
    -- not wedged: a request, a job's polls (timers) and a download still work
    local job = assert(client.generate:txt2img { modelId = "m", prompt = "after " .. name })
    assert(job:wait { timeout = 10 })
    assert.are.equal("success", job.status)
    local path = assert(client.assets:download(assets[1], dir .. "/check.png"))
    os.remove(path)
    assert.are.equal(0, core.pending())
    assert.are.same({ spawned = 0, waiting = 0, ready = 0, backlog = 0 }, loop.stats())
    return drained
  end

  -- Runs a spawned scenario to its end with on_error recording; returns what it got.
  local function run_spawned(fn, handler)
    local got = {}
    local previous = scenario.on_error
    scenario.on_error = function(err, traceback)
      got[#got + 1] = { err = err, traceback = traceback }
      if handler then handler(err) end
    end
    local ok, err = pcall(function()
      fn()
      scenario.run()
    end)
    scenario.on_error = previous
    assert(ok, err)
    return got
  end

  -- One row per callback. run(S) makes the call with a callback raising S;
  -- expect = "raises": the call raises S itself; "on_error": S reaches
  -- scenario.on_error (the call runs in a spawned coroutine).
  local cases = {
    {
      name = "core.request on_data",
      expect = "raises",
      run = function(S)
        local req = core.request { url = assets[1].url, method = "GET",
          on_data = function() error(S) end }
        loop.await(req)
        local res, err = req:result()
        assert.is_nil(res)
        assert.are.equal("callback", err.kind)   -- the value comes back with the result
        error(err.value, 0)
      end,
    },
    {
      name = "download.url on_progress",
      expect = "raises",
      run = function(S)
        download.url(client, assets[1].url, dir .. "/one.png", { on_progress = function() error(S) end })
      end,
    },
    {
      name = "client.assets:download on_progress",
      expect = "raises",
      run = function(S)
        client.assets:download(assets[1].id, dir .. "/one.png", { on_progress = function() error(S) end })
      end,
    },
    {
      -- three of the four downloads are slow: they are in flight when the
      -- fourth one's callback raises, and must be stopped at once
      name = "job:download on_progress",
      expect = "raises", prompt = 1.0, stopped_in_flight = true,
      run = function(S)
        sim:faults("GET", "/_files/*", { "delay_headers=1.5", "delay_headers=1.5", "delay_headers=1.5" })
        job4:download(dir, { on_progress = function() error(S) end })
      end,
    },
    {
      name = "download.assets on_progress",
      expect = "raises", prompt = 1.0, stopped_in_flight = true,
      run = function(S)
        sim:faults("GET", "/_files/*", { "delay_headers=1.5", "delay_headers=1.5", "delay_headers=1.5" })
        download.assets(client, assets, dir .. "/sub", { on_progress = function() error(S) end })
      end,
      cleanup = function() os.remove(dir .. "/sub") end,
    },
    {
      name = "job:wait on_progress",
      expect = "raises",
      run = function(S)
        local job = assert(client.generate:txt2img { modelId = "m", prompt = "w" })
        local calls = 0
        job:wait { timeout = 10, on_progress = function()
          calls = calls + 1
          if calls == 2 then error(S) end          -- after a poll, not at once
        end }
      end,
    },
    {
      -- every part is slow to answer: all three are in flight when it raises
      name = "client.uploads:file on_progress",
      expect = "raises", prompt = 1.0, stopped_in_flight = true,
      run = function(S)
        sim:faults("PUT", "/_uploads/*", { "delay_headers=1", "delay_headers=1", "delay_headers=1" })
        client.uploads:file(big, { kind = "image", part_size = 5 * MiB, concurrency = 3,
          on_progress = function(sent) if sent > 0 then error(S) end end })
      end,
      after = function()
        assert.are.equal(0, sim:count("POST /uploads/{uploadId}/action"))
      end,
    },
    {
      name = "client.uploads:data on_progress",
      expect = "raises",
      run = function(S)
        client.uploads:data(string.rep("x", 1000), { kind = "image",
          on_progress = function() error(S) end })
      end,
      after = function() assert.are.equal(1, #made_tmp) end,
    },
    {
      name = "client.assets:upload on_progress",
      expect = "raises", prompt = 1.0, stopped_in_flight = true,
      run = function(S)
        sim:faults("PUT", "/_uploads/*", { "delay_headers=1", "delay_headers=1", "delay_headers=1" })
        client.assets:upload(big, { kind = "image", part_size = 5 * MiB,
          on_progress = function(sent) if sent > 0 then error(S) end end })
      end,
    },
    {
      -- a pager fetches a page only when the loop asks: nothing is in flight
      -- while the body runs
      name = "a for-loop body over :each",
      expect = "raises",
      run = function(S)
        for _ in client.assets:each { pageSize = 2 } do error(S) end
      end,
    },
    {
      name = "a for-loop body over :pages",
      expect = "raises",
      run = function(S)
        local n = 0
        for _ in client.assets:pages { pageSize = 2 } do
          n = n + 1
          if n == 2 then error(S) end
        end
      end,
    },
    {
      -- a wait_all inside a spawned coroutine: the error ends the coroutine
      -- and reaches on_error; the other waits are stopped at once
      name = "wait_all on_progress inside scenario.spawn",
      expect = "on_error", prompt = 1.0,
      run = function(S)
        local jobs = {}
        for i = 1, 5 do
          jobs[i] = assert(client.generate:txt2img({ modelId = "m", prompt = "s" .. i },
            { headers = { ["X-Sim-Fault"] = "job_duration=5" } }))
        end
        local got = run_spawned(function()
          scenario.spawn(function()
            local calls = 0
            client.jobs:wait_all(jobs, { on_progress = function()
              calls = calls + 1
              if calls == #jobs + 1 then error(S) end   -- after the first poll
            end })
          end)
        end)
        return got
      end,
    },
    {
      -- another spawned coroutine has a job wait in flight: it runs on
      name = "a scenario.spawn'ed function",
      expect = "on_error",
      run = function(S)
        local other
        local got = run_spawned(function()
          scenario.spawn(function()
            local job = assert(client.generate:txt2img { modelId = "m", prompt = "other" })
            other = assert(job:wait { timeout = 10 })
          end)
          scenario.spawn(function()
            scenario.sleep(0.05)
            error(S)
          end)
        end)
        assert.are.equal("success", other.status)
        return got
      end,
    },
    {
      name = "scenario.on_error itself",
      expect = "on_error",
      run = function(S)
        return run_spawned(function()
          scenario.spawn(function()
            assert(client.assets:list { pageSize = 1 })
            error(S)
          end)
        end, function(err) error({ again = err }) end)   -- written to stderr, dropped
      end,
    },
  }

  for _, case in ipairs(cases) do
    it(case.name .. ": " .. (case.expect == "raises" and "the call raises the user's error"
        or "the error reaches scenario.on_error") .. ", nothing left behind", function()
      local S = sentinel(case.name)
      local t0 = core.now()
      local ok, res = pcall(case.run, S)
      local took = core.now() - t0
      if case.expect == "raises" then
        assert.is_false(ok, case.name .. ": the call did not raise")
        assert.is_true(rawequal(res, S), case.name .. ": raised " .. tostring(res) .. ", not the user's value")
      else
        assert(ok, res)
        assert.are.equal(1, #res, case.name .. ": on_error calls")
        assert.is_true(rawequal(res[1].err, S), case.name .. ": on_error got " .. tostring(res[1].err))
        assert.is_string(res[1].traceback)
      end
      if case.prompt then
        assert.is_true(took < case.prompt, string.format("%s: took %.2f s", case.name, took))
      end
      if case.stopped_in_flight then
        -- the slow requests were cut off while the simulator still works on them
        assert.is_true(sim:stats().in_flight > 0, case.name .. ": nothing was in flight")
      end
      if case.after then case.after() end
      if case.cleanup then case.cleanup() end
      local drained = assert_nothing_left(case.name)
      timings[#timings + 1] = string.format("    %-44s %6.1f ms to raise, simulator idle %4.0f ms later",
        case.name, took * 1000, drained * 1000)
    end)
  end

  it("a raising log function is reported on stderr and the call goes on", function()
    local S = sentinel("log")
    local logged = 0
    local noisy = sim:client { log = function() logged = logged + 1; error(S) end }
    local job = assert(noisy.generate:txt2img { modelId = "m", prompt = "log" })
    assert(job:wait { timeout = 10 })
    assert.is_true(logged > 0)
    assert_nothing_left("log")
  end)

  it("wait_all of 20 jobs: one on_progress raising stops every wait at once", function()
    local jobs = {}
    for i = 1, 20 do
      jobs[i] = assert(client.generate:txt2img({ modelId = "m", prompt = "batch " .. i },
        { headers = { ["X-Sim-Fault"] = "job_duration=5" } }))
    end
    local S = sentinel("wait_all")
    local raised_at
    local t0 = core.now()
    local ok, err = pcall(client.jobs.wait_all, client.jobs, jobs, { timeout = 30,
      on_progress = function(j)
        if j == jobs[7] and j.status ~= "pending" then
          raised_at = core.now()
          error(S)
        end
      end })
    local returned = core.now()
    assert.is_false(ok)
    assert.is_true(rawequal(err, S), "raised " .. tostring(err))
    assert.is_not_nil(raised_at)
    -- the jobs would take 5 s; the call must end right after the raise
    assert.is_true(returned - raised_at < 0.2, string.format("returned %.3f s after the raise",
      returned - raised_at))
    assert.is_true(returned - t0 < 2, string.format("took %.2f s", returned - t0))
    assert.are.equal(0, core.pending())
    assert.are.same({ spawned = 0, waiting = 0, ready = 0, backlog = 0 }, loop.stats())
    -- no poll goes on: the simulator sees nothing more while the loop runs
    -- (after a moment for the polls that were on the wire when the raise
    -- cancelled them: the server counts those when it reads them, late
    -- when the machine is busy)
    loop.sleep(0.3)
    local before = sim:stats().total
    loop.sleep(1)
    local after = sim:stats().total
    assert.are.equal(before, after, "polls went on after the raise")
    print(string.format("\n    wait_all of 20 jobs of 5 s: raised at %.2f s, returned %.1f ms later;" ..
      " %d requests in the next second", raised_at - t0, (returned - raised_at) * 1000, after - before))
    assert_nothing_left("wait_all")
  end)

  -- Lua 5.4 has coroutine.close: cancel closes the coroutine ("dead"). The
  -- others have none: it stays "suspended" and is never resumed again.
  it("scenario.spawn returns a coroutine that scenario.cancel stops, with its transfers" ..
      " (on Lua 5.4 closed: dead; on 5.1-5.3 and LuaJIT, without coroutine.close: never resumed)", function()
    local jobs = {}
    for i = 1, 3 do
      jobs[i] = assert(client.generate:txt2img({ modelId = "m", prompt = "c" .. i },
        { headers = { ["X-Sim-Fault"] = "job_duration=5" } }))
    end
    sim:faults("GET", "/_files/*", { "delay_headers=1", "delay_headers=1" })
    local finished = false
    local waiter = scenario.spawn(function()
      client.jobs:wait_all(jobs)
      finished = true
    end)
    local downloader = scenario.spawn(function()
      download.assets(client, { assets[1], assets[2] }, dir)
      finished = true
    end)
    for _ = 1, 20 do scenario.step(10) end
    assert.is_true(loop.stats().spawned > 2)
    assert.is_true(scenario.cancel(waiter))
    assert.is_true(scenario.cancel(downloader))
    local stopped = coroutine.close and "dead" or "suspended" -- luacheck: ignore 143 (5.4 only)
    assert.are.equal(stopped, coroutine.status(waiter))
    assert.are.equal(stopped, coroutine.status(downloader))
    assert.is_false(finished)
    assert_nothing_left("cancel")
    -- the loop ran on (requests, polls, a download): neither was resumed
    assert.are.equal(stopped, coroutine.status(waiter))
    assert.are.equal(stopped, coroutine.status(downloader))
    assert.is_false(finished)
  end)
end)

describe("loop.semaphore", function()
  it("loses no permit when its holders and waiters are closed", function()
    local s = loop.semaphore(1)
    local holder = loop.spawn(function()
      loop.with(s.acquire(), loop.sleep, 5)
    end)
    local got = false
    local queued = loop.spawn(function()
      loop.with(s.acquire(), function()
        got = true
        loop.sleep(5)
      end)
    end)
    local late = loop.spawn(function() loop.with(s.acquire(), function() end) end)
    assert.are.equal(0, s.free)
    assert.are.equal(2, s.waiting)
    loop.cancel(late)                       -- a queued waiter leaves the queue
    assert.are.equal(1, s.waiting)
    loop.cancel(holder)                     -- its permit goes to the next in line
    assert.are.equal(0, s.waiting)
    loop.cancel(queued)                     -- handed a permit, closed before it ran
    assert.is_false(got)
    assert.are.equal(1, s.free)
    assert.are.equal(0, core.pending())
    assert.are.same({ spawned = 0, waiting = 0, ready = 0, backlog = 0 }, loop.stats())
    local p = s.acquire()
    assert.are.equal(0, s.free)
    p:release()
    p:release()                             -- once only
    assert.are.equal(1, s.free)
  end)

  it("serves its waiters in order, past those that left the line", function()
    local s = loop.semaphore(2)
    local order, cos = {}, {}
    for i = 1, 300 do
      cos[i] = loop.spawn(function()
        loop.with(s.acquire(), function()
          order[#order + 1] = i
          loop.sleep(0)
        end)
      end)
    end
    assert.are.equal(298, s.waiting)
    for _, i in ipairs { 3, 150, 151, 300 } do loop.cancel(cos[i]) end
    assert.are.equal(294, s.waiting)
    loop.run()
    local want = {}
    for i = 1, 300 do
      if i ~= 3 and i ~= 150 and i ~= 151 and i ~= 300 then want[#want + 1] = i end
    end
    assert.are.same(want, order)
    assert.are.equal(2, s.free)
    assert.are.equal(0, s.waiting)
    -- the line, emptied, starts again from its first place
    assert.are.equal(1, s.head)
    assert.are.equal(0, s.tail)
  end)

  it("keeps no trail of waiters that came and went while its permits were held", function()
    local s = loop.semaphore(1)
    local holder = s.acquire()
    local stay = loop.spawn(function() loop.with(s.acquire(), function() end) end)
    for _ = 1, 1000 do
      loop.cancel(loop.spawn(function() s.acquire() end))   -- joins the line, leaves it
    end
    assert.are.equal(1, s.waiting)
    assert.are.equal(1, s.tail - s.head + 1)                -- the one that stays, no holes
    holder:release()
    loop.run()
    assert.are.equal("dead", coroutine.status(stay))
    assert.are.equal(1, s.free)
    assert.are.equal(0, s.waiting)
  end)

  it("wakes every coroutine awaiting one event", function()
    local ev, woke = loop.event(), 0
    for _ = 1, 3 do loop.spawn(function() loop.await(ev); woke = woke + 1 end) end
    assert.are.equal(3, loop.stats().waiting)
    ev:set()
    loop.run()
    assert.are.equal(3, woke)
    assert.are.same({ spawned = 0, waiting = 0, ready = 0, backlog = 0 }, loop.stats())
  end)
end)
