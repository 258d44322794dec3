-- The I/O budget of a step (csrc/loop.c): once it is spent, step(0) leaves
-- the ready sockets not served yet to the following steps (round robin).
-- What is checked here is that nothing is lost, reordered or leaked by it;
-- and core.request's `output`, the file a 2xx body is written to from C.
local core = require "scenario.core"
local finish = require "support.finish"
local files = require "support.files"
local expected = require("support.blob").expected

describe("the step's I/O budget", function()
  local pipe, port, pid
  local SIZE = 1536 * 1024

  local was_threaded
  setup(function()
    pipe, port, pid = require("support.blob").serve("spec/support/blob_server.py")
    -- the budgets of a step that does the transfers' work itself: without
    -- the I/O thread, also in a run with SCENARIO_IO_THREAD=1
    was_threaded = core.io_thread(false)
  end)

  teardown(function()
    os.execute("kill " .. pid)
    pipe:close()
    core.io_budget(0.25)
    core.io_thread(was_threaded)
  end)

  local BIG = 256 * 1024 * 1024 -- never done within a test: cancelled on the way

  local function start(n, chunks, size)
    local reqs = {}
    for i = 1, n do
      chunks[i] = {}
      reqs[i] = core.request { url = ("http://127.0.0.1:%s/blob/%d/%d"):format(port, size or SIZE, i),
        timeout = 60, on_data = function(s) local c = chunks[i]; c[#c + 1] = s end }
    end
    return reqs
  end

  it("delivers every byte in order when step(0) leaves ready sockets to later steps", function()
    local before = core.io_budget(0.01)                -- 10 µs: one socket per step
    -- all 12 transfers in libcurl from the first step: this case is about
    -- the I/O budget alone (spec/start_budget_spec.lua has the start budget)
    local starts = core.start_budget(0)
    finally(function()
      core.io_budget(0.25)
      core.start_budget(starts)
    end)
    assert.are.equal(0.25, before)                     -- the default
    local _, deferred0 = core.io_deferred()
    local chunks = {}
    local reqs = start(12, chunks)
    local steps, max_deferred = 0, 0
    while core.pending() > 0 do
      core.step(0)
      steps = steps + 1
      local now_deferred = core.io_deferred()
      if now_deferred > max_deferred then max_deferred = now_deferred end
      if steps % 50 == 0 then core.step(1) end         -- let the sockets fill up
    end
    local _, deferred1 = core.io_deferred()
    assert.is_true(deferred1 - deferred0 > 12, "sockets were left for later: " .. (deferred1 - deferred0))
    assert.is_true(max_deferred > 1)
    for i, req in ipairs(reqs) do
      local res, err = req:result()
      assert.is_truthy(res, err and err.message)
      assert.are.equal(200, res.status)
      local body = table.concat(chunks[i])
      assert.are.equal(SIZE, #body)
      assert.is_true(body == expected(SIZE, i), "transfer " .. i .. " arrived intact")
    end
  end)

  it("with the budget off, every ready socket is served in every step", function()
    core.io_budget(0)
    local _, deferred0 = core.io_deferred()
    local chunks = {}
    start(4, chunks)
    while core.pending() > 0 do core.step(0) end
    local _, deferred1 = core.io_deferred()
    assert.are.equal(deferred0, deferred1)
    for i = 1, 4 do assert.are.equal(SIZE, #table.concat(chunks[i])) end
    core.io_budget(0.25)
  end)

  it("cancels and collects transfers whose sockets were left for later", function()
    core.io_budget(0.01)
    finally(function() core.io_budget(0.25) end)
    local chunks = {}
    local reqs = start(8, chunks, BIG)
    local give_up = core.now() + 10
    while core.io_deferred() < 2 and core.now() < give_up do core.step(0) end
    assert.is_true(core.io_deferred() >= 2, "some sockets were left for the next step")
    -- cancel half, drop the others and collect them
    for i = 1, 4 do reqs[i]:cancel() end
    for i = 1, 4 do
      local res, err = reqs[i]:result()
      assert.is_nil(res)
      assert.are.equal("canceled", err.kind)
    end
    for i = 5, 8 do reqs[i]:cancel() end
    reqs = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.are.equal(0, core.pending())
    core.step(0)
    assert.are.equal(0, (core.io_deferred()), "a step that served nothing left nothing")
  end)

  it("a state closed with sockets left for later frees everything (the ASan run checks)", function()
    local script = ("local core = require 'scenario.core'; core.io_thread(false); core.io_budget(0.01); " ..
      "local keep = {}; for i = 1, 6 do keep[i] = core.request { timeout = 30, " ..
      "url = 'http://127.0.0.1:%s/blob/%d/' .. i, on_data = function() end } end; " ..
      "local t = core.now() + 10; while core.io_deferred() < 2 and core.now() < t do core.step(0) end; " ..
      "io.write(core.io_deferred() >= 2 and 'deferred' or 'not deferred')"):format(port, BIG)
    -- the chunk ends: the interpreter closes the state (lua_close) and exits 0
    -- (os.exit(0, true) would do the same, but 5.1 ignores its `close`)
    local ok, out, code = require("support.sh")(require("support.lua_cmd") .. " -e \"" .. script .. "\" 2>&1")
    assert.are.equal("deferred", out)
    assert.is_true(ok, "exit status " .. code)
  end)

  it("output: C writes the 2xx bodies to files, in steps bounded by the budget", function()
    core.io_budget(0.01)
    finally(function() core.io_budget(0.25) end)
    local dir = files.tmpdir()
    local reqs, outs = {}, {}
    for i = 1, 8 do
      outs[i] = assert(io.open(dir .. "/" .. i, "wb"))
      reqs[i] = core.request { url = ("http://127.0.0.1:%s/blob/%d/%d"):format(port, SIZE, i),
        timeout = 60, output = outs[i] }
    end
    local _, deferred0 = core.io_deferred()
    local last = {}
    while core.pending() > 0 do
      core.step(0)
      for i, req in ipairs(reqs) do
        local _, _, received = req:progress()
        assert.is_true(received >= (last[i] or 0), "progress never goes back")
        last[i] = received
      end
    end
    local _, deferred1 = core.io_deferred()
    assert.is_true(deferred1 > deferred0)
    for i, req in ipairs(reqs) do
      local res = assert(req:result())
      assert.are.equal(200, res.status)
      assert.are.equal("", res.body)                   -- the body went to the file
      assert.are.equal(SIZE, select(3, req:progress()))
      outs[i]:close()
      assert.is_true(files.read(dir .. "/" .. i) == expected(SIZE, i), "file " .. i .. " is intact")
    end
    os.execute("rm -rf " .. dir)
  end)

  it("output: a non-2xx body stays in the result; a failed write is an io error, not retried", function()
    local function wait(req) return finish(req, 10) end
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local res = assert(wait(core.request { url = ("http://127.0.0.1:%s/nope"):format(port),
      timeout = 10, output = f }))
    f:close()
    assert.are.equal(404, res.status)
    assert.is_true(#res.body > 0)
    assert.are.equal("", files.read(path))
    os.remove(path)
    local blob = ("http://127.0.0.1:%s/blob/%d/1"):format(port, SIZE)
    local full = assert(io.open("/dev/full", "wb"))
    local none, err = wait(core.request { url = blob, timeout = 10, output = full, max_retries = 3 })
    full:close()
    assert.is_nil(none)
    assert.are.equal("io", err.kind)
    assert.matches("cannot write the output file", err.message)
    assert.are.equal(1, err.attempts)
    local closed_path = os.tmpname()
    local closed = assert(io.open(closed_path, "wb"))
    closed:close()
    os.remove(closed_path)
    assert.has_error(function() core.request { url = blob, output = closed } end,
      "scenario.core.request: output must be an open file")
    assert.has_error(function() core.request { url = blob, output = "out.bin" } end,
      "scenario.core.request: output must be an open file")
    assert.has_error(function()
      core.request { url = blob, output = io.stdout, on_data = function() end }
    end, "scenario.core.request: give on_data or output, not both")
    assert.are.equal(0, core.pending())
  end)

  it("refuses a negative budget", function()
    assert.has_error(function() core.io_budget(-1) end)
    assert.are.equal(0.25, core.io_budget())
  end)
end)
