-- TLS verification against a local HTTPS server with a self-signed certificate.
local scenario = require "scenario"

local function sh(cmd)
  local ok, out = require("support.sh")(require("support.native") .. cmd)
  assert(ok, "command failed: " .. cmd .. "\n" .. out)
end

describe("TLS", function()
  local dir, pipe, pid, url
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    sh("mkdir -p " .. dir)
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 " ..
      "-addext subjectAltName=IP:127.0.0.1 -keyout " .. dir .. "/key.pem -out " ..
      dir .. "/cert.pem 2>/dev/null")
    pipe = io.popen("exec " .. require("support.native") .. "python3 spec/support/https_server.py " ..
      dir .. "/cert.pem " .. dir .. "/key.pem")
    local port
    port, pid = pipe:read("*l"):match("^LISTENING (%d+) (%d+)")
    url = "https://127.0.0.1:" .. port
  end)
  teardown(function()
    os.execute("kill " .. pid)
    pipe:close()
    os.execute("rm -rf " .. dir)
  end)

  it("refuses a self-signed certificate with a connection error naming it", function()
    local c = scenario.new { base_url = url, log = false, api_key = "k", api_secret = "s" }
    local body, err = c:request("GET", "/assets")
    assert.is_nil(body)
    assert.are.equal("connection", err.kind)
    assert.matches("certificate", err.message)
    assert.is_false(err.retryable)
    assert.are.equal(1, err.attempts)
  end)

  it("trusts it with ca_file", function()
    local c = scenario.new { base_url = url, log = false, ca_file = dir .. "/cert.pem",
      api_key = "k", api_secret = "s" }
    local body, res = c:request("GET", "/assets")
    assert.is_true(body.ok)
    assert.are.equal(200, res.status)
  end)

  it("skips verification with insecure = true, warning once", function()
    local lines = {}
    local c = scenario.new { base_url = url, insecure = true, api_key = "k", api_secret = "s",
      log = function(level, msg) lines[#lines + 1] = level .. " " .. msg end }
    assert.is_true((c:request("GET", "/a")).ok)
    assert.is_true((c:request("GET", "/b")).ok)
    local warnings = 0
    for _, l in ipairs(lines) do
      if l:match("^warn .*insecure") then warnings = warnings + 1 end
    end
    assert.are.equal(1, warnings)
  end)
end)
