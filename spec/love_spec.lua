-- The SDK inside a real LÖVE 11 game (examples/love): Debian's love (LuaJIT)
-- runs headless under xvfb-run against the simulator, makes 8 generations
-- stepped from love.update, draws each image, and writes a report and a
-- screenshot (SCENARIO_LOVE_REPORT). The game always runs on LuaJIT, with the
-- C core of the LuaJIT build (build-luajit, or SCENARIO_LUAJIT_BUILD),
-- whatever interpreter runs busted; this file is portable Lua 5.1-5.4.
local sim_mod = require "support.sim"
local cjson = require "cjson.safe"
local native = require "support.native"
local sh = require "support.sh"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- output (stdout and stderr) and exit status of a shell command, the same on
-- every Lua (support.sh)
local function run(cmd)
  local _, out, code = sh(cmd .. " 2>&1")
  return out, code
end

local files = require "support.files"
local read_file, exists = files.read, files.exists

local function root()
  local dir = run("pwd"):match("^[^\n]*")
  local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/love_spec%.lua$")
  if not here or here == "." then return dir end
  if here:sub(1, 1) == "/" then return here end
  return dir .. "/" .. here:gsub("^%./", "")
end

describe("the SDK in a LÖVE game", function()
  it("draws 8 generated images while the frame loop keeps running", function()
    local _, love_missing = run("command -v love && command -v xvfb-run")
    assert.are.equal(0, love_missing,
      "needs Debian's love, xvfb and xauth (apt-get install love xvfb xauth libgl1-mesa-dri)")
    local top = root()
    local build = os.getenv("SCENARIO_LUAJIT_BUILD") or "build-luajit"
    if build:sub(1, 1) ~= "/" then build = top .. "/" .. build end
    assert.is_true(exists(build .. "/lua/scenario/core.so"),
      "no LuaJIT build of the C core at " .. build .. "/lua/scenario/core.so: make LUA=luajit")

    local dir = os.tmpname()
    os.remove(dir)
    assert.are.equal(0, select(2, run("mkdir -p " .. quote(dir .. "/out") .. " " .. quote(dir .. "/xdg"))))
    local report_path = dir .. "/report.json"
    local shot = report_path .. ".png"

    local sim = sim_mod.start { job_duration = 1.5 }
    local env = {
      "SCENARIO_API_URL=" .. quote(sim.url),
      "SCENARIO_API_KEY=" .. quote(sim_mod.KEY),
      "SCENARIO_API_SECRET=" .. quote(sim_mod.SECRET),
      "SCENARIO_LOVE_REPORT=" .. quote(report_path),
      "SCENARIO_LOVE_OUT=" .. quote(dir .. "/out"),
      "XDG_DATA_HOME=" .. quote(dir .. "/xdg"),      -- LÖVE's save directory
      "LUA_PATH=" .. quote(top .. "/lua/?.lua;" .. top .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. quote(build .. "/lua/?.so;;"),
    }
    local ran, out, status = pcall(run, native .. "env " .. table.concat(env, " ")
      .. " timeout 120 xvfb-run -a -s '-screen 0 800x600x24' love " .. quote(top .. "/examples/love"))
    sim:stop()
    assert(ran, out)

    local text = read_file(report_path)
    local png = read_file(shot)
    local _, ls_status = run("ls " .. quote(dir .. "/out"))
    local listing = run("ls " .. quote(dir .. "/out") .. " | grep -c '\\.png$'")
    local colours = png and run(native .. "pngtopnm " .. quote(shot) .. " | ppmhist -noheader | wc -l")
    run("rm -rf " .. quote(dir))

    local context = "love exited " .. tostring(status) .. ":\n" .. out .. "\nreport: " .. tostring(text)
    assert.are.equal(0, status, context)
    assert.is_string(text, context)
    local report = assert(cjson.decode(text), context)
    assert.are.equal(0, #report.errors, context)
    assert.are.equal(8, report.images_drawn, context)
    assert.are.equal(0, ls_status, "no download folder")
    assert.are.equal(8, tonumber(listing), "downloaded files: " .. tostring(listing))

    -- the screenshot: a PNG of the 8 images (the simulator's gradients give
    -- thousands of colours; text alone on the background gives about a hundred)
    assert.is_string(png, "no screenshot at " .. shot)
    assert.are.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    assert.is_true(tonumber(colours) > 1, "the screenshot is all one colour")
    assert.is_true(tonumber(colours) > 1000, "the screenshot has only " .. colours .. " colours")

    -- the frame loop ran on while the jobs did, and no frame waited on the SDK.
    -- As in embed_spec, the bound on the worst frame is on the CPU time the
    -- step used (the game's thread clock): on a 2-core machine the simulator,
    -- Xvfb and llvmpipe run beside the game and can preempt a step, which wall
    -- time would charge to the SDK (idle: wall max 1.3-5.5 ms over 20 runs,
    -- CPU max 0.9-1.4 ms; with two busy loops beside it: wall max up to 8 ms,
    -- CPU max still 1.3 ms). The wall time of 99% of the frames is bounded too.
    assert.is_true(report.frames_while_running >= 100, context)
    assert.is_number(report.step_cpu_ms_max, "no thread CPU clock in the game: " .. context)
    assert.is_true(report.step_cpu_ms_max < 5, "a frame spent " .. report.step_cpu_ms_max
      .. " ms of CPU in scenario.step: " .. context)
    assert.is_true(report.step_ms_p99 < 5, "p99 of the wall time in scenario.step: "
      .. report.step_ms_p99 .. " ms: " .. context)
  end)
end)
