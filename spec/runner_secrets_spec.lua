-- The runner never shows a credential (issue 15): against a server that
-- echoes the Authorization header, the credentials it holds and the raw
-- request headers in every answer (spec/support/echo_server.py), every
-- command, with and without --json, at every SCENARIO_LOG level, with a key
-- and secret and with a token, succeeding and failing, writes none of the
-- key, the secret, the token, key:secret, base64(key:secret), "Basic <b64>"
-- or "Bearer <token>" on stdout or stderr; nor does a command that raises.
local cjson = require "cjson"
local util = require "scenario.util"
local files = require "support.files"
local sh = require "support.sh"
local native = require "support.native"

-- the runner is the Lua 5.4 binary whichever interpreter runs the specs
local interp = require "support.interp"
local build = interp.name == "lua5.4" and interp.build or "build"
local ROOT = os.getenv("PWD") or "."
-- so its specs belong to the Lua 5.4 suites (build, build-asan): the suites
-- of the other interpreters would run the very same binary again
if interp.name ~= "lua5.4" then return end
local BIN = ROOT .. "/" .. build .. "/scenario-lua"

-- a secret with a quote and a backslash: escaped in JSON text, where only
-- a cleaning done before the encoding finds it
local KEY, SECRET, TOKEN = "echo-key-7Hq2Lw", 'echo-secret-"q\\w9', "echo-token-Zq81xYv"
local B64 = util.base64(KEY .. ":" .. SECRET)
local FORBIDDEN = { KEY, SECRET, TOKEN, KEY .. ":" .. SECRET, B64, "Basic " .. B64, "Bearer " .. TOKEN }
local LEVELS = { "error", "warn", "info", "debug" }
local MODES = { "ok", "e400", "e401" }
local AUTHS = {
  basic = "SCENARIO_API_KEY=" .. files.quote(KEY) .. " SCENARIO_API_SECRET=" .. files.quote(SECRET),
  bearer = "SCENARIO_API_TOKEN=" .. files.quote(TOKEN),
}

-- Every command, as words (DIR: a fresh folder, FILE: a PNG to upload).
-- json = false: the command has its own output mode (--jsonl).
local COMMANDS = {
  { words = "generate txt2img modelId=m prompt=x" },
  { words = "generate txt2img modelId=m prompt=x --out DIR" },
  { words = "generate txt2img modelId=m prompt=x --dry-run" },
  { words = "upload FILE" },
  { words = "download asset_a asset_b --out DIR" },
  { words = "jobs get job_a" },
  { words = "jobs wait job_a --out DIR" },
  { words = "jobs cancel job_a" },
  { words = "call GetAssets" },
  { words = "call GetAssets --all" },
  { words = "call GetAssets --all --jsonl", json = false },
  { words = "call GetAssetsByAssetId assetId=asset_a" },
  { words = "ops txt2img", offline = true },
}

-- Every string in a decoded JSON value, keys too, joined by newlines.
local function strings_of(v, out)
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" then
    for k, x in pairs(v) do
      strings_of(k, out)
      strings_of(x, out)
    end
  end
  return out
end

-- The text to search in a command's stdout: as written, and every line
-- that is JSON decoded (a secret holding a quote is escaped in the text).
local function searchable(out)
  local parts = { out }
  for line in out:gmatch("[^\n]+") do
    local ok, v = pcall(cjson.decode, line)
    if ok then parts[#parts + 1] = table.concat(strings_of(v, {}), "\n") end
  end
  local ok, v = pcall(cjson.decode, out) -- the indented JSON of call
  if ok then parts[#parts + 1] = table.concat(strings_of(v, {}), "\n") end
  return table.concat(parts, "\n")
end

-- The secrets found in text, or nil.
local function leaks(text)
  local found = {}
  for _, s in ipairs(FORBIDDEN) do
    if text:find(s, 1, true) then found[#found + 1] = s end
  end
  return #found > 0 and table.concat(found, " | ") or nil
end

local function run(env, words, dir)
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = sh(string.format("cd %s && env -u SCENARIO_API_KEY -u SCENARIO_API_SECRET " ..
    "-u SCENARIO_API_TOKEN -u SCENARIO_LOG %s %s %s < /dev/null > %s 2> %s",
    files.quote(dir), env, BIN, words, out, err))
  local o, e = files.read(out), files.read(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

describe("the runner against a server that echoes credentials", function()
  local pipe, port, pid, dir

  setup(function()
    pipe = io.popen("exec " .. native .. "python3 " .. ROOT .. "/spec/support/echo_server.py", "r")
    local line = pipe:read("*l")
    port, pid = (line or ""):match("^LISTENING (%d+) (%d+)")
    assert(port, "echo server did not start: " .. tostring(line))
    dir = files.tmpdir()
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if pipe then pipe:close() end
    if dir then os.execute("rm -rf " .. files.quote(dir)) end
  end)

  it("shows no credential, from any command, mode, log level or authentication", function()
    local upload = dir .. "/up.png"
    files.write(upload, "\137PNG\r\n\26\n" .. string.rep("\0", 64))
    local redacted, runs, n = {}, {}, 0
    for _, auth in ipairs { "basic", "bearer" } do
      for _, mode in ipairs(MODES) do
        for _, level in ipairs(LEVELS) do
          local env = string.format("%s SCENARIO_API_URL=http://127.0.0.1:%s/%s SCENARIO_LOG=%s " ..
            "SCENARIO_POLL_INTERVAL=0.01", AUTHS[auth], port, mode, level)
          for _, c in ipairs(COMMANDS) do
            for _, json in ipairs { false, true } do
              if not (json and c.json == false) and not (c.offline and mode ~= "ok") then
                n = n + 1
                local words = c.words:gsub("DIR", dir .. "/out" .. n):gsub("FILE", upload)
                if json then words = words .. " --json" end
                local code, out, err = run(env, words, dir)
                local label = string.format("%s %s %s: %s%s", auth, mode, level, c.words,
                  json and " --json" or "")
                assert.is_nil(leaks(searchable(out)), label .. "\nstdout shows a secret:\n" .. out)
                assert.is_nil(leaks(err), label .. "\nstderr shows a secret:\n" .. err)
                runs[label] = code
                if (out .. err):find("[REDACTED]", 1, true) then redacted[c.words] = true end
              end
            end
          end
        end
      end
    end
    -- the sweep went where it claims: the commands reached the server and
    -- had its echo to clean, and succeeded in the "ok" mode
    for _, c in ipairs(COMMANDS) do
      if not c.offline then assert.is_true(redacted[c.words], "nothing redacted for " .. c.words) end
    end
    for _, c in ipairs(COMMANDS) do
      for _, auth in ipairs { "basic", "bearer" } do
        local label = auth .. " ok debug: " .. c.words
        assert.are.equal(0, runs[label], label)
        if c.json ~= false then assert.are.equal(0, runs[label .. " --json"], label) end
      end
    end
    assert.are.equal(0, runs["basic ok debug: ops txt2img --json"])
    assert.are.equal(2, runs["basic e400 debug: call GetAssets --json"])
    assert.are.equal(1, runs["bearer e401 info: jobs get job_a"])
  end)

  it("cleans the progress bars on a terminal", function()
    -- a job whose id is the key (as typed by a user) labels the bar
    local cmd = string.format("cd %s && %s SCENARIO_API_URL=http://127.0.0.1:%s/ok COLUMNS=100 " ..
      "SCENARIO_POLL_INTERVAL=0.01 %s jobs wait %s --out %s", files.quote(ROOT), AUTHS.basic, port,
      BIN, KEY, dir .. "/pty")
    local p = io.popen(native .. "script -qec " .. files.quote(cmd) .. " /dev/null")
    local out = p:read("*a")
    p:close()
    local bars = {}
    for line in out:gmatch("\r([^\r\n]*)") do
      if line:find("%[[#-]+%]") then bars[#bars + 1] = line end
    end
    assert.is_true(#bars >= 2, out)
    assert.matches("^%[REDACTED%] %[", bars[1])
    assert.matches("^download %[", bars[#bars])
    assert.is_nil(leaks(out), out)
  end)

  it("cleans what a command raises: a traceback, or a scenario.Error", function()
    -- a command that raises with every form of the credentials in its error
    local script = [[
      local args = require "scenario.runner.args"
      local errors = require "scenario.errors"
      local util = require "scenario.util"
      local key, secret = os.getenv("SCENARIO_API_KEY"), os.getenv("SCENARIO_API_SECRET")
      local all = "Basic " .. util.base64(key .. ":" .. secret) .. " " .. key .. ":" .. secret
      package.loaded["scenario.runner.ops"] = { run = function(words, host)
        args.begin("ops", words, host, {})
        if words[1] == "error" then
          error(errors.new { kind = "api", message = "refused", body = { echo = all } })
        end
        local function deep() error("boom: " .. all) end
        deep()
      end }
      os.exit(require("scenario.runner").main({ "ops", ... }, {}))
    ]]
    files.write(dir .. "/crash.lua", script)
    local env = AUTHS.basic .. " SCENARIO_API_URL=http://127.0.0.1:" .. port .. "/ok"
    local code, out, err = run(env, dir .. "/crash.lua", dir)
    assert.are.equal(1, code, err)
    assert.are.equal("", out)
    assert.matches("^scenario%-lua: [^\n]*boom: %[REDACTED%] %[REDACTED%]:%[REDACTED%]\nstack traceback:\n", err)
    assert.matches("in %w+ 'deep'", err)
    assert.is_nil(leaks(err), err)
    code, out, err = run(env, dir .. "/crash.lua --json", dir)
    assert.are.equal(1, code, err)
    assert.are.equal("internal", cjson.decode(out).error.kind)
    assert.matches("boom: %[REDACTED%]", cjson.decode(out).error.message)
    assert.is_nil(leaks(searchable(out)), out)
    assert.is_nil(leaks(err), err)
    code, out, err = run(env, dir .. "/crash.lua error --json", dir)
    assert.are.equal(1, code, err)
    local doc = cjson.decode(out)
    assert.are.equal("api", doc.error.kind)
    assert.are.equal("[REDACTED] [REDACTED]:[REDACTED]", doc.error.body.echo)
    assert.is_nil(leaks(searchable(out)), out)
  end)
end)
