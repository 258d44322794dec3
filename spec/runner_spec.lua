-- The scenario-lua runner (csrc/main.c, lua/scenario/runner/), run as a
-- shell user runs it: the built binary against the simulator, stdout and
-- stderr captured, --json parsed back, every exit status checked.
local sim_mod = require "support.sim"
local cjson = require "cjson"
local native = require "support.native"

-- The runner is a Lua 5.4 binary (csrc/main.c), made by 5.4's build: under
-- another interpreter the suite still runs it from build/ (make builds it).
local interp = require "support.interp"
local build = interp.name == "lua5.4" and interp.build or "build"
local ROOT = os.getenv("PWD") or "."
-- so its specs belong to the Lua 5.4 suites (build, build-asan): the suites
-- of the other interpreters would run the very same binary again
if interp.name ~= "lua5.4" then return end
local BIN = ROOT .. "/" .. build .. "/scenario-lua"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local files = require "support.files"
local slurp, write, tmpdir = files.read, files.write, files.tmpdir

local sim

-- the environment of a command: the simulator's address and credentials
local function sim_env(extra)
  return string.format("SCENARIO_API_URL=%s SCENARIO_API_KEY=%s SCENARIO_API_SECRET=%s " ..
    "SCENARIO_POLL_INTERVAL=0.05 %s", sim.url, sim_mod.KEY, sim_mod.SECRET, extra or "")
end

--- Runs the binary with `args` (shell words). opts: env (prefix), dir,
-- stdin (a text). Returns exit status, stdout, stderr.
local function run(args, opts)
  opts = opts or {}
  local out, err, input = os.tmpname(), os.tmpname(), os.tmpname()
  write(input, opts.stdin or "")
  local cmd = string.format("cd %s && %s %s %s < %s > %s 2> %s", quote(opts.dir or ROOT),
    opts.env or (sim and sim_env() or ""), BIN, args, input, out, err)
  local _, _, code = require("support.sh")(cmd)
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  os.remove(input)
  return code, o, e
end

-- runs a command with --json and decodes its one document
local function run_json(args, opts)
  local code, out, err = run(args .. " --json", opts)
  local ok, doc = pcall(cjson.decode, out)
  assert(ok, "stdout is not one JSON document: " .. out .. "\nstderr: " .. err)
  return code, doc, err, out
end

local function is_png(path)
  local s = slurp(path)
  return s ~= nil and s:sub(1, 8) == "\137PNG\r\n\26\n"
end

describe("scenario-lua as a Lua interpreter", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("fills arg and ... like lua5.4", function()
    write(dir .. "/args.lua", "print(select('#', ...), ..., arg[0], arg[1], arg[2], #arg)\n" ..
      "print(arg[-1], arg[-2], arg[-3] ~= nil, arg[-4])\n")
    local code, out, err = run("-e 'x=1' " .. dir .. "/args.lua a 'b c'")
    assert.are.equal(0, code, err)
    local p = io.popen("lua5.4 -e 'x=1' " .. dir .. "/args.lua a 'b c'")
    local want = p:read("*a")
    p:close()
    assert.are.equal(want, out)
    assert.matches("^2\ta\t" .. dir:gsub("%p", "%%%0") .. "/args.lua\ta\tb c\t2\n", out)
    assert.matches("\nx=1\t%-e\ttrue\tnil\n$", out)
  end)

  it("runs -e and -l in order, -l g=mod, and a script from stdin with -", function()
    local code, out = run("-l string -l s=scenario -e 'print(string.rep(\"ab\", 2), s.VERSION)'")
    assert.are.equal(0, code)
    assert.are.equal("abab\t0.1.0\n", out)
    code, out = run("- x y", { stdin = "print('stdin', ...)\n" })
    assert.are.equal(0, code)
    assert.are.equal("stdin\tx\ty\n", out)
    code, out = run("", { stdin = "print(require('scenario.json').encode{1})\n" })
    assert.are.equal(0, code)
    assert.are.equal("[1]\n", out)
  end)

  it("prints an error with its traceback and exits 1, honouring __tostring", function()
    local code, out, err = run("-e 'local function f() error(\"boom\") end f()'")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("scenario%-lua: %(command line%):1: boom\nstack traceback:\n", err)
    assert.matches("in local 'f'", err)
    local _
    code, _, err = run("-e 'error(setmetatable({}, { __tostring = function() return \"custom!\" end }))'")
    assert.are.equal(1, code)
    assert.matches("scenario%-lua: custom!\nstack traceback:", err)
    -- an SDK error raised by assert reads as one line
    code, _, err = run("-e 'assert(require(\"scenario\").new():call(\"Nope\"))'")
    assert.are.equal(1, code)
    assert.matches("validation error in Nope: unknown operation Nope\nstack traceback", err)
    code, _, err = run("-e 'syntax error'")
    assert.are.equal(1, code)
    assert.matches("syntax error near 'error'", err)
  end)

  it("keeps a script's os.exit code, and -v prints the versions", function()
    assert.are.equal(3, (run("-e 'os.exit(3)'")))
    assert.are.equal(0, (run("-e 'os.exit(true)'")))
    assert.are.equal(1, (run("-e 'os.exit(false)'")))
    local code, out = run("-v")
    assert.are.equal(0, code)
    assert.matches("^Lua 5%.4%.%d+  Copyright", out)
    assert.matches("\nscenario%-lua 0%.1%.0\n$", out)
    local err
    code, out, err = run("-x")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("unrecognized option '%-x'\nusage:", err)
  end)

  it("has an interactive mode (-i) that prints expressions", function()
    local code, out = run("-i -e 'x = 20'", { stdin = "x + 1\nfor i = 1, 2 do\nprint('i', i)\nend\n" })
    assert.are.equal(0, code)
    assert.matches("21\n", out)
    assert.matches("i\t1\n.*i\t2\n", out)
  end)

  it("runs LUA_INIT first, and not with -E", function()
    local _, out = run("-e 'print(init)'", { env = "LUA_INIT='init = \"yes\"'" })
    assert.are.equal("yes\n", out)
    _, out = run("-E -e 'print(init)'", { env = "LUA_INIT='init = \"yes\"'" })
    assert.are.equal("nil\n", out)
    _, out = run("-e 'print(init)'", { env = "LUA_INIT_5_4='init = 54' LUA_INIT='init = 0'" })
    assert.are.equal("54\n", out)
  end)

  it("runs a script called like a command when it is written as a path or after --", function()
    write(dir .. "/ops", "print('the script', ...)\n")
    local code, out = run("./ops 1", { dir = dir })
    assert.are.equal(0, code)
    assert.are.equal("the script\t1\n", out)
    code, out = run("-- ops 2", { dir = dir })
    assert.are.equal(0, code)
    assert.are.equal("the script\t2\n", out)
    code, out = run("ops GetJobId", { dir = dir })
    assert.are.equal(0, code)
    assert.matches("^GetJobId +GET +/jobs/{jobId}", out)
  end)
end)

describe("scenario-lua commands", function()
  local dir
  setup(function()
    sim = sim_mod.start { job_duration = 0.3 }
    dir = tmpdir()
  end)
  teardown(function()
    sim:stop()
    sim = nil
    os.execute("rm -rf " .. dir)
  end)

  it("generate prints the job; --json gives the job object with its record", function()
    local code, out, err = run("generate txt2img modelId=flux.1-dev 'prompt=a red fox'")
    assert.are.equal(0, code, err)
    assert.matches("^job_%w+  pending  0%%  inference\n$", out)
    local doc
    code, doc = run_json("generate txt2img modelId=flux.1-dev 'prompt=a red fox' numSamples=2")
    assert.are.equal(0, code)
    assert.are.equal(1, #doc.jobs)
    local job = doc.jobs[1]
    assert.matches("^job_", job.id)
    assert.are.equal(job.id, job.record.jobId)
    assert.are.equal(10, job.cost)
    assert.are.equal("inference", job.type)
    assert.are.same({}, job.files)
    assert.are.equal(cjson.null, job.error)
    assert.are.equal(2, job.record.metadata.input.numSamples)  -- typed as a number
  end)

  it("generate --out waits and downloads the outputs; --dry-run prints the cost", function()
    local out_dir = dir .. "/gen"
    local code, doc, err = run_json("generate txt2img modelId=flux.1-dev prompt=lighthouse " ..
      "numSamples=2 --out " .. out_dir)
    assert.are.equal(0, code, err)
    local job = doc.jobs[1]
    assert.are.equal("success", job.status)
    assert.are.equal(2, #job.assets)
    assert.are.equal(2, #job.files)
    for i, f in ipairs(job.files) do
      assert.are.equal(job.assets[i], f.asset)
      assert.are.equal(out_dir .. "/" .. f.asset .. ".png", f.path)
      assert.is_true(is_png(f.path))
    end
    code, doc = run_json("generate txt2img modelId=flux.1-dev prompt=x numSamples=3 --dry-run")
    assert.are.equal(0, code)
    assert.are.equal(15, doc.creativeUnitsCost)
    local human
    code, human = run("generate txt2img modelId=flux.1-dev prompt=x --dry-run")
    assert.are.equal(0, code)
    assert.matches("^cost: 5 creative units", human)
  end)

  it("generate takes custom:<modelId>, remove-background spellings and typed values", function()
    local code, doc, err = run_json("generate custom:model_sim-custom prompt=castle numSamples=2 " ..
      "guidance=2.5 highQuality=true tags:='[\"a\",\"b\"]' --wait")
    assert.are.equal(0, code, err)
    assert.are.equal("success", doc.jobs[1].status)
    local input = doc.jobs[1].record.metadata.input
    assert.are.same({ 2, 2.5, true, { "a", "b" } },
      { input.numSamples, input.guidance, input.highQuality, input.tags })
    code, doc, err = run_json("generate remove-background image=asset_x")
    assert.are.equal(0, code, err)
    assert.are.equal("remove-background", doc.jobs[1].type)
  end)

  it("exits 2 on a usage or validation error, naming the field", function()
    local code, doc, err = run_json("generate txt2img modelId=m prompt=x numSamples=many")
    assert.are.equal(2, code)
    assert.are.equal("validation", doc.error.kind)
    assert.are.same({ 'numSamples: must be an integer (got "many")' }, doc.error.problems)
    assert.matches("numSamples: must be an integer", err)
    code, doc = run_json("generate txt2img modelId=m prompt=x promt=y")
    assert.are.equal(2, code)
    assert.matches("promt: unknown field", doc.error.message)
    code = run("generate txt2img modelId=m prompt=x promt=y --send-unknown")
    assert.are.equal(0, code)
    code, doc = run_json("generate txt2img modelId=m prompt=x concepts:='[{'")
    assert.are.equal(2, code)
    assert.matches("concepts: not valid JSON", doc.error.message)
    for _, args in ipairs { "generate", "generate nope prompt=x", "generate txt2img --bogus",
      "jobs", "jobs frob x", "download", "call", "call NoSuchOperation", "upload" } do
      code, doc, err = run_json(args)
      assert.are.equal(2, code, args)
      assert.are.equal("usage", doc.error.kind, args)
      assert.matches("see 'scenario%-lua", err, 1, false)
    end
  end)

  it("exits 3 when the job fails, and 1 on an API error", function()
    sim:faults("POST", "/generate/txt2img", { "job_fail=the GPU melted" })
    local code, doc, err = run_json("generate txt2img modelId=m prompt=x --wait")
    assert.are.equal(3, code)
    assert.are.equal("job_failed", doc.error.kind)
    assert.matches("the GPU melted", doc.error.message)
    assert.are.equal("failure", doc.jobs[1].status)
    assert.are.equal("job_failed", doc.jobs[1].error.kind)
    assert.matches("job_failed", err)
    code, doc = run_json("jobs get job_does_not_exist")
    assert.are.equal(1, code)
    assert.are.equal("not_found", doc.error.kind)
    assert.are.equal(404, doc.error.status)
    local wrong_secret = sim_env():gsub(sim_mod.SECRET:gsub("%p", "%%%0"), "wrong")
    code = run("ops GetJobId", { env = wrong_secret })
    assert.are.equal(0, code) -- ops needs no API
    code, doc = run_json("jobs get job_x", { env = wrong_secret })
    assert.are.equal(1, code)
    assert.are.equal("auth", doc.error.kind)
  end)

  it("jobs get, cancel and wait", function()
    local _, started = run_json("generate txt2img modelId=m prompt=slow")
    local id = started.jobs[1].id
    local code, doc = run_json("jobs get " .. id)
    assert.are.equal(0, code)
    assert.are.equal(id, doc.jobs[1].id)
    local out
    code, out = run("jobs wait " .. id .. " --out " .. dir .. "/waited")
    assert.are.equal(0, code)
    local path = out:match("\n(%S+%.png)\n")
    assert.is_true(is_png(path), out)
    -- a job canceled while it runs: cancel succeeds, a wait then exits 3
    sim:faults("POST", "/generate/txt2img", { "job_duration=30" })
    _, started = run_json("generate txt2img modelId=m prompt=slow")
    id = started.jobs[1].id
    code, doc = run_json("jobs cancel " .. id)
    assert.are.equal(0, code)
    assert.are.equal("canceled", doc.jobs[1].status)
    code, doc = run_json("jobs wait " .. id)
    assert.are.equal(3, code)
    assert.are.equal("job_canceled", doc.error.kind)
    assert.are.equal("canceled", doc.jobs[1].status)
  end)

  it("download writes assets by id; an unknown id exits 1", function()
    local _, gen = run_json("generate txt2img modelId=m prompt=a numSamples=2 --wait")
    local ids = gen.jobs[1].assets
    local out_dir = dir .. "/dl"
    local code, doc, err = run_json("download " .. ids[1] .. " " .. ids[2] .. " --out " .. out_dir)
    assert.are.equal(0, code, err)
    assert.are.equal(2, #doc.files)
    for i, f in ipairs(doc.files) do
      assert.are.equal(ids[i], f.asset)
      assert.is_true(is_png(f.path))
    end
    local human
    code, human = run("download " .. ids[1] .. " --out " .. dir .. "/dl2")
    assert.are.equal(0, code)
    assert.are.equal(dir .. "/dl2/" .. ids[1] .. ".png\n", human)
    -- again into the same folder: a file already there is never overwritten
    code, human = run("download " .. ids[1] .. " --out " .. dir .. "/dl2")
    assert.are.equal(0, code)
    assert.matches("^" .. (dir .. "/dl2/" .. ids[1]):gsub("%p", "%%%0") .. "%-%x+%.png\n$", human)
    code, doc = run_json("download asset_missing --out " .. out_dir)
    assert.are.equal(1, code)
    assert.are.equal("not_found", doc.error.kind)
  end)

  it("download fetches every id it can, then reports each failure and exits 1", function()
    local _, gen = run_json("generate txt2img modelId=m prompt=three numSamples=3 --wait")
    local ids = gen.jobs[1].assets
    assert.are.equal(3, #ids)
    local words = table.concat({ ids[1], "asset_missing", ids[2], ids[3] }, " ")
    -- human output: the three paths on stdout, one line on stderr for the bad id
    local out_dir = dir .. "/partial"
    local code, out, err = run("download " .. words .. " --out " .. out_dir)
    assert.are.equal(1, code, err)
    local want = {}
    for i, id in ipairs(ids) do want[i] = out_dir .. "/" .. id .. ".png" end
    assert.are.equal(table.concat(want, "\n") .. "\n", out)
    for _, path in ipairs(want) do assert.is_true(is_png(path), path) end
    assert.matches("^scenario%-lua: asset_missing: not_found error in GetAssetsByAssetId %(HTTP 404%)" ..
      "[^\n]*\n$", err)
    -- --json: the files written and one error per failed id
    local json_dir = dir .. "/partial_json"
    local doc
    code, doc, err = run_json("download " .. words .. " --out " .. json_dir)
    assert.are.equal(1, code)
    assert.are.equal(3, #doc.files)
    for i, f in ipairs(doc.files) do
      assert.are.same({ asset = ids[i], path = json_dir .. "/" .. ids[i] .. ".png" }, f)
      assert.is_true(is_png(f.path))
    end
    assert.are.equal(1, #doc.errors)
    assert.are.equal("asset_missing", doc.errors[1].asset)
    assert.are.equal("not_found", doc.errors[1].kind)
    assert.are.equal(404, doc.errors[1].status)
    assert.are.equal("GetAssetsByAssetId", doc.errors[1].operation)
    assert.are.same(doc.errors[1], doc.error) -- a failed command's document has "error"
    local lines = select(2, err:gsub("\n", ""))
    assert.are.equal(1, lines, err)
  end)

  it("gives a job the same JSON object from generate, jobs get, wait and cancel", function()
    local KEYS = { "assets", "cost", "error", "files", "id", "progress", "record", "status", "type" }
    local function keys(t)
      local list = {}
      for k in pairs(t) do list[#list + 1] = k end
      table.sort(list)
      return list
    end
    local _, started = run_json("generate txt2img modelId=m prompt=shape numSamples=2")
    local job = started.jobs[1]
    assert.are.same(KEYS, keys(job))
    local code, got = run_json("jobs get " .. job.id)
    assert.are.equal(0, code)
    local code2, waited = run_json("jobs wait " .. job.id .. " --out " .. dir .. "/shape")
    assert.are.equal(0, code2)
    local _, gen_waited = run_json("generate txt2img modelId=m prompt=shape --wait")
    for _, doc in ipairs { got, waited, gen_waited } do
      assert.are.same({ "jobs" }, keys(doc))
      assert.are.same(KEYS, keys(doc.jobs[1]))
    end
    assert.are.equal(job.id, got.jobs[1].id)
    assert.are.equal(job.id, waited.jobs[1].id)
    -- the same values where the job did not move on: its cost and type
    assert.are.equal(job.cost, got.jobs[1].cost)
    assert.are.equal(job.cost, waited.jobs[1].cost)
    assert.are.equal(job.type, waited.jobs[1].type)
    assert.are.equal("success", waited.jobs[1].status)
    assert.are.equal(2, #waited.jobs[1].assets)
    assert.are.equal(2, #waited.jobs[1].files)
    sim:faults("POST", "/generate/txt2img", { "job_duration=30" })
    local _, slow = run_json("generate txt2img modelId=m prompt=slow")
    local _, canceled = run_json("jobs cancel " .. slow.jobs[1].id)
    assert.are.same(KEYS, keys(canceled.jobs[1]))
  end)

  it("upload sends a file", function()
    local file = dir .. "/up.png"
    write(file, slurp(ROOT .. "/examples/quickstart.lua"))
    local code, doc, err = run_json("upload " .. file .. " --kind image")
    assert.are.equal(0, code, err)
    assert.are.equal("table", type(doc.upload))
    code, doc = run_json("upload " .. dir .. "/missing.png")
    assert.are.equal(1, code)
    assert.is_truthy(doc.error)
  end)

  it("call reaches any operation with typed fields", function()
    local _, gen = run_json("generate txt2img modelId=m prompt=a numSamples=2 --wait")
    local assets = gen.jobs[1].assets
    local code, doc, err = run_json("call GetAssetsByAssetId assetId=" .. assets[1])
    assert.are.equal(0, code, err)
    assert.are.equal(assets[1], doc.asset.id)
    code, doc = run_json("call PostAssetGetBulk assetIds=" .. assets[1] .. "," .. assets[2])
    assert.are.equal(0, code)
    assert.are.equal(2, #doc.assets)
    local out
    code, out = run("call GetModelsByModelId modelId=flux.1-dev")
    assert.are.equal(0, code)
    assert.matches('^{\n  "model": {\n', out)
    code, doc = run_json("call PostTxt2imgInferences modelId=m prompt=x --dry-run")
    assert.are.equal(0, code)
    assert.are.equal(5, doc.creativeUnitsCost)
    code, doc = run_json("call GetAssetsByAssetId")
    assert.are.equal(2, code)
    assert.are.same({ "assetId: required" }, doc.error.problems)
  end)

  it("ops lists the operations with method and path", function()
    local code, doc = run_json("ops")
    assert.are.equal(0, code)
    assert.are.equal(108, #doc.operations)
    local out
    code, out = run("ops txt2img")
    assert.are.equal(0, code)
    assert.matches("PostTxt2imgInferences +POST +/generate/txt2img +client%.generate:txt2img", out)
    for line in out:gmatch("[^\n]+") do assert.matches("txt2img", line:lower()) end
  end)

  it("ops exits 2 when the filter matches no operation", function()
    local code, out, err = run("ops zzzz")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^scenario%-lua: no operation matches 'zzzz'\n", err)
    local doc
    code, doc = run_json("ops zzzz")
    assert.are.equal(2, code)
    assert.are.equal("usage", doc.error.kind)
    assert.matches("no operation matches 'zzzz'", doc.error.message)
  end)

  it("answers --help on every command", function()
    local runner = require "scenario.runner"
    for _, name in ipairs(runner.COMMANDS) do
      local code, out = run(name .. " --help")
      assert.are.equal(0, code, name)
      assert.matches("usage: scenario%-lua", out, 1, false)
    end
    local code, out = run("generate txt2img --help")
    assert.are.equal(0, code)
    assert.matches("prompt +string, required", out)
    assert.matches("numSamples +integer, 1%.%.128", out)
    code, out = run("call GetAssets --help")
    assert.are.equal(0, code)
    assert.matches("pageSize +integer, 1%.%.100 %(query%)", out)
    code, out = run("--help")
    assert.are.equal(0, code)
    assert.matches("Exit status: 0 success, 1", out)
  end)

  it("draws a progress bar on a terminal, ending at 100%", function()
    local cmd = string.format("cd %s && %s %s generate txt2img modelId=m prompt=bar --out %s",
      quote(ROOT), sim_env("COLUMNS=100"), BIN, dir .. "/pty")
    local p = io.popen(native .. "script -qec " .. quote(cmd) .. " /dev/null")
    local out = p:read("*a")
    p:close()
    local bars = {}
    for line in out:gmatch("\r([^\r\n]*)") do
      if line:find("%[[#-]+%]") then bars[#bars + 1] = line:gsub("\27%[K", "") end
    end
    assert.is_true(#bars >= 2, out)
    assert.matches("^job_%w+ %[%-+%] +%d+%% ", bars[1])
    local last_job
    for _, b in ipairs(bars) do if b:find("^job_") then last_job = b end end
    assert.matches("%[#+%] 100%% success$", last_job)
    assert.matches("^download %[#+%] 100%% ", bars[#bars])
    -- and nothing of it when stderr is not a terminal
    local _, _, err = run("generate txt2img modelId=m prompt=bar --wait")
    assert.are.equal("", err)
  end)

  it("stops on Ctrl-C, names the jobs still running and exits 130", function()
    sim:faults("POST", "/generate/txt2img", { "job_duration=30" })
    local polls = sim:count("GET /jobs/{jobId}")
    local out, err = os.tmpname(), os.tmpname()
    local p = io.popen(string.format("%s %s generate txt2img modelId=m prompt=long --wait --json" ..
      " > %s 2> %s & echo $!; wait $!; echo $?", sim_env(), BIN, out, err))
    local pid = p:read("*l")
    -- the signal is sent once the job is being polled: the handler is set then
    local deadline = os.time() + 10
    while sim:count("GET /jobs/{jobId}") <= polls and os.time() < deadline do
      os.execute("sleep 0.05")
    end
    os.execute("kill -INT " .. pid)
    local code = tonumber(p:read("*l"))
    p:close()
    local doc = cjson.decode(slurp(out))
    local text = slurp(err)
    os.remove(out)
    os.remove(err)
    assert.are.equal(130, code, text)
    assert.are.equal("interrupted", doc.error.kind)
    local id = doc.running_jobs[1]
    assert.matches("^job_", id)
    assert.matches("job " .. id .. " is still running; resume with: scenario%-lua jobs wait " .. id, text)
  end)

  it("runs a script that generates and downloads from an empty directory, without LUA_PATH", function()
    local empty = tmpdir()
    write(dir .. "/script.lua", [[
      local scenario = require "scenario"
      local client = scenario.new { poll_interval = 0.05 }
      local job = assert(client.generate:txt2img { modelId = "m", prompt = "from a script" })
      assert(job:wait())
      for _, path in ipairs(assert(job:download("out"))) do print(path) end
    ]])
    local code, out, err = run(dir .. "/script.lua", { dir = empty,
      env = "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. sim_env() })
    assert.are.equal(0, code, err)
    local path = out:match("^(out/asset_%w+%.png)\n$")
    assert.is_truthy(path, out)
    assert.is_true(is_png(empty .. "/" .. path))
    os.execute("rm -rf " .. empty)
  end)
end)

describe("scenario-lua call --all and --jsonl", function()
  setup(function()
    sim = sim_mod.start { args = { "--seed-assets", "25" } }
  end)
  teardown(function()
    sim:stop()
    sim = nil
  end)
  before_each(function() sim:reset() end)

  -- the ids of a list of assets, checked distinct
  local function distinct_ids(list)
    local seen, n = {}, 0
    for _, a in ipairs(list) do
      assert.is_nil(seen[a.id], "asset listed twice: " .. tostring(a.id))
      seen[a.id] = true
      n = n + 1
    end
    return n
  end

  it("prints one page without --all, every page with it", function()
    local code, doc = run_json("call GetAssets pageSize=10")
    assert.are.equal(0, code)
    assert.are.equal(10, #doc.assets)
    assert.is_string(doc.nextPaginationToken)
    assert.are.equal(1, sim:count("GET /assets"))
    code, doc = run_json("call GetAssets pageSize=10 --all")
    assert.are.equal(0, code)
    assert.are.equal(25, distinct_ids(doc.assets))
    assert.is_nil(doc.nextPaginationToken)
    assert.are.equal(1 + 3, sim:count("GET /assets"))
    local out
    code, out = run("call GetAssets pageSize=10 --all")
    assert.are.equal(0, code)
    assert.are.equal(25, distinct_ids(cjson.decode(out).assets))
  end)

  it("--jsonl prints one item per line, of the first page or with --all of every page", function()
    local function lines(out)
      local list = {}
      for line in out:gmatch("([^\n]*)\n") do list[#list + 1] = cjson.decode(line) end
      return list
    end
    local code, out, err = run("call GetAssets pageSize=10 --all --jsonl")
    assert.are.equal(0, code, err)
    local items = lines(out)
    assert.are.equal(25, distinct_ids(items))
    assert.matches("^asset_", items[1].id)
    code, out = run("call GetAssets pageSize=10 --jsonl")
    assert.are.equal(0, code)
    assert.are.equal(10, distinct_ids(lines(out)))
  end)

  it("ends --jsonl with the error of a page that fails, and exits by its kind", function()
    sim:faults("GET", "/assets", { "status=200", "status=404" })
    local code, out, err = run("call GetAssets pageSize=10 --all --jsonl")
    assert.are.equal(1, code)
    local list = {}
    for line in out:gmatch("([^\n]*)\n") do list[#list + 1] = cjson.decode(line) end
    assert.are.equal(11, #list)
    local last = table.remove(list)
    assert.are.equal(10, distinct_ids(list))
    assert.are.equal("not_found", last.error.kind)
    assert.matches("not_found error in GetAssets", err)
  end)

  it("refuses --all and --jsonl on an operation that does not page", function()
    for _, flag in ipairs { "--all --json", "--jsonl" } do
      local code, out, err = run("call GetAssetsByAssetId assetId=asset_x " .. flag)
      assert.are.equal(2, code, flag)
      assert.are.equal("usage", cjson.decode(out).error.kind)
      assert.matches(flag:match("^%S+") .. ": GetAssetsByAssetId does not page %(those that do: GetAssets,", err)
    end
    assert.are.equal(0, sim:count("GET /assets/{assetId}"))
    local code = run("call GetAssets --all --json --jsonl")
    assert.are.equal(2, code)
  end)
end)
