-- The I/O budget of a step (csrc/loop.c): step(0) pauses transfers whose
-- data arrives after the budget and resumes them, in order, in later steps.
-- What is checked here is that nothing is lost, reordered or leaked by it.
local core = require "scenario.core"

local function expected(size, seed)
  local period = {}
  for i = 0, 250 do period[i + 1] = string.char((i * 7 + seed) % 251) end
  period = table.concat(period)
  local reps = period:rep(size // 251 + 1)
  return reps:sub(1, size)
end

describe("the step's I/O budget", function()
  local pipe, port, pid
  local SIZE = 1536 * 1024

  setup(function()
    pipe = io.popen("exec " .. require("support.native") .. "python3 spec/support/blob_server.py", "r")
    local line = pipe:read("l")
    port, pid = (line or ""):match("^LISTENING (%d+) (%d+)")
    assert(port, "blob server did not start: " .. tostring(line))
  end)

  teardown(function()
    os.execute("kill " .. pid)
    pipe:close()
    core.io_budget(0.5)
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

  it("delivers every byte in order when step(0) pauses transfers for its budget", function()
    local before = core.io_budget(0.01)                -- 10 µs: pauses nearly every chunk
    finally(function() core.io_budget(0.5) end)
    assert.are.equal(0.5, before)                      -- the default
    local _, pauses0 = core.io_paused()
    local chunks = {}
    local reqs = start(12, chunks)
    local steps, max_paused = 0, 0
    while core.pending() > 0 do
      core.step(0)
      steps = steps + 1
      local now_paused = core.io_paused()
      if now_paused > max_paused then max_paused = now_paused end
      if steps % 50 == 0 then core.step(1) end         -- let the sockets fill up
    end
    local _, pauses1 = core.io_paused()
    assert.is_true(pauses1 - pauses0 > 12, "transfers were paused: " .. (pauses1 - pauses0))
    assert.is_true(max_paused > 1)
    assert.are.equal(0, (core.io_paused()))
    for i, req in ipairs(reqs) do
      local res, err = req:result()
      assert.is_truthy(res, err and err.message)
      assert.are.equal(200, res.status)
      local body = table.concat(chunks[i])
      assert.are.equal(SIZE, #body)
      assert.is_true(body == expected(SIZE, i), "transfer " .. i .. " arrived intact")
    end
  end)

  it("with the budget off, nothing is ever paused", function()
    core.io_budget(0)
    local _, pauses0 = core.io_paused()
    local chunks = {}
    start(4, chunks)
    while core.pending() > 0 do core.step(0) end
    local _, pauses1 = core.io_paused()
    assert.are.equal(pauses0, pauses1)
    for i = 1, 4 do assert.are.equal(SIZE, #table.concat(chunks[i])) end
    core.io_budget(0.5)
  end)

  it("cancels and collects paused transfers cleanly", function()
    core.io_budget(0.01)
    finally(function() core.io_budget(0.5) end)
    local chunks = {}
    local reqs = start(8, chunks, BIG)
    local give_up = core.now() + 10
    while core.io_paused() < 2 and core.now() < give_up do core.step(1) end
    assert.is_true(core.io_paused() >= 2, "some transfers are paused")
    -- cancel half (some paused), drop the others and collect them
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
    assert.are.equal(0, (core.io_paused()))
    assert.are.equal(0, core.pending())
    core.step(0)
  end)

  it("a state closed with paused transfers frees them (the ASan run checks)", function()
    local script = ("local core = require 'scenario.core'; core.io_budget(0.01); " ..
      "local keep = {}; for i = 1, 6 do keep[i] = core.request { timeout = 30, " ..
      "url = 'http://127.0.0.1:%s/blob/%d/' .. i, on_data = function() end } end; " ..
      "local t = core.now() + 10; while core.io_paused() < 2 and core.now() < t do core.step(1) end; " ..
      "io.write(core.io_paused() >= 2 and 'paused' or 'not paused'); os.exit(0, true)"):format(port, BIG)
    local p = io.popen(require("support.lua_cmd") .. " -e \"" .. script .. "\" 2>&1")
    local out = p:read("a")
    local ok, how, code = p:close()
    assert.are.equal("paused", out)
    assert.is_true(ok, tostring(how) .. " " .. tostring(code))
  end)

  it("refuses a negative budget", function()
    assert.has_error(function() core.io_budget(-1) end)
    assert.are.equal(0.5, core.io_budget())
  end)
end)
