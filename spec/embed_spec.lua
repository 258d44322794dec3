-- The C host example (examples/embed/host.c): a 60 Hz frame loop that runs 20
-- generations and their downloads through scenario_step(L, 0), and reports the
-- longest time a frame spent inside the SDK. It runs on the build under test
-- and on the LuaJIT build (build-luajit/embed-host: libscenario.a with LuaJIT
-- bytecode, linked to libluajit), which the Makefile's test targets build.
local sim_mod = require "support.sim"
local sh = require "support.sh"
local native = require "support.native"
local interp = require "support.interp"

local exists = require("support.files").exists

local hosts = { interp.build }
if interp.build ~= "build-luajit" then hosts[#hosts + 1] = "build-luajit" end

describe("embedding in a C host", function()
  for _, build in ipairs(hosts) do
    local asan = build:find("asan", 1, true) ~= nil
    it("runs 20 generations without any frame spending over 5 ms in the SDK (" ..
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
        "SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s %s%s %s 2>&1",
        sim.url, sim_mod.KEY, sim_mod.SECRET, asan and "" or native, host, dir))
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
