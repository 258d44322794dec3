-- The I/O thread (core.io_thread, csrc/worker.c): libcurl runs in a thread
-- of its own and a step only collects what it handed over. Checked here:
-- the same results as without it, on_data bytes handed over in order with
-- the transfer paused while too many wait, callbacks that raise, cancels,
-- retries, file bodies, and a state closed with transfers in flight.
local core = require "scenario.core"
local finish = require "support.finish"
local files = require "support.files"
local blob_bytes = require "support.blob"

local expected, start_server = blob_bytes.expected, blob_bytes.serve

local function wait(req) return finish(req, 10) end

describe("the I/O thread", function()
  local blob_pipe, port, blob_pid, echo_pipe, echo_port, echo_pid
  local SIZE = 1536 * 1024
  local was

  setup(function()
    blob_pipe, port, blob_pid = start_server("spec/support/blob_server.py")
    echo_pipe, echo_port, echo_pid = start_server("spec/support/echo_server.py")
    was = core.io_thread(true)
  end)

  teardown(function()
    core.io_thread(was)
    os.execute("kill " .. blob_pid .. " " .. echo_pid)
    blob_pipe:close()
    echo_pipe:close()
  end)

  local function blob(size, seed)
    return ("http://127.0.0.1:%s/blob/%d/%d"):format(port, size, seed)
  end

  it("is switched with core.io_thread, only while no transfer runs", function()
    assert.is_true(core.io_thread())
    local req = core.request { url = blob(SIZE, 1), timeout = 30, on_data = function() end }
    while core.queued() > 0 do core.step(0) end        -- handed to the thread
    assert.has_error(function() core.io_thread(false) end,
      "scenario.core.io_thread: transfers are in flight (switch before the first request, or when none runs)")
    assert.has_error(function() core.io_thread("yes") end)
    req:cancel()
    assert.is_true(core.io_thread(false))             -- nothing in flight now; it was on
    assert.is_false(core.io_thread(true))
    assert.is_true(core.io_thread())
  end)

  it("gives the same results as the stepping thread, and lets every queued attempt in at once", function()
    local function fetch_all(n)
      local reqs, out = {}, {}
      for i = 1, n do reqs[i] = core.request { url = blob(70000 + i, i), timeout = 30 } end
      core.step(0)
      local admitted = core.admitted()
      for i = 1, n do
        local res = assert(wait(reqs[i]))
        out[i] = { res.status, res.body, res.headers["content-length"], res.attempts }
      end
      return out, admitted
    end
    local threaded, admitted = fetch_all(12)
    assert.are.equal(12, admitted)                    -- no start budget: admitting costs libcurl nothing
    core.io_thread(false)
    local plain, admitted_plain = fetch_all(12)
    core.io_thread(true)
    assert.are.equal(1, admitted_plain)               -- the start budget without the thread
    assert.are.same(plain, threaded)
    for i = 1, 12 do
      assert.are.equal(200, threaded[i][1])
      assert.is_true(threaded[i][2] == expected(70000 + i, i))
    end
  end)

  it("hands on_data bytes over in order, a step at a time", function()
    local chunks, reqs = {}, {}
    for i = 1, 6 do
      chunks[i] = {}
      reqs[i] = core.request { url = blob(SIZE, i), timeout = 60,
        on_data = function(s) local c = chunks[i]; c[#c + 1] = s end }
    end
    while core.pending() > 0 do core.step(0) end
    for i = 1, 6 do
      assert.are.equal(200, assert(reqs[i]:result()).status)
      assert.is_true(table.concat(chunks[i]) == expected(SIZE, i), "transfer " .. i .. " intact")
      assert.are.equal(SIZE, select(3, reqs[i]:progress()))
    end
  end)

  it("pauses a transfer while 1 MiB of on_data bytes waits for a step", function()
    local size = 8 * 1024 * 1024
    local got = 0
    local req = core.request { url = blob(size, 3), timeout = 60,
      on_data = function(s) got = got + #s end }
    -- step(0): one hand-over, not 10 ms of them (a fast server sends the
    -- whole 8 MiB in that time, as it did once on a loaded CI machine)
    while got == 0 do core.step(0) end
    -- no step for 0.5 s: the thread may only keep what the cap allows
    local until_t = core.now() + 0.5
    while core.now() < until_t do end
    local _, _, received = req:progress()
    assert.is_true(received - got <= 1024 * 1024 + 512 * 1024,
      ("received %d, handed over %d"):format(received, got))
    assert.is_true(received < size, "the transfer waited for the steps")
    assert.are.equal(200, assert(wait(req)).status)
    assert.are.equal(size, got)
  end)

  it("stops the transfer when on_data raises, with the error value in the result", function()
    local calls, sentinel = 0, setmetatable({}, { __tostring = function() return "sentinel" end })
    local req = core.request { url = blob(64 * 1024 * 1024, 4), timeout = 60, max_retries = 3,
      on_data = function() calls = calls + 1; error(sentinel) end }
    local none, err = wait(req)
    assert.is_nil(none)
    assert.are.equal("callback", err.kind)
    assert.are.equal(sentinel, err.value)
    assert.are.equal(1, calls)
    assert.are.equal(1, err.attempts)
    assert.are.equal(0, core.pending())
  end)

  it("cancels in flight: nothing is written to the output after cancel returns", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local req = core.request { url = blob(256 * 1024 * 1024, 5), timeout = 60, output = f }
    while select(3, req:progress()) < 256 * 1024 do core.step(10) end
    req:cancel()
    f:flush()
    local size = f:seek("end")
    f:close()                                          -- the thread must not write to it now
    local none, err = req:result()
    assert.is_nil(none)
    assert.are.equal("canceled", err.kind)
    local t = core.now() + 0.2
    while core.now() < t do core.step(10) end
    assert.are.equal(size, #files.read(path))
    assert.are.equal(0, core.pending())
    os.remove(path)
  end)

  it("writes the output through its own descriptor: the Lua file may be closed while it runs", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("head:")                                   -- buffered by Lua: flushed before the body
    local req = core.request { url = blob(512 * 1024, 6), timeout = 60, output = f }
    f:close()                                          -- before a byte of the body came
    local res = assert(wait(req))
    assert.are.equal(200, res.status)
    assert.is_true(files.read(path) == "head:" .. expected(512 * 1024, 6), "the file is whole")
    -- closed in the middle of a long body, then cancelled: nothing breaks
    f = assert(io.open(path, "wb"))
    req = core.request { url = blob(256 * 1024 * 1024, 7), timeout = 60, output = f }
    while select(3, req:progress()) < 128 * 1024 do core.step(10) end
    f:close()
    for _ = 1, 20 do core.step(5) end
    req:cancel()
    assert.are.equal("canceled", select(2, req:result()).kind)
    os.remove(path)
  end)

  it("refuses to be switched from inside a transfer callback", function()
    local err
    local req = core.request { url = blob(4 * 1024 * 1024, 8), timeout = 60, on_data = function()
      local ok, e = pcall(core.io_thread, false)
      if not ok then err = e end
      error("stop", 0)
    end }
    local none, cerr = wait(req)
    assert.is_nil(none)
    assert.are.equal("callback", cerr.kind)
    assert.matches("from inside a transfer callback", err)
    assert.is_true(core.io_thread())
  end)

  it("retries through the thread: a refused connection is tried max_retries + 1 times", function()
    local s = io.popen("exec " .. require("support.native") ..
      "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
    local closed = s:read("*l")
    s:close()
    local none, err = wait(core.request { url = "http://127.0.0.1:" .. closed .. "/x",
      timeout = 20, max_retries = 2 })
    assert.is_nil(none)
    assert.are.equal("connection", err.kind)
    assert.are.equal(3, err.attempts)
    assert.is_false(err.sent)
  end)

  it("sends a file body, with its progress", function()
    local dir = files.tmpdir()
    local path = dir .. "/part.bin"
    local body = expected(3 * 1024 * 1024 + 17, 9)
    files.write(path, body)
    local req = core.request { url = ("http://127.0.0.1:%s/ok/parts/1"):format(echo_port),
      method = "PUT", timeout = 30, upload_file = path, upload_offset = 0, upload_length = #body }
    local res = assert(wait(req))
    assert.are.equal(200, res.status)
    local sent, total = req:progress()
    assert.are.equal(#body, total)
    assert.are.equal(#body, sent)
    os.execute("rm -rf " .. dir)
  end)

  it("a state closed with transfers in the thread frees everything (the ASan run checks)", function()
    local script = ("local core = require 'scenario.core'; core.io_thread(true); " ..
      "local keep = {}; for i = 1, 6 do keep[i] = core.request { timeout = 30, " ..
      "url = 'http://127.0.0.1:%s/blob/%d/' .. i, on_data = function() end } end; " ..
      "local got = false; keep[7] = core.request { timeout = 30, url = 'http://127.0.0.1:%s/blob/%d/7', " ..
      "on_data = function() got = true end }; " ..
      "local t = core.now() + 10; while not got and core.now() < t do core.step(10) end; " ..
      "io.write(got and 'flowing' or 'not flowing')"):format(port, 256 * 1024 * 1024, port, 256 * 1024 * 1024)
    local ok, out, code = require("support.sh")(require("support.lua_cmd") .. " -e \"" .. script .. "\" 2>&1")
    assert.are.equal("flowing", out)
    assert.is_true(ok, "exit status " .. code)
  end)
end)
