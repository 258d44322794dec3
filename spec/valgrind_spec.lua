-- valgrind memcheck on the C core, run by `make valgrind` (SCENARIO_VALGRIND=1;
-- skipped otherwise: it takes a minute and needs an uninstrumented build).
--  - build/embed-host (examples/embed/host.c): 20 generations and their
--    downloads through scenario_step, then lua_close;
--  - the interpreter under test (lua5.4, luajit, lua5.1 ...) with its build's
--    lua/scenario/core.so, and the scenario-lua runner (a Lua 5.4 binary, from
--    build/ under another interpreter) when it is built, running WORKLOAD below: results, HTTP errors, transport
--    errors (reset, truncated, timeouts, closed port, unknown host, TLS
--    failure), callbacks that raise, cancellations, and transfers, retries
--    and timers still pending when the interpreter exits.
-- Each must exit 0 with no invalid access and no byte definitely or
-- indirectly lost (--errors-for-leak-kinds=definite,indirect). No
-- suppression is needed: at exit "still reachable" holds only the dynamic
-- loader's own records (dlopen of core.so and libcurl's libraries), which is
-- neither an error nor ours, and the runs are clean without any suppression
-- file; one would be for third-party noise only, each entry explained.
if not os.getenv("SCENARIO_VALGRIND") then return end

local sim_mod = require "support.sim"
local native = require "support.native"

local interp = require "support.interp"
local BUILD = interp.build
assert(not BUILD:find("asan", 1, true), "valgrind cannot run an AddressSanitizer build")

local VALGRIND = "valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect " ..
  "--show-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 --track-origins=yes"

local WORKLOAD = [==[
local scenario = require "scenario"
local core = require "scenario.core"
local sim, tls, out = os.getenv("SIM_URL"), os.getenv("TLS_URL"), os.getenv("OUT_DIR")
local client = scenario.new { base_url = sim, api_key = os.getenv("SIM_KEY"),
  api_secret = os.getenv("SIM_SECRET"), log = false, poll_interval = 0.1 }
local function fails(kind, ok, err)
  assert(ok == nil and scenario.is_error(err), "expected an error")
  assert(err.kind == kind, "expected " .. kind .. ", got " .. err.kind .. ": " .. tostring(err))
end
local function queue(method, path, faults)
  assert(client:request("POST", sim .. "/_sim/faults",
    { body = { method = method, path = path, faults = faults }, unsafe = false }))
end
local function fault(f) return { headers = { ["X-Sim-Fault"] = f } } end

-- results: a read, a page iterator, a job waited for and downloaded
assert(client.assets:list { pageSize = 2 })
for _ in client.models:each { pageSize = 1, limit = 2 } do end
local job = assert(client.generate:txt2img { modelId = "flux.1-dev", prompt = "vg", numSamples = 2 })
assert(job:wait { timeout = 60, on_progress = function() end })
assert(#assert(job:download(out)) == 2)

-- HTTP and transport errors
queue("GET", "/assets", { "status=503", "reset" })
assert(client:request("GET", "/assets"))                     -- retried twice
fails("not_found", client.assets:get("nope"))
fails("server", client:request("GET", "/assets", fault("html")))
fails("api", client:request("GET", "/assets", fault("invalid_json")))
fails("api", client:request("GET", "/assets", fault("empty")))
fails("connection", client:request("GET", "/assets", { max_retries = 0,
  headers = { ["X-Sim-Fault"] = "truncated" } }))
fails("timeout", client:request("GET", "/assets", { timeout = 1,
  headers = { ["X-Sim-Fault"] = "delay_headers=3" } }))
fails("timeout", client:request("GET", "/assets", { timeout = 1,
  headers = { ["X-Sim-Fault"] = "delay_body=3" } }))
fails("server", client.generate:txt2img({ modelId = "m", prompt = "p" }, fault("status=500")))
fails("validation", client.generate:txt2img { prompt = 42 })
fails("validation", client:request("POST", "/assets", { body = { 0 / 0 } }))
local closed = scenario.new { base_url = "http://127.0.0.1:1", log = false, max_retries = 1 }
fails("connection", closed:request("GET", "/assets"))
local unknown = scenario.new { base_url = "http://scenario-sdk-test.invalid", log = false,
  max_retries = 0 }
fails("connection", unknown:request("GET", "/assets"))
if tls and tls ~= "" then
  fails("connection", scenario.new { base_url = tls, log = false }:request("GET", "/a"))
  assert(scenario.new { base_url = tls, log = false, insecure = true }:request("GET", "/a"))
end

-- downloads: an interrupted one, one whose callback raises
local assets = assert(job:assets())
queue("GET", "/_files/*", { "reset_body" })
fails("connection", client.assets:download(assets[1], out .. "/cut.png"))
assert(not io.open(out .. "/cut.png"), "a partial file under its final name")
local ok, raised = pcall(client.assets.download, client.assets, assets[1], out .. "/cb.png",
  { on_progress = function() error("progress callback failed") end })
assert(not ok and tostring(raised):find("progress callback failed"))
ok = pcall(job.wait, job, { on_progress = function() error("boom") end })
assert(not ok)

-- an upload from memory, one of its part PUTs reset once
if client.uploads.data then
  queue("PUT", "/_uploads/*", { "reset" })
  local up = assert(client.uploads:data("\137PNG\r\n\26\n" .. string.rep("x", 70000), { kind = "image" }))
  assert(up.entityId)
end

-- concurrency: spawned coroutines, a canceled request, a canceled timer
local done = 0
for _ = 1, 8 do
  scenario.spawn(function()
    assert(client.assets:list { pageSize = 1 })
    done = done + 1
  end)
end
scenario.run()
assert(done == 8)
local req = core.request { url = sim .. "/assets", headers = { "X-Sim-Fault: delay_headers=2" } }
req:cancel()
assert(req:done())
local t = core.timer(5)
t:cancel()

-- left behind at exit: a transfer in flight, one waiting to retry, a timer,
-- a request closed by loop.with (its __close) and, on Lua 5.4, one closed by
-- a to-be-closed variable (compiled with load: the others do not parse it)
core.request { url = sim .. "/assets", headers = { "X-Sim-Fault: delay_headers=5" } }
core.request { url = sim .. "/assets", max_retries = 2, headers = { "X-Sim-Fault: status=503" } }
core.step(300)
core.timer(30)
local closing = core.request { url = sim .. "/assets" }
require("scenario.loop").with(closing, function()
  assert(tostring(closing):find("scenario.core.request", 1, true))
end)
if _VERSION == "Lua 5.4" then
  assert(load([[
    local core, url = ...
    local closing <close> = core.request { url = url }
    assert(tostring(closing):find("scenario.core.request", 1, true))
  ]]))(core, sim .. "/assets")
end
collectgarbage()
print("workload ok")
]==]

local function sh(cmd)
  local ok, out = require("support.sh")(native .. cmd)
  assert(ok, "command failed: " .. cmd .. "\n" .. out)
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- runs cmd under valgrind; returns ok, program output, valgrind log
local function memcheck(env, cmd, log)
  local ok, out = require("support.sh")(string.format("%s %s --log-file=%s %s 2>&1", env, VALGRIND,
    log, cmd))
  return ok, out, read(log)
end

local function lost(log, what)
  local n = log:match(what .. " lost: ([%d,]+) bytes")
  return n and tonumber((n:gsub(",", ""))) or 0
end

local function assert_clean(ok, out, log, what)
  local summary = log:match("ERROR SUMMARY: [^\n]*") or "no ERROR SUMMARY"
  local heap = log:match("in use at exit: [^\n]*") or "?"
  print(string.format("\n    %s: %s; definitely lost: %d, indirectly lost: %d bytes; %s",
    what, summary, lost(log, "definitely"), lost(log, "indirectly"), heap))
  assert(ok, what .. " failed under valgrind:\n" .. out .. "\n" .. log:sub(-6000))
  assert(summary:find("ERROR SUMMARY: 0 errors", 1, true), what .. ":\n" .. log:sub(-6000))
  assert(lost(log, "definitely") == 0 and lost(log, "indirectly") == 0,
    what .. " lost memory:\n" .. log:sub(-6000))
end

describe("valgrind memcheck", function()
  local sim, dir, tls_pipe, tls_pid, tls_url
  setup(function()
    sim = sim_mod.start { job_duration = 0.5 }
    dir = os.tmpname()
    os.remove(dir)
    sh("mkdir -p " .. dir .. "/out")
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 " ..
      "-addext subjectAltName=IP:127.0.0.1 -keyout " .. dir .. "/key.pem -out " ..
      dir .. "/cert.pem 2>/dev/null")
    tls_pipe = io.popen("exec " .. native .. "python3 spec/support/https_server.py " ..
      dir .. "/cert.pem " .. dir .. "/key.pem")
    local port
    port, tls_pid = tls_pipe:read("*l"):match("^LISTENING (%d+) (%d+)")
    tls_url = "https://127.0.0.1:" .. port
    local f = assert(io.open(dir .. "/workload.lua", "w"))
    f:write(WORKLOAD)
    f:close()
  end)
  teardown(function()
    sim:stop()
    os.execute("kill " .. tls_pid)
    tls_pipe:close()
    os.execute("rm -rf " .. dir)
  end)

  local function env()
    return string.format("SIM_URL=%s TLS_URL=%s OUT_DIR=%s/out SIM_KEY=%s SIM_SECRET=%s " ..
      "SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s",
      sim.url, tls_url, dir, sim_mod.KEY, sim_mod.SECRET, sim.url, sim_mod.KEY, sim_mod.SECRET)
  end

  it("the C host example: 20 generations, no error, nothing lost", function()
    local ok, out, log = memcheck(env(), BUILD .. "/embed-host " .. dir .. "/host",
      dir .. "/host.vg")
    assert.matches("jobs=20 failed=0 files=20", out)
    assert_clean(ok, out, log, "embed-host")
  end)

  it(interp.name .. " with core.so: requests, errors, timeouts, pending transfers at exit", function()
    local ok, out, log = memcheck(env() .. " LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='" ..
      BUILD .. "/lua/?.so;;'", interp.name .. " " .. dir .. "/workload.lua", dir .. "/lua.vg")
    assert.matches("workload ok", out)
    assert_clean(ok, out, log, interp.name .. " + core.so")
  end)

  it("the scenario-lua runner: the same workload", function()
    local runner = (interp.name == "lua5.4" and BUILD or "build") .. "/scenario-lua"
    if not io.open(runner, "rb") then
      pending("no " .. runner)
      return
    end
    local ok, out, log = memcheck(env(), runner .. " " .. dir .. "/workload.lua", dir .. "/runner.vg")
    assert.matches("workload ok", out)
    assert_clean(ok, out, log, "scenario-lua")
  end)
end)
