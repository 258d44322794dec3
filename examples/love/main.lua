-- luacheck: std luajit, globals love
--[[
scenario-lua in a LÖVE 11 game (LuaJIT): 8 generations at once, stepped from
love.update, a progress bar per job, each image drawn as soon as it is
downloaded, and the time the SDK took in each frame.

  SCENARIO_API_KEY=... SCENARIO_API_SECRET=... love examples/love
  (SCENARIO_API_URL=http://127.0.0.1:8080 for the local simulator)

How a game ships the SDK. The game folder holds:

  mygame/
    conf.lua, main.lua
    scenario/init.lua, scenario/client.lua, ...   lua/scenario/ of this repository,
                                                  subfolders too (resources/, ...)
    scenario/core.so    the C core built for LuaJIT: `make LUA=luajit`
                        -> build-luajit/lua/scenario/core.so (links libcurl)
    cjson.so            lua-cjson built for Lua 5.1 / LuaJIT
    cjson/safe.so       the same file again (see below)

LÖVE's `require` looks for Lua files in the game folder through
love.filesystem (`scenario/init.lua`), and for C modules through
love.filesystem's C require path ("??": `scenario/core.so` with
luaopen_scenario_core), in a game run from a folder or in the save directory,
never inside a zipped .love. That loader maps "cjson.safe" only to
`cjson/safe.so`, hence the copy; adding the game folder to package.cpath
(package.cpath = love.filesystem.getSource() .. "/?.so;" .. package.cpath)
does as well. After those, `require` also searches package.path and
package.cpath, which LuaJIT takes from LUA_PATH / LUA_CPATH: that is how this
example runs from a checkout (spec/love_spec.lua does exactly this):

  LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build-luajit/lua/?.so;;' love examples/love

What the SDK needs from the game: require, new, spawn, and a step each frame:

  local scenario = require "scenario"
  require("scenario.core").io_thread(true)        -- libcurl off the frame
  local client = scenario.new()
  scenario.spawn(function() ... client.generate:txt2img{...} ... job:wait() ... end)
  function love.update(dt) scenario.step(0) end   -- 0: never waits

Test mode: with SCENARIO_LOVE_REPORT=path the game writes a JSON report there
(frames, frames drawn while jobs ran, max/p99 ms in scenario.step, images
drawn, errors), saves a screenshot at SCENARIO_LOVE_SCREENSHOT (default
path .. ".png") once all 8 images have been drawn, and quits: status 0, or 1
with the error in the report when a job fails or after SCENARIO_LOVE_TIMEOUT
seconds (default 60). SCENARIO_LOVE_OUT: where images are downloaded (default:
the game's save directory, images/).
]]

local REPORT = os.getenv("SCENARIO_LOVE_REPORT")
local SCREENSHOT = os.getenv("SCENARIO_LOVE_SCREENSHOT") or (REPORT and REPORT .. ".png")
local TIMEOUT = tonumber(os.getenv("SCENARIO_LOVE_TIMEOUT") or "") or 60
local JOBS = 8

local PROMPTS = {
  "a lighthouse on a cliff at dusk", "a red fox in the snow",
  "a pixel-art castle on a hill", "a treasure chest, game icon",
  "a mossy stone golem", "a desert oasis at noon",
  "a neon city street in the rain", "a crystal cave, isometric",
}

local scenario                      -- the SDK, once loaded
local slots = {}                    -- per job: prompt, status, progress, path, image...
local stats = { frames = 0, frames_while_running = 0, images_drawn = 0, errors = {} }
local step_ms = {}                  -- time spent in scenario.step(0), per frame
local last_ms, max_ms, sum_ms = 0, 0, 0
local max_cpu_ms = 0                -- the same, in CPU time of this thread (Linux)
local t_start, finished, shot_requested
local out_dir

-- JSON for the report: a few lines are enough (tables marked with `array`
-- are arrays, others objects).
local ARRAY = {}
local function array(t) return setmetatable(t, ARRAY) end
local function to_json(v)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  elseif t == "string" then
    return '"' .. (v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)) .. '"'
  elseif t == "table" then
    local out = {}
    if getmetatable(v) == ARRAY then
      for i = 1, #v do out[i] = to_json(v[i]) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for i, k in ipairs(keys) do out[i] = to_json(k) .. ":" .. to_json(v[k]) end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return tostring(v == nil and "null" or v)        -- booleans, nil
end

-- CPU time of the calling thread (Linux, through LuaJIT's ffi), or nil: a
-- step's wall time also counts the moments the OS gave the CPU to someone else.
local thread_cpu = function() return nil end
if jit and jit.os == "Linux" then
  local ok, ffi = pcall(require, "ffi")
  if ok and pcall(ffi.cdef, "typedef struct { long sec, nsec; } scenario_love_ts;"
      .. " int clock_gettime(int clock, scenario_love_ts *ts);") then
    local ts = ffi.new("scenario_love_ts")
    thread_cpu = function()                 -- 3: CLOCK_THREAD_CPUTIME_ID
      ffi.C.clock_gettime(3, ts)
      return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
    end
  end
end

local function pending()
  local n = 0
  for i = 1, JOBS do
    local s = slots[i]
    if not s or (not s.image and not s.error) then n = n + 1 end
  end
  return n
end

local function percentile(list, p)
  if #list == 0 then return 0 end
  local sorted = {}
  for i = 1, #list do sorted[i] = list[i] end
  table.sort(sorted)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

-- Writes the report (test mode) and quits with `status`.
local function finish(status)
  if finished then return end
  finished = true
  if not REPORT then return end
  local jobs = array {}
  for i = 1, JOBS do
    local s = slots[i] or {}
    jobs[i] = { id = s.id, prompt = s.prompt, status = s.status, progress = s.progress,
      path = s.path, drawn = s.drawn == true, error = s.error }
  end
  local report = {
    ok = status == 0, status = status,
    frames = stats.frames, frames_while_running = stats.frames_while_running,
    steps = #step_ms, step_ms_max = max_ms, step_ms_p99 = percentile(step_ms, 0.99),
    step_ms_mean = #step_ms > 0 and sum_ms / #step_ms or 0,
    step_cpu_ms_max = thread_cpu() and max_cpu_ms or nil,
    images_drawn = stats.images_drawn, jobs = jobs, errors = array(stats.errors),
    seconds = t_start and love.timer.getTime() - t_start or 0,
    screenshot = stats.screenshot,
    lua = _VERSION, jit = jit and jit.version, love = string.format("%d.%d", love.getVersion()),
    sdk = scenario and scenario.VERSION,
  }
  local f = io.open(REPORT, "w")
  if f then
    f:write(to_json(report), "\n")
    f:close()
  end
  print(string.format("love example: status=%d frames=%d while_running=%d step_ms max=%.3f"
    .. " p99=%.3f max_cpu=%.3f images=%d errors=%d", status, stats.frames,
    stats.frames_while_running, max_ms, report.step_ms_p99, max_cpu_ms, stats.images_drawn,
    #stats.errors))
  love.event.quit(status)
end

local function fail(message)
  stats.errors[#stats.errors + 1] = message
  io.stderr:write("love example: ", message, "\n")
  if REPORT then finish(1) end
end

-- In test mode a Lua error anywhere ends the run with a report, instead of
-- LÖVE's error screen waiting for a key.
if REPORT then
  function love.errorhandler(msg)
    stats.errors[#stats.errors + 1] = "lua error: " .. debug.traceback(tostring(msg), 2)
    io.stderr:write(stats.errors[#stats.errors], "\n")
    finished = false
    pcall(finish, 1)
    return function() return 1 end
  end
end

-- One generation: submit, wait (progress into its slot), download. Runs in a
-- coroutine started by scenario.spawn: every wait yields to the frame loop.
local function generate(client, i)
  local slot = slots[i]
  local function failed(what, err)
    slot.status, slot.error = "failed", what .. ": " .. tostring(err)
    fail("job " .. i .. " " .. slot.error)
  end
  local job, err = client.generate:txt2img {
    modelId = "flux.1-dev", prompt = slot.prompt, numSamples = 1,
  }
  if not job then return failed("txt2img", err) end
  slot.id, slot.status = job.id, job.status
  local ok, werr = job:wait {
    timeout = TIMEOUT,
    on_progress = function(j) slot.status, slot.progress = j.status, j.progress end,
  }
  if not ok then return failed("wait", werr) end
  slot.status = "downloading"
  local paths, derr = job:download(out_dir)
  if not paths then return failed("download", derr) end
  if not paths[1] then return failed("download", "the job has no output") end
  slot.path, slot.status, slot.progress = paths[1], "downloaded", 1
end

function love.load()
  t_start = love.timer.getTime()
  love.graphics.setBackgroundColor(0.08, 0.09, 0.12)
  local ok, mod = pcall(require, "scenario")
  if not ok then return fail('cannot load the SDK (require "scenario"): ' .. tostring(mod)) end
  scenario = mod
  -- the transfers in the SDK's I/O thread: a step only collects results
  ok, mod = pcall(function() return require("scenario.core").io_thread(true) end)
  if not ok then return fail("scenario.core.io_thread: " .. tostring(mod)) end
  scenario.on_error = function(err) fail("error in a spawned coroutine: " .. tostring(err)) end
  local client
  ok, client = pcall(scenario.new, { poll_interval = 0.5 })
  if not ok then return fail("scenario.new: " .. tostring(client)) end
  out_dir = os.getenv("SCENARIO_LOVE_OUT") or (love.filesystem.getSaveDirectory() .. "/images")
  for i = 1, JOBS do
    slots[i] = { prompt = PROMPTS[i], status = "submitting", progress = 0 }
  end
  for i = 1, JOBS do scenario.spawn(generate, client, i) end
end

-- The downloaded file, read with io (it is outside love.filesystem's reach)
-- and turned into a texture.
local function load_image(slot)
  local f, err = io.open(slot.path, "rb")
  if not f then error(err, 0) end
  local bytes = f:read("*a")
  f:close()
  local data = love.filesystem.newFileData(bytes, slot.path:match("[^/]+$"))
  return love.graphics.newImage(data)
end

function love.update()
  if not scenario or finished then return end
  local c0, t0 = thread_cpu(), love.timer.getTime()
  scenario.step(0)
  last_ms = (love.timer.getTime() - t0) * 1000
  local c1 = thread_cpu()
  if c1 and (c1 - c0) * 1000 > max_cpu_ms then max_cpu_ms = (c1 - c0) * 1000 end
  step_ms[#step_ms + 1] = last_ms
  sum_ms = sum_ms + last_ms
  if last_ms > max_ms then max_ms = last_ms end
  for i = 1, JOBS do
    local s = slots[i]
    if s.path and not s.image and not s.error then
      local ok, img = pcall(load_image, s)
      if ok then s.image, s.status = img, "shown"
      else s.status, s.error = "failed", "image: " .. tostring(img); fail("job " .. i .. " " .. s.error) end
    end
  end
  if not finished and love.timer.getTime() - t_start > TIMEOUT then
    local where = {}
    for i = 1, JOBS do where[i] = slots[i].status end
    fail(string.format("timeout: not all images shown after %g s (%s)", TIMEOUT,
      table.concat(where, ", ")))
  end
end

local function on_screenshot(imagedata)
  local f, err = io.open(SCREENSHOT, "wb")
  if not f then return fail("screenshot: " .. tostring(err)) end
  f:write(imagedata:encode("png"):getString())
  f:close()
  stats.screenshot = SCREENSHOT
  finish(#stats.errors == 0 and 0 or 1)
end

local SIDE, GAP, TOP = 180, 15, 70

function love.draw()
  stats.frames = stats.frames + 1
  if pending() > 0 then stats.frames_while_running = stats.frames_while_running + 1 end
  local g = love.graphics
  for i = 1, JOBS do
    local s = slots[i]
    local x = 20 + ((i - 1) % 4) * (SIDE + GAP)
    local y = TOP + math.floor((i - 1) / 4) * (SIDE + 75)
    if s then
      if s.image then
        g.setColor(1, 1, 1)
        g.draw(s.image, x, y, 0, SIDE / s.image:getWidth(), SIDE / s.image:getHeight())
        if not s.drawn then
          s.drawn = true
          stats.images_drawn = stats.images_drawn + 1
        end
      else
        g.setColor(0.3, 0.3, 0.35)
        g.rectangle("line", x, y, SIDE, SIDE)
        g.print(s.error and "failed" or "waiting...", x + 8, y + 8)
      end
      -- the progress bar: status and progress of the job
      g.setColor(0.2, 0.2, 0.25)
      g.rectangle("fill", x, y + SIDE + 8, SIDE, 12)
      if s.error then g.setColor(0.9, 0.2, 0.2)
      elseif s.image then g.setColor(0.2, 0.8, 0.3)
      else g.setColor(0.3, 0.5, 0.95) end
      g.rectangle("fill", x, y + SIDE + 8, SIDE * math.max(0, math.min(1, s.progress or 0)), 12)
      g.setColor(1, 1, 1)
      g.print(string.format("%s %3d%%", s.status, math.floor((s.progress or 0) * 100 + 0.5)),
        x, y + SIDE + 24)
      g.setColor(0.7, 0.7, 0.75)
      g.print(s.prompt:sub(1, 28), x, y + SIDE + 42)
    end
  end
  -- after the grid, so that the count includes this frame's images
  g.setColor(1, 1, 1)
  local major, minor = love.getVersion()
  g.print(string.format("scenario-lua %s in LÖVE %d.%d (%s)", scenario and scenario.VERSION or "?",
    major, minor, jit and jit.version or _VERSION), 20, 15)
  g.print(string.format("SDK time this frame %.3f ms   max %.3f ms   mean %.3f ms   %.0f fps   %d/%d images",
    last_ms, max_ms, #step_ms > 0 and sum_ms / #step_ms or 0,
    stats.frames / math.max(love.timer.getTime() - (t_start or 0), 0.001),
    stats.images_drawn, JOBS), 20, 35)
  g.setColor(1, 0.35, 0.35)
  for i, e in ipairs(stats.errors) do g.print(e:sub(1, 110), 20, 560 - (i - 1) * 16) end
  if REPORT and not shot_requested and stats.images_drawn == JOBS then
    shot_requested = true
    love.graphics.captureScreenshot(on_screenshot)
  end
end
