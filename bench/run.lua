--- make bench: every benchmark of issue 8 against its named baseline, in the
-- same run, on this machine. Starts nginx (a direct child, on a free port of
-- 127.0.0.1, its own config in a temporary directory) and the simulator,
-- runs each side RUNS times (median, min, max), prints one table and writes
-- it into README.md between <!-- bench:start --> and <!-- bench:end -->.
--
--   bench/run.sh                 (what make bench runs: deps, build, then this)
--   BENCH_RUNS=5                 runs of each side (at least 5 for the README)
--   BENCH_NO_README=1            print the table only
--   BENCH_KEEP=1                 keep the temporary directory (logs, config)
--   BENCH_ONLY=b1,b4             run only those (the README is then not written)
--   BENCH_B5_HOSTS=a,b           other builds of bench/b5_host.c in build/bench,
--                                run beside B5's two hosts (log only)
--
-- Expects LUA_PATH / LUA_CPATH to reach lua/ and build/lua/ (run.sh sets
-- them) and the C programs in build/bench/ (run.sh compiles them).
local core = require "scenario.core"
local json = require "scenario.json"

package.path = "./?.lua;" .. package.path   -- simulator/sim.lua

local RUNS = math.max(1, tonumber(os.getenv("BENCH_RUNS") or "5"))
-- the short, noisy comparisons (B1, B3, B4) get more runs
local RUNS_SHORT = math.max(RUNS, tonumber(os.getenv("BENCH_RUNS_SHORT") or "9"))
local BUILD = "build/bench"
local LUA = os.getenv("LUA") or "lua5.4"

local B1_N, B2_JOBS, B2_SECONDS = 5000, 200, 3
local B1_PAR = 16   -- B1's concurrent variant: requests in flight
local B4_FILES, B4_SIZE, B4_CONC = 100, 4 * 1024 * 1024, 8
local B3_SIZE, B3_PART = 1024 * 1024 * 1024, 8 * 1024 * 1024
local B5_TRANSFERS, B5_SECONDS, B5_POLLS = 100, 5, 20
local B5_RATE = os.getenv("BENCH_B5_RATE") or "64k"   -- per transfer
-- the frame host's settings of B5's main rows: the I/O thread (the host's default) and
-- 0.1 ms of Lua work dispatched per step(0) (scenario.loop.BUDGET; 1 ms by default)
local B5_FRAME_HOST = "B5_DISPATCH_MS=0.1"
local B7_N = 10000
local JOB_ID = "job_124ba27fa8754e40b3ba34"
-- one nginx worker: on a small machine the other CPU is left to the client
-- ("auto" gives one per CPU)
local NGINX_WORKERS = os.getenv("BENCH_NGINX_WORKERS") or "1"

------------------------------------------------------------------ helpers

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function sh(cmd)
  return os.execute(cmd) == true
end

local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok == true
end

local function readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  f:close()
end

local function log(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
  io.stderr:flush()
end

local function parse_result(out)
  local line = (out or ""):match("RESULT ([^\n]*)")
  if not line then return nil end
  local r = {}
  for k, v in line:gmatch("([%w_]+)=(%S+)") do r[k] = tonumber(v) or v end
  return r
end

-- a temporary directory: /dev/shm when it has room (downloads, the upload
-- sink and the 1 GiB source then cost no disk I/O on either side)
local function make_tmp()
  local base = "/tmp"
  local avail = capture("df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}'")
  if tonumber(avail) and tonumber(avail) > 4 * 1024 * 1024 then base = "/dev/shm" end
  local dir = capture("mktemp -d " .. base .. "/scenario-bench.XXXXXX"):gsub("%s+$", "")
  assert(dir ~= "", "mktemp failed")
  return dir
end

local T = make_tmp()
local STDERR = T .. "/stderr.log"
local failures = {}   -- notes about runs that failed

-- runs cmd under /usr/bin/time -v; wall (monotonic, around the whole
-- process), peak RSS (KiB) and the RESULT line of its output
local function timed(cmd, limit)
  local tf = T .. "/time.txt"
  os.remove(tf)
  local t0 = core.now()
  local out, ok = capture(string.format("timeout %d /usr/bin/time -v -o %s %s 2>>%s",
    limit or 300, q(tf), cmd, q(STDERR)))
  local wall = core.now() - t0
  local text = readfile(tf) or ""
  return { ok = ok, wall = wall, out = out, result = parse_result(out),
    rss = tonumber(text:match("Maximum resident set size %(kbytes%): (%d+)")) }
end

-- LuaJIT runs the same scripts on its own build of the C core
local LUAJIT = "env LUA_CPATH='build-luajit/lua/?.so;;' luajit"

local function lua_cmd(script, ...)
  local parts = { LUA, "bench/" .. script }
  for _, a in ipairs { ... } do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

local function last_stderr()
  local s = readfile(STDERR) or ""
  local lines = {}
  for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return lines[#lines] or "no message"
end

-- statistics of a list of numbers
local function stats(xs)
  if not xs or #xs == 0 then return nil end
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  local n = #s
  local med = n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
  return { median = med, min = s[1], max = s[n], n = n, values = xs }
end

-- Runs every side RUNS times, interleaved (side 1, side 2, ..., side 1,
-- ...), so that drift on a busy machine hits every side alike. sides: list
-- of { label, fn }; fn(i) returns a table of named numbers, or nil, why.
-- Returns one table per side, of stats by name (nil for a side that failed;
-- a failing side is not run again).
local function interleaved(sides, runs)
  runs = runs or RUNS
  local series, dead = {}, {}
  for s = 1, #sides do series[s] = {} end
  for i = 1, runs do
    for s, side in ipairs(sides) do
      if not dead[s] then
        local r, why = side[2](i)
        if not r then
          dead[s] = true
          why = why or "failed"
          log("  %s run %d: FAILED: %s", side[1], i, why)
          failures[#failures + 1] = side[1] .. ": " .. why
        else
          local shown = {}
          for k, v in pairs(r) do
            series[s][k] = series[s][k] or {}
            table.insert(series[s][k], v)
            shown[#shown + 1] = string.format("%s=%.4g", k, v)
          end
          table.sort(shown)
          log("  %s run %d/%d: %s", side[1], i, runs, table.concat(shown, " "))
        end
      end
    end
  end
  local out = {}
  for s = 1, #sides do
    if not dead[s] then
      out[s] = {}
      for k, v in pairs(series[s]) do out[s][k] = stats(v) end
    end
  end
  return table.unpack(out, 1, #sides)
end

local function repeat_runs(label, fn, runs)
  return (interleaved({ { label, fn } }, runs))
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

------------------------------------------------------------------ servers

local function free_port()
  local out = capture("python3 -c 'import socket; s = socket.socket(); " ..
    "s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
  return assert(tonumber(out), "no free port")
end

local function http_get(url)
  local req = core.request { url = url, timeout = 5 }
  require("scenario.loop").await(req)
  local res, err = req:result()
  return res, err
end

local UPLOAD_ID = "upload_bench0000000000000001"

-- what the fake API answers (as the simulator does, simulator/): POST
-- /uploads gives part URLs on nginx's PUT sink; GET /uploads/{id} and the
-- complete action give the upload imported
local function upload_record(base, status)
  local parts = {}
  local n = B3_SIZE // B3_PART
  if status == "pending" then
    for i = 1, n do
      parts[i] = string.format('{"number":%d,"url":"%s/sink/part%d","expires":"2099-01-01T00:00:00.000Z"}',
        i, base, i)
    end
  end
  return string.format('{"upload":{"id":"%s","fileName":"upload.bin","originalFileName":"upload.bin",' ..
    '"kind":"image","source":"multipart","status":"%s","authorId":"bench","ownerId":"bench",' ..
    '"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z",' ..
    '"fileSize":%d,"partsCount":%d,"contentType":"application/octet-stream"%s}}',
    UPLOAD_ID, status, B3_SIZE, n, status == "pending" and (',"parts":[' .. table.concat(parts, ",") .. "]")
    or ',"entityId":"asset_bench0000000000000001"')
end

local nginx = {}

function nginx.start()
  local port = free_port()
  local base = "http://127.0.0.1:" .. port
  for _, d in ipairs { "www", "www/files", "sink", "body", "proxy", "fastcgi", "uwsgi", "scgi" } do
    assert(sh("mkdir -p " .. q(T .. "/" .. d)))
  end
  local root = capture("id -u"):match("^0") ~= nil
  local conf = {
    root and "user root;" or "",
    "daemon off;", "master_process on;", "worker_processes " .. NGINX_WORKERS .. ";",
    "pid " .. T .. "/nginx.pid;", "error_log " .. T .. "/nginx-error.log warn;",
    "events { worker_connections 4096; }",
    "http {",
    "  access_log off;",
    "  sendfile on; tcp_nopush on; tcp_nodelay on;",
    "  keepalive_requests 10000000; keepalive_timeout 300s;",
    "  client_body_temp_path " .. T .. "/body;",
    "  proxy_temp_path " .. T .. "/proxy; fastcgi_temp_path " .. T .. "/fastcgi;",
    "  uwsgi_temp_path " .. T .. "/uwsgi; scgi_temp_path " .. T .. "/scgi;",
    "  types { application/json json; application/octet-stream bin; }",
    "  default_type application/octet-stream;",
    "  server {",
    "    listen 127.0.0.1:" .. port .. " backlog=4096;",
    "    root " .. T .. "/www;",
    -- B1, B7: a fixed job at every /jobs/<id>
    "    location /jobs/ { try_files /job.json =404; }",
    -- B4: the files at full speed; B5: the same files, rate-limited
    "    location /files/ { }",
    "    location /slow/ { alias " .. T .. "/www/files/; limit_rate " .. B5_RATE .. "; }",
    -- B3: the upload API, answered by nginx, and a PUT sink for the parts
    -- (static files answer a POST with 405: error_page turns that into the
    -- file, fetched again with GET)
    "    location = /uploads { rewrite ^ /upload-pending.json last; }",
    "    location /uploads/ { rewrite ^ /upload-imported.json last; }",
    "    location ~ ^/upload-[a-z]+[.]json$ { error_page 405 =200 $uri; }",
    "    location /sink/ { root " .. T .. "; dav_methods PUT; client_max_body_size 0;",
    "      client_body_buffer_size 1m; add_header ETag '\"bench\"' always; }",
    "  }",
    "}",
  }
  writefile(T .. "/nginx.conf", table.concat(conf, "\n") .. "\n")
  writefile(T .. "/www/job.json", assert(readfile("bench/job.json")))
  writefile(T .. "/www/upload-pending.json", upload_record(base, "pending"))
  writefile(T .. "/www/upload-imported.json", upload_record(base, "imported"))
  local pipe = assert(io.popen(string.format("echo $$; exec nginx -p %s -c %s -e %s",
    q(T), q(T .. "/nginx.conf"), q(T .. "/nginx-error.log")), "r"))
  local pid = tonumber(pipe:read("l"))
  nginx.pipe, nginx.pid, nginx.port, nginx.url = pipe, pid, port, base
  local deadline = core.now() + 10
  while core.now() < deadline do
    local res = http_get(base .. "/jobs/" .. JOB_ID)
    if res and res.status == 200 then
      log("nginx %s (pid %d) on %s", capture("nginx -v 2>&1"):match("[%d.]+") or "?", pid, base)
      return base
    end
    core.step(50)
  end
  error("nginx did not start: " .. (readfile(T .. "/nginx-error.log") or ""))
end

function nginx.stop()
  if nginx.pid then
    sh("kill -TERM " .. nginx.pid)
    nginx.pipe:close()
    nginx.pid = nil
  end
end

------------------------------------------------------------------ benchmarks

local R = {}         -- results by name
local skipped = {}   -- benchmark id -> true when BENCH_ONLY left it out

local function b1(base)
  log("B1: %d sequential GET /jobs/{id}", B1_N)
  local url = base .. "/jobs/" .. JOB_ID
  local function side(label, cmd)
    return { label, function()
      local r = timed(cmd)
      if not (r.ok and r.result) then return nil, last_stderr() end
      return { rps = B1_N / r.result.seconds }
    end }
  end
  -- the concurrent variant's baseline: curl --parallel over the same URLs
  local cfg = {}
  for _ = 1, B1_N do cfg[#cfg + 1] = 'url = "' .. url .. '"\noutput = "/dev/null"' end
  writefile(T .. "/curl-b1.cfg", table.concat(cfg, "\n") .. "\n")
  local function wall_side(label, cmd)
    return { label, function()
      local r = timed(cmd)
      if not r.ok then return nil, last_stderr() end
      return { rps = B1_N / ((r.result and r.result.seconds) or r.wall) }
    end }
  end
  -- the floor sends the very header lines the SDK's client makes for this URL
  local client = require("scenario").new { base_url = base, api_key = "k", api_secret = "s", log = false }
  local floor_args = {}
  for i, h in ipairs(client:headers_for(base .. "/jobs/" .. JOB_ID)) do floor_args[i] = q(h) end
  R.b1_sdk, R.b1_c, R.b1_floor, R.b1_core, R.b1_socket, R.b1_jit, R.b1_par, R.b1_curlpar = interleaved({
    side("B1 SDK", lua_cmd("b1_sdk.lua", base, B1_N)),
    side("B1 C+libcurl", BUILD .. "/b1_baseline " .. q(url) .. " " .. B1_N),
    side("B1 floor", BUILD .. "/b1_floor " .. q(url) .. " " .. B1_N .. " " .. table.concat(floor_args, " ")),
    side("B1 core alone", lua_cmd("b1_core.lua", base, B1_N)),
    side("B1 LuaSocket", lua_cmd("b1_socket.lua", url, B1_N)),
    side("B1 SDK LuaJIT", LUAJIT .. " " .. lua_cmd("b1_sdk.lua", base, B1_N):gsub("^%S+ ", "")),
    side("B1 SDK 16 in flight", lua_cmd("b1_concurrent.lua", base, B1_N, B1_PAR)),
    wall_side("B1 curl --parallel", "curl -sS -f --no-progress-meter --parallel --parallel-max " ..
      B1_PAR .. " -K " .. q(T .. "/curl-b1.cfg")),
  }, RUNS_SHORT)
end

local function b2()
  log("B2: %d jobs of %d s through wait_all on the simulator", B2_JOBS, B2_SECONDS)
  local simmod = require "simulator.sim"
  local sim = simmod.start { job_duration = B2_SECONDS }
  local ok, err = pcall(function()
    R.b2 = repeat_runs("B2 SDK", function()
      sim:reset()
      local r = timed(lua_cmd("b2_wait_all.lua", sim.url, simmod.KEY, simmod.SECRET, B2_JOBS))
      if not (r.ok and r.result) then return nil, last_stderr() end
      R.b2_poll = r.result.poll_interval
      return { wall = r.result.wall, cpu_pct = 100 * r.result.cpu / r.result.wall,
        create = r.result.create }
    end)
  end)
  sim:stop()
  if not ok then error(err, 0) end
end

local function b3(base, have_uploads)
  log("B3: upload of 1 GiB in 8 MiB parts to an nginx PUT sink")
  local src = T .. "/upload.bin"
  assert(sh(string.format("head -c %d /dev/urandom > %s", B3_SIZE, q(src))))
  local function check_sink(path)
    local f = io.open(path, "rb")
    if not f then return false end
    local size = f:seek("end")
    f:close()
    return size == B3_SIZE
  end
  local sides = { { "B3 curl -T", function()
    os.remove(T .. "/sink/curl.bin")
    local r = timed("curl -sS -f -T " .. q(src) .. " " .. q(base .. "/sink/curl.bin"))
    if not r.ok then return nil, last_stderr() end
    local ok = check_sink(T .. "/sink/curl.bin")
    os.remove(T .. "/sink/curl.bin")
    if not ok then return nil, "the sink did not get 1 GiB" end
    return { mibps = B3_SIZE / 1048576 / r.wall, rss_mib = r.rss / 1024 }
  end } }
  if have_uploads then
    for _, conc in ipairs { 1, 4 } do
      sides[#sides + 1] = { "B3 SDK c" .. conc, function()
        local r = timed(lua_cmd("b3_upload.lua", base, src, conc))
        local got = tonumber((capture("cat " .. q(T) .. "/sink/part* 2>/dev/null | wc -c")))
        sh("rm -f " .. q(T) .. "/sink/part*")
        if not (r.ok and r.result) then return nil, last_stderr() end
        if got ~= B3_SIZE then
          return nil, string.format("the sink got %s bytes, not %d", tostring(got), B3_SIZE)
        end
        return { mibps = B3_SIZE / 1048576 / r.wall, rss_mib = r.rss / 1024 }
      end }
    end
  end
  R.b3_curl, R.b3_sdk1, R.b3_sdk4 = interleaved(sides, RUNS_SHORT)
  os.remove(src)
end

local function b4(base)
  log("B4: %d files of %d MiB, %d at once", B4_FILES, B4_SIZE // 1048576, B4_CONC)
  local out = T .. "/out"
  local function check()
    local n = tonumber((capture("find " .. q(out) .. " -type f -size " .. B4_SIZE .. "c | wc -l")))
    local all = tonumber((capture("find " .. q(out) .. " -type f | wc -l")))
    sh("rm -rf " .. q(out))
    return n == B4_FILES and all == B4_FILES
  end
  -- curl's list of transfers
  local cfg = {}
  for i = 1, B4_FILES do
    cfg[#cfg + 1] = string.format('url = "%s/files/f%d.bin"\noutput = "%s/f%d.bin"', base, i, out, i)
  end
  writefile(T .. "/curl-b4.cfg", table.concat(cfg, "\n") .. "\n")
  local function side(label, cmd)
    return { label, function()
      sh("rm -rf " .. q(out) .. " && mkdir -p " .. q(out))
      local r = timed(cmd)
      if not r.ok then return nil, last_stderr() end
      if not check() then return nil, "not every file arrived whole" end
      return { wall = r.wall, rss_mib = r.rss / 1024 }
    end }
  end
  R.b4_sdk, R.b4_curl = interleaved({
    side("B4 SDK", lua_cmd("b4_download.lua", base, out, B4_FILES, B4_CONC)),
    side("B4 curl --parallel", "curl -sS -f --parallel --parallel-max " .. B4_CONC ..
      " -K " .. q(T .. "/curl-b4.cfg")),
  }, RUNS_SHORT)
end

-- One side of B5 for host (b5_host: Lua 5.4; b5_host_luajit: the same host
-- on LuaJIT; or any other build of it in build/bench, see BENCH_B5_HOSTS).
-- env: set before the host's command (B5_IO_THREAD=0: no I/O thread).
local function b5_side(base, host, env)
  return { "B5 " .. host .. (env and " " .. env or ""), function(i)
    local out = T .. "/b5-" .. i
    local r = timed(string.format("%s%s/%s %s %s %d %d %d", env and "env " .. env .. " " or "", BUILD, host,
      q(base), q(out), B5_TRANSFERS, B5_SECONDS, B5_POLLS))
    sh("rm -rf " .. q(out))
    if not (r.ok and r.result) then return nil, last_stderr() end
    if r.result.min_in_flight < B5_TRANSFERS then
      return nil, string.format("only %d downloads stayed in flight", r.result.min_in_flight)
    end
    if B5_POLLS > 0 and ((r.result.polls or 0) == 0 or (r.result.poll_failed or 0) > 0) then
      return nil, string.format("job polls: %s done, %s failed", tostring(r.result.polls),
        tostring(r.result.poll_failed))
    end
    return { p50 = r.result.p50_ms, p99 = r.result.p99_ms, p999 = r.result.p999_ms,
      max = r.result.max_ms, max_cpu = r.result.max_cpu_ms, frames = r.result.frames,
      in_flight = r.result.min_in_flight, polls = r.result.polls }
  end }
end

-- The 5.4 and the LuaJIT host interleaved; BENCH_B5_HOSTS=a,b adds other
-- builds of bench/b5_host.c in build/bench (say, one linked with an older
-- libscenario.a), run in the same rounds and shown in the log only. The log
-- also shows the worst step's CPU time, which leaves out the time the other
-- processes of a busy machine took the CPU away from the host.
local function b5(base)
  log("B5: C host, %d downloads and %d job polls in flight, step(0) per 60 Hz frame for %d s",
    B5_TRANSFERS, B5_POLLS, B5_SECONDS)
  local sides = { b5_side(base, "b5_host", B5_FRAME_HOST), b5_side(base, "b5_host_luajit", B5_FRAME_HOST),
    b5_side(base, "b5_host"), b5_side(base, "b5_host", "B5_IO_THREAD=0") }
  for host in (os.getenv("BENCH_B5_HOSTS") or ""):gmatch("[^,%s]+") do
    sides[#sides + 1] = b5_side(base, host)
  end
  local out = { interleaved(sides) }
  R.b5, R.b5_jit, R.b5_default, R.b5_no_thread = out[1], out[2], out[3], out[4]
  for s = 1, #sides do
    local st = out[s]
    if st then
      log("  %s: p50 %.3f, p99 %.3f (%.3f-%.3f), p99.9 %.3f (%.3f-%.3f), max %.3f (%.3f-%.3f), " ..
        "max CPU %.3f (%.3f-%.3f) ms", sides[s][1], st.p50.median, st.p99.median, st.p99.min,
        st.p99.max, st.p999.median, st.p999.min, st.p999.max, st.max.median, st.max.min, st.max.max,
        st.max_cpu.median, st.max_cpu.min, st.max_cpu.max)
    end
  end
end

local function b6(have_runner)
  log("B6: start-up, require \"scenario\"")
  local prefix = T .. "/prefix"
  -- the files `make install` puts under PREFIX (copied here, so that B6
  -- does not rebuild anything)
  assert(sh(string.format("mkdir -p %s/share/lua/5.4 %s/lib/lua/5.4/scenario && " ..
    "cp -r lua/scenario %s/share/lua/5.4/ && cp build/lua/scenario/core.so %s/lib/lua/5.4/scenario/",
    q(prefix), q(prefix), q(prefix), q(prefix))))
  local env = string.format("env LUA_PATH=%s LUA_CPATH=%s ",
    q(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"),
    q(prefix .. "/lib/lua/5.4/?.so;;"))
  local cmds = {
    { "lua_require", env .. "lua5.4 -e 'require \"scenario\"'" },
    { "lua_empty", env .. "lua5.4 -e ''" },
  }
  if have_runner then
    cmds[#cmds + 1] = { "runner_require", "env -u LUA_PATH -u LUA_CPATH build/scenario-lua -e 'require \"scenario\"'" }
    cmds[#cmds + 1] = { "runner_empty", "env -u LUA_PATH -u LUA_CPATH build/scenario-lua -e ''" }
  end
  local n = math.max(RUNS, 30)
  local hf = capture("command -v hyperfine"):gsub("%s+$", "")
  if hf ~= "" then
    local args = { "hyperfine -N --style none --warmup 5 --runs " .. n, "--export-json " .. q(T .. "/hf.json") }
    for _, c in ipairs(cmds) do args[#args + 1] = q(c[2]) end
    local _, ok = capture(table.concat(args, " ") .. " 2>>" .. q(STDERR))
    local data = ok and json.decode(readfile(T .. "/hf.json") or "")
    if not data then
      failures[#failures + 1] = "B6 hyperfine: " .. last_stderr()
      return
    end
    for i, c in ipairs(cmds) do
      local times = {}
      for j, t in ipairs(data.results[i].times) do times[j] = t * 1000 end
      R["b6_" .. c[1]] = { ms = stats(times) }
      log("  B6 %s: median %.2f ms over %d runs (hyperfine)", c[1], R["b6_" .. c[1]].ms.median, #times)
    end
    R.b6_tool = "hyperfine " .. (capture("hyperfine --version"):match("[%d.]+") or "")
  else
    for _, c in ipairs(cmds) do
      R["b6_" .. c[1]] = repeat_runs("B6 " .. c[1], function()
        local t0 = core.now()
        if not sh(c[2]) then return nil, "exit status" end
        return { ms = (core.now() - t0) * 1000 }
      end, n)
    end
    R.b6_tool = "os.execute timing"
  end
end

local function b7(base)
  log("B7: %d requests in one process", B7_N)
  R.b7 = repeat_runs("B7 SDK", function()
    local r = timed(lua_cmd("b7_memory.lua", base, B7_N))
    if not (r.ok and r.result) then return nil, last_stderr() end
    return { growth_mib = r.result.growth_kib / 1024, rss100_mib = r.result.rss100_kib / 1024,
      rss_end_mib = r.result.rss_end_kib / 1024 }
  end)
end

------------------------------------------------------------------ the table

local function thousands(n)
  local s = string.format("%d", math.floor(n + 0.5))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function cell(st, fmt, unit)
  if not st then return "—" end
  local f = fmt == "int" and thousands or function(v) return string.format(fmt, v) end
  return string.format("%s %s (%s–%s)", f(st.median), unit, f(st.min), f(st.max))
end

local rows = {}
local function row(t) rows[#rows + 1] = t end

local function verdict(ok)
  if ok == nil then return "—" end
  return ok and "met" or "**MISSED**"
end

local function build_rows(have_uploads, upload_reason, have_runner, runner_reason)
  local nr = function(why) return "not run: " .. why end
  -- why a benchmark has no number: not selected, or its first failure
  local function no(id)
    if skipped[id] then return "not run: not selected (BENCH_ONLY)" end
    for _, f in ipairs(failures) do
      if f:sub(1, #id + 1) == id .. " " then return "**FAILED**: " .. f:gsub("|", "/") end
    end
    return "**FAILED**"
  end
  -- B1
  local s, c, l = R.b1_sdk and R.b1_sdk.rps, R.b1_c and R.b1_c.rps, R.b1_socket and R.b1_socket.rps
  local ratio = s and c and s.median / c.median
  row { "B1", "5,000 sequential GET /jobs/{id} over keep-alive, decoded into a Job (`client.jobs:get`): throughput",
    cell(s, "int", "req/s"), "C program, one reused libcurl easy handle, no decoding (`bench/b1_baseline.c`)",
    cell(c, "int", "req/s"), ratio and string.format("%.2fx", ratio) or "—", "≥ 0.8x",
    s and c and verdict(ratio >= 0.8) or no("B1") }
  local j = R.b1_jit and R.b1_jit.rps
  local jr = j and c and j.median / c.median
  row { "B1", "same, the SDK on LuaJIT 2.1 (`build-luajit`)", cell(j, "int", "req/s"),
    "the same C program", cell(c, "int", "req/s"), jr and string.format("%.2fx", jr) or "—", "≥ 0.8x",
    j and c and verdict(jr >= 0.8) or no("B1") }
  local lr = s and l and s.median / l.median
  row { "B1", "same SDK run", cell(s, "int", "req/s"),
    "LuaSocket " ..
    (capture(LUA .. [[ -e 'io.write(require("socket")._VERSION)' 2>/dev/null]]):match("[%d.]+") or "") ..
    " `socket.http.request` (no keep-alive in LuaSocket: a connection per request; no decoding)",
    cell(l, "int", "req/s"), lr and string.format("%.2fx", lr) or "—", "≥ 1.3x",
    s and l and verdict(lr >= 1.3) or no("B1") }
  -- the floor: a reference, not a target (what any Lua layer over this
  -- libcurl, sending these headers and decoding the job, stays below)
  local f = R.b1_floor and R.b1_floor.rps
  local fc, fl = f and c and f.median / c.median, f and l and f.median / l.median
  row { "B1", "the floor: the SDK's own request in C, no Lua layer (`bench/b1_floor.c`: the client's " ..
    "header lines and libcurl options, the header block kept, the body decoded by `core.json_decode`)",
    cell(f, "int", "req/s"), "the C program of the first row; LuaSocket", cell(c, "int", "req/s"),
    (fc and fl) and string.format("%.2fx; %.2fx of LuaSocket", fc, fl) or "—",
    "— (reference)", "—" }
  local k = R.b1_core and R.b1_core.rps
  local kf, sk = k and f and k.median / f.median, s and k and s.median / k.median
  row { "B1", "the C core alone from Lua 5.4, no client layer (`bench/b1_core.lua`: `core.request` with " ..
    "the client's options, `core.step`, `req:result()`, `core.json_decode`, `job.new`)",
    cell(k, "int", "req/s"), "the floor", cell(f, "int", "req/s"),
    kf and string.format("%.2fx", kf) or "—", "— (reference)", "—" }
  row { "B1", "the SDK (Lua 5.4) against the core alone: the client layer", cell(s, "int", "req/s"),
    "the core alone", cell(k, "int", "req/s"), sk and string.format("%.2fx", sk) or "—", "— (reference)", "—" }
  local p, cp = R.b1_par and R.b1_par.rps, R.b1_curlpar and R.b1_curlpar.rps
  local pr = p and cp and p.median / cp.median
  row { "B1", ("the same 5,000 requests, %d in flight (`scenario.spawn`, `bench/b1_concurrent.lua`)")
    :format(B1_PAR), cell(p, "int", "req/s"),
    ("`curl --parallel --parallel-max %d` of the same URLs (no decoding)"):format(B1_PAR),
    cell(cp, "int", "req/s"), pr and string.format("%.2fx", pr) or "—", "≥ 0.8x",
    p and cp and verdict(pr >= 0.8) or no("B1") }
  -- B2
  local w, cpu = R.b2 and R.b2.wall, R.b2 and R.b2.cpu_pct
  local poll = R.b2_poll or 2
  local limit = B2_SECONDS + 2 * poll
  row { "B2", string.format("%d jobs of %d s on the simulator through `wait_all` (poll interval %g s), " ..
      "wall from the first creation (median creation %.2f s)",
      B2_JOBS, B2_SECONDS, poll, R.b2 and R.b2.create.median or 0),
    cell(w, "%.2f", "s"), "the ideal: every job's 3 s at once", string.format("%d s", B2_SECONDS),
    w and string.format("%.2fx", w.median / B2_SECONDS) or "—",
    string.format("≤ %g s (3 s + 2 poll intervals)", limit), w and verdict(w.median <= limit) or no("B2") }
  row { "B2", "client CPU time (`os.clock`) over the same wall", cell(cpu, "%.2f", "%"), "—", "—", "—",
    "< 2% of wall", cpu and verdict(cpu.median < 2) or no("B2") }
  -- B3
  local cu = R.b3_curl
  local base3 = "`curl -T` of the same file, one stream"
  if have_uploads then
    for _, conc in ipairs { 1, 4 } do
      local sd = R["b3_sdk" .. conc]
      local rr = sd and cu and sd.mibps.median / cu.mibps.median
      local want = conc == 1 and 0.9 or 1.0
      row { "B3", string.format("upload of 1 GiB in 8 MiB parts to an nginx PUT sink (`client.uploads:file`), " ..
        "concurrency %d: throughput", conc),
        cell(sd and sd.mibps, "%.0f", "MiB/s"), base3, cell(cu and cu.mibps, "%.0f", "MiB/s"),
        rr and string.format("%.2fx", rr) or "—", conc == 1 and "≥ 0.9x" or "> 1x (ahead of curl)",
        rr and verdict(rr >= want and (conc == 1 or rr > 1)) or no("B3") }
    end
    local worst
    for _, conc in ipairs { 1, 4 } do
      local sd = R["b3_sdk" .. conc]
      if sd and (not worst or sd.rss_mib.median > worst.median) then worst = sd.rss_mib end
    end
    row { "B3", "peak RSS of the upload (`/usr/bin/time -v`, the larger of concurrency 1 and 4)",
      cell(worst, "%.1f", "MiB"), base3, cell(cu and cu.rss_mib, "%.1f", "MiB"), "—", "< 40 MiB",
      worst and verdict(worst.median < 40) or no("B3") }
  else
    row { "B3", "upload of 1 GiB in 8 MiB parts to an nginx PUT sink, concurrency 1 and 4; peak RSS",
      nr(upload_reason), base3, cell(cu and cu.mibps, "%.0f", "MiB/s"), "—",
      "c1 ≥ 0.9x, c4 > 1x, RSS < 40 MiB", nr(upload_reason) }
  end
  -- B4
  local sw, cw = R.b4_sdk and R.b4_sdk.wall, R.b4_curl and R.b4_curl.wall
  local r4 = sw and cw and sw.median / cw.median
  local base4 = string.format("`curl --parallel --parallel-max %d` of the same URLs", B4_CONC)
  row { "B4", string.format("download of %d files of 4 MiB from nginx (`client.assets:download`, %d at once): wall",
      B4_FILES, B4_CONC),
    cell(sw, "%.3f", "s"), base4, cell(cw, "%.3f", "s"), r4 and string.format("%.2fx", r4) or "—",
    "≤ 1.05x", r4 and verdict(r4 <= 1.05) or no("B4") }
  local sr, cr = R.b4_sdk and R.b4_sdk.rss_mib, R.b4_curl and R.b4_curl.rss_mib
  row { "B4", "peak RSS (`/usr/bin/time -v`)", cell(sr, "%.1f", "MiB"), base4, cell(cr, "%.1f", "MiB"),
    sr and cr and string.format("%.2fx", sr.median / cr.median) or "—", "< 40 MiB",
    sr and verdict(sr.median < 40) or no("B4") }
  -- B5: p50, p99, p99.9 and max of both hosts (the host takes the frame at
  -- rank floor(n * p) of the sorted times: with 300 frames p99.9 is the max)
  local function b5_rows(st, what, host)
    local p99, p999, mx = st and st.p99, st and st.p999, st and st.max
    local n = st and st.frames and st.frames.median or 0
    row { "B5", string.format("%s: p99 time in step (p50: %.3f ms)", what, st and st.p50.median or 0),
      cell(p99, "%.3f", "ms"), "none: absolute", "—", "—", "< 0.3 ms", p99 and verdict(p99.median < 0.3) or no("B5") }
    row { "B5", "p99.9 time in step" .. host .. (n < 1000 and string.format(" (of %d frames: the max)", n) or ""),
      cell(p999, "%.3f", "ms"), "none: absolute", "—", "—", "shown", "—" }
    row { "B5", "max time in step" .. host, cell(mx, "%.3f", "ms"), "none: absolute", "—", "—",
      "< 2 ms (aim: 1 ms)", mx and verdict(mx.median < 2) or no("B5") }
  end
  local frames = R.b5 and R.b5.frames and R.b5.frames.median or 0
  local function polls(st) return st and st.polls and st.polls.median or 0 end
  b5_rows(R.b5, string.format("C host (`bench/b5_host.c`, libscenario.a), %d downloads (nginx `limit_rate %s` " ..
    "each) and %d job polls (`client.jobs:get` about every 0.5 s) in flight, all asked for before the first " ..
    "frame; `scenario_step(L, 0)` each 60 Hz frame, %d s (%d frames); as a frame host is advised to run it: " ..
    "the transfers in the I/O thread (`scenario_io_thread(L, 1)`), 0.1 ms of Lua dispatched per step " ..
    "(`scenario.loop.BUDGET = 0.0001`; %d polls done)", B5_TRANSFERS, B5_RATE, B5_POLLS, B5_SECONDS, frames,
    polls(R.b5)), "")
  b5_rows(R.b5_jit, string.format("the same host on LuaJIT 2.1 (`b5_host_luajit`: build-luajit's libscenario.a, " ..
    "libluajit; %d polls done)", polls(R.b5_jit)), ", LuaJIT")
  -- the same scene with the default dispatch budget, and without the I/O thread
  local function shown(st, what)
    row { "B5", string.format("%s: p99 time in step (p50: %.3f ms; %d polls done)", what,
      st and st.p50.median or 0, polls(st)), cell(st and st.p99, "%.3f", "ms"), "none: absolute", "—", "—",
      "shown", "—" }
    row { "B5", "max time in step, " .. what:gsub(" %(.*", ""), cell(st and st.max, "%.3f", "ms"),
      "none: absolute", "—", "—", "shown", "—" }
  end
  shown(R.b5_default, "the Lua 5.4 host with the default dispatch budget (1 ms)")
  shown(R.b5_no_thread, "the Lua 5.4 host without the I/O thread (`B5_IO_THREAD=0`: libcurl's work in " ..
    "the step, bounded by the start and I/O budgets; default dispatch budget)")
  -- B6
  local lreq, lemp = R.b6_lua_require and R.b6_lua_require.ms, R.b6_lua_empty and R.b6_lua_empty.ms
  local base6 = "`lua5.4 -e 'require \"scenario\"'` with the module installed " ..
    "(laid out as `make install` does, in a temporary prefix)"
  if have_runner then
    local rreq, remp = R.b6_runner_require and R.b6_runner_require.ms, R.b6_runner_empty and R.b6_runner_empty.ms
    local r6 = rreq and lreq and rreq.median / lreq.median
    row { "B6", "`scenario-lua -e 'require \"scenario\"'`", cell(rreq, "%.2f", "ms"), base6,
      cell(lreq, "%.2f", "ms"), r6 and string.format("%.2fx", r6) or "—", "≤ 1.2x",
      r6 and verdict(r6 <= 1.2) or no("B6") }
    row { "B6", "`scenario-lua -e ''`", cell(remp, "%.2f", "ms"), "`lua5.4 -e ''`", cell(lemp, "%.2f", "ms"),
      remp and lemp and string.format("%.2fx", remp.median / lemp.median) or "—", "shown beside", "—" }
  else
    row { "B6", "`scenario-lua -e 'require \"scenario\"'`", nr(runner_reason), base6, cell(lreq, "%.2f", "ms"),
      "—", "≤ 1.2x", nr(runner_reason) }
    row { "B6", "`scenario-lua -e ''`", nr(runner_reason), "`lua5.4 -e ''`", cell(lemp, "%.2f", "ms"), "—",
      "shown beside", "—" }
  end
  -- B7
  local g = R.b7 and R.b7.growth_mib
  row { "B7", string.format("%s requests (`client.jobs:get`) in one process: VmRSS growth from request 100 " ..
      "to %s (after a full GC each; RSS at 100: %.1f MiB)",
      thousands(B7_N), thousands(B7_N), R.b7 and R.b7.rss100_mib.median or 0),
    cell(g, "%.2f", "MiB"), "RSS after the first 100 requests", "—", "—", "< 2 MiB",
    g and verdict(g.median < 2) or no("B7") }
end

local function table_text(header)
  local out = { header, "",
    "| id | measured | SDK: median (min–max) | baseline | baseline: median (min–max) | ratio | target | result |",
    "|---|---|---|---|---|---|---|---|" }
  for _, r in ipairs(rows) do
    out[#out + 1] = "| " .. table.concat(r, " | ") .. " |"
  end
  return table.concat(out, "\n")
end

local function write_readme(text)
  local readme = readfile("README.md")
  local s, e = readme:find("<!%-%- bench:start %-%->\n"), readme:find("<!%-%- bench:end %-%->")
  if not (s and e and e > s) then
    log("README.md has no <!-- bench:start --> / <!-- bench:end --> markers: not written")
    return false
  end
  local _, start_end = readme:find("<!%-%- bench:start %-%->\n")
  writefile("README.md", readme:sub(1, start_end) .. text .. "\n" .. readme:sub(e))
  return true
end

------------------------------------------------------------------ main

local have_uploads = exists("lua/scenario/resources/uploads.lua")
local upload_reason = "`client.uploads:file` (lua/scenario/resources/uploads.lua) is not in the tree yet"
local have_runner = exists("build/scenario-lua")
local runner_reason = "the `scenario-lua` runner (build/scenario-lua) is not built yet"

local started = core.now()
local base = nginx.start()
local ok, err = pcall(function()
  -- the 4 MiB files of B4 and B5 (the same random bytes in each)
  assert(sh(string.format("head -c %d /dev/urandom > %s", B4_SIZE, q(T .. "/www/files/f1.bin"))))
  for i = 2, B4_FILES do
    assert(sh(string.format("cp %s %s", q(T .. "/www/files/f1.bin"), q(T .. "/www/files/f" .. i .. ".bin"))))
  end
  local only = os.getenv("BENCH_ONLY")   -- e.g. "b1,b4": run only those
  local list = { { "b1", b1, base }, { "b7", b7, base }, { "b4", b4, base }, { "b5", b5, base },
    { "b3", b3, base, have_uploads }, { "b6", b6, have_runner }, { "b2", b2 } }
  for _, b in ipairs(list) do
    local id = b[1]:upper()
    if only and not only:lower():find(b[1], 1, true) then
      skipped[id] = true
    else
      -- a benchmark that breaks is reported in its rows; the others still run
      local bok, berr = pcall(b[2], b[3], b[4])
      if not bok then
        log("%s: FAILED: %s", id, tostring(berr))
        failures[#failures + 1] = id .. " setup: " .. tostring(berr)
      end
    end
  end
end)
nginx.stop()
if os.getenv("BENCH_KEEP") == "1" then log("kept %s", T) else sh("rm -rf " .. q(T)) end
if not ok then
  log("bench: %s", tostring(err))
  os.exit(1)
end

build_rows(have_uploads, upload_reason, have_runner, runner_reason)
local cpu = (readfile("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"
local header = string.format("Measured by `make bench` on %s: %s, %d CPUs, Linux %s; nginx %s, curl %s, %s. " ..
  "Each side run %d times in the same run, interleaved (B1, B3, B4: %d; B6: %s, %d runs), " ..
  "median (min–max); a result is judged on the median. nginx: %s.",
  os.date("!%Y-%m-%d"), cpu, tonumber((capture("nproc"))) or 0, capture("uname -r"):gsub("%s+$", ""),
  capture("nginx -v 2>&1"):match("[%d.]+") or "?", capture("curl --version"):match("curl ([%d.]+)") or "?",
  (capture(LUA .. " -v"):match("Lua [%d.]+") or "Lua"), RUNS, RUNS_SHORT, R.b6_tool or "-", math.max(RUNS, 30),
  NGINX_WORKERS == "auto" and "one worker per CPU" or
    (NGINX_WORKERS .. (NGINX_WORKERS == "1" and " worker" or " workers")))
local text = table_text(header)
local notes = {}
for _, f in ipairs(failures) do notes[#notes + 1] = "- failed: " .. f end
if #notes > 0 then text = text .. "\n\n" .. table.concat(notes, "\n") end
print(text)
writefile(BUILD .. "/results.md", text .. "\n")
local encoded = json.encode(R)
if encoded then writefile(BUILD .. "/results.json", encoded) end
if os.getenv("BENCH_NO_README") ~= "1" and not os.getenv("BENCH_ONLY") then
  if write_readme(text) then log("README.md: table written between the bench markers") end
end
log("bench: %.0f s", core.now() - started)
