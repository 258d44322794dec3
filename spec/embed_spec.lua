-- The C host example (examples/embed/host.c): a 60 Hz frame loop that runs 20
-- generations and their downloads through scenario_step(L, 0), and reports the
-- longest time a frame spent inside the SDK. It runs on the build under test
-- and on the LuaJIT build (build-luajit/embed-host: libscenario.a with LuaJIT
-- bytecode, linked to libluajit), which the Makefile's test targets build.
-- Both run with LUA_PATH and LUA_CPATH pointing at a folder that does not
-- exist: scenario_openlibs provides every scenario.* module, scenario.core
-- and lua-cjson (cjson, cjson.safe), linked into the host.
local sim_mod = require "support.sim"
local sh = require "support.sh"
local native = require "support.native"
local interp = require "support.interp"

local exists = require("support.files").exists

local hosts = { interp.build }
if interp.build ~= "build-luajit" then hosts[#hosts + 1] = "build-luajit" end

-- Search paths that find nothing, for every interpreter (5.2 to 5.4 read
-- LUA_PATH_5_x before LUA_PATH).
local NOWHERE = "/nonexistent-scenario-lua-paths"
local NO_PATHS = ""
for _, suffix in ipairs { "", "_5_2", "_5_3", "_5_4" } do
  NO_PATHS = NO_PATHS .. string.format("LUA_PATH%s='%s/?.lua' LUA_CPATH%s='%s/?.so' ",
    suffix, NOWHERE, suffix, NOWHERE)
end

-- The runner is Lua 5.4 (build/, or build-asan/ under make test-asan).
local RUNNER = (interp.name == "lua5.4" and interp.build or "build") .. "/scenario-lua"

describe("lua-cjson linked in", function()
  it("is not found through those paths by a plain interpreter (the paths are in force)", function()
    local ok, out = sh(native .. NO_PATHS .. interp.name .. " -e 'require \"cjson.safe\"' 2>&1")
    assert.is_false(ok, out)
    assert.matches("module 'cjson.safe' not found", out, 1, true)
    assert.matches(NOWHERE, out, 1, true)
  end)

  it("is required by the scenario-lua runner without any path", function()
    local ok, out = sh(NO_PATHS .. RUNNER .. " -e 'local c = require \"cjson\"; " ..
      "local s = require \"cjson.safe\"; print(c.encode{1}, s.decode(\"[2]\")[1] == 2, " ..
      "require(\"scenario.json\").encode{3})' 2>&1")
    assert.is_true(ok, out)
    assert.are.equal("[1]\ttrue\t[3]\n", out)
  end)

  -- spec/support/openlibs_host.c, compiled with the link line the README
  -- gives C hosts, runs a chunk before scenario_openlibs and one after
  local function openlibs_host(before, after)
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local pkg = interp.name                      -- its pkg-config name
    local cc = string.format("%scc -std=c11 %s $(pkg-config --cflags %s) -Icsrc -o %s/host " ..
      "spec/support/openlibs_host.c %s/libscenario.a -l:liblua%s-cjson.so.0 " ..
      "$(pkg-config --libs %s libcurl) -lm -pthread 2>&1", native,
      interp.build:find("asan", 1, true) and "-fsanitize=address,undefined" or "", pkg, dir,
      interp.build, interp.version, pkg)
    local built, cout = sh(cc)
    assert.is_true(built, cout)
    local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
    local ok, out = sh(NO_PATHS .. dir .. "/host " .. q(before) .. " " .. q(after) .. " 2>&1")
    os.execute("rm -rf " .. dir)
    return ok, out
  end

  it("is registered by scenario_openlibs in a C host linked as the README says", function()
    local ok, out = openlibs_host("", [[
      local s = require "scenario"
      print(require("cjson").encode { 1 }, require("cjson.safe").decode("[2]")[1] == 2,
        s.VERSION, require("scenario.json").encode(s.array {}))]])
    assert.is_true(ok, out)
    assert.are.equal("[1]\ttrue\t0.1.0\t[]\n", out)
  end)

  it("leaves a cjson the host registered or loaded before scenario_openlibs in place", function()
    local ok, out = openlibs_host([[
      package.preload.cjson = function() return { mine = "preloaded" } end
      package.loaded["cjson.safe"] = { mine = "loaded" }]], [[
      print(require("cjson").mine, require("cjson.safe").mine, package.preload["cjson.safe"])]])
    assert.is_true(ok, out)
    assert.are.equal("preloaded\tloaded\tnil\n", out)
  end)
end)

describe("embedding in a C host", function()
  for _, build in ipairs(hosts) do
    local asan = build:find("asan", 1, true) ~= nil
    it("runs 20 generations, no LUA_PATH or LUA_CPATH, without any frame spending over 5 ms in the SDK (" ..
      build .. "/embed-host)", function()
      local host = build .. "/embed-host"
      assert.is_true(exists(host), host .. " is missing: make " ..
        (build == "build-luajit" and "LUA=luajit " or "") .. "all builds it")
      local sim = sim_mod.start { job_duration = 1.5 }
      local dir = os.tmpname()
      os.remove(dir)
      -- a host that is not instrumented does not get the AddressSanitizer
      -- runtime that make test-asan preloads for the interpreters
      local ok, out = sh(string.format(
        "SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s %s%s%s %s 2>&1",
        sim.url, sim_mod.KEY, sim_mod.SECRET, NO_PATHS, asan and "" or native, host, dir))
      sim:stop()
      local _, listing = sh("ls " .. dir .. " | wc -l")
      local count = tonumber(listing)
      os.execute("rm -rf " .. dir)
      assert.is_true(ok, out)
      assert.matches("jobs=20 failed=0 files=20", out)
      assert.are.equal(20, count)
      local frames = tonumber(out:match("frames=(%d+)"))
      assert.is_true(frames > 60, "the frame loop stalled: " .. out)
      -- The bound is on the CPU time the SDK's step used in a frame (the
      -- thread's CPU clock): on this 2-core machine the simulator runs beside
      -- the host and its wake-ups can preempt a step, which wall time would
      -- charge to the SDK. Both are printed. Frame time is a property of the
      -- optimised builds; under AddressSanitizer every step is several times
      -- slower by design, so there the run only has to finish (its
      -- correctness checks above still apply).
      local max_cpu = tonumber(out:match("max_cpu=([%d.]+)"))
      assert.is_number(max_cpu, out)
      if not asan then
        assert.is_true(max_cpu < 5, "a frame spent " .. max_cpu .. " ms of CPU in the SDK: " .. out)
      end
    end)
  end
end)
