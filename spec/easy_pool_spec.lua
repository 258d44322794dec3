-- The pool of easy handles (request.c): a handle a plain GET leaves keeps its
-- options for the next plain GET of the same profile, and is reset before
-- any other. Each case runs requests one after the other, so that every
-- request after the first takes the handle the one before gave back; a
-- request whose options are wrongly kept from the one before fails it.
local core = require "scenario.core"
local json = require "scenario.json"
local native = require "support.native"

local wait = require "support.finish"

local function sh(cmd)
  local ok, out = require("support.sh")(native .. cmd)
  assert(ok, "command failed: " .. cmd .. "\n" .. out)
end

-- starts `script args` (a server printing "LISTENING <port> ... <pid>")
local function serve(script, args)
  local pipe = io.popen("exec " .. native .. "python3 spec/support/" .. script .. " " .. (args or ""), "r")
  local line = pipe:read("*l") or ""
  local port, pid = line:match("^LISTENING (%d+)"), line:match("(%d+)$")
  assert(port, script .. " did not start: " .. line)
  return { pipe = pipe, pid = pid, url = "http://127.0.0.1:" .. port }
end

local function stop(server)
  if server then
    os.execute("kill " .. server.pid)
    server.pipe:close()
  end
end

describe("the pool of easy handles", function()
  local echo, hostile

  setup(function()
    echo = serve("echo_server.py")
    hostile = serve("hostile_server.py")
  end)
  teardown(function()
    stop(echo)
    stop(hostile)
  end)

  -- the request headers the echo server received
  local function sent_headers(opts)
    opts.url = echo.url .. "/ok/jobs/job_pool"
    opts.timeout = 5
    local res = assert(wait(core.request(opts)))
    return json.decode(res.body).job.echo.headers:lower()
  end

  it("asks for compressed answers again after a request with compressed = false", function()
    assert.matches("accept%-encoding:", sent_headers {})
    assert.is_nil(sent_headers({ compressed = false }):find("accept-encoding:", 1, true))
    assert.matches("accept%-encoding:", sent_headers {})
    assert.is_nil(sent_headers({ compressed = false }):find("accept-encoding:", 1, true))
  end)

  it("sends each request's own headers, and none left from the one before", function()
    assert.matches("x%-one: 1", sent_headers { headers = { "X-One: 1" } })
    local h = sent_headers {}
    assert.is_nil(h:find("x-one", 1, true))
    assert.matches("x%-two: 2", sent_headers { headers = { "X-Two: 2" } })
    -- a POST in between (not a plain request: the handle is reset after it)
    local res = assert(wait(core.request { url = echo.url .. "/ok/jobs/job_pool/action",
      method = "POST", body = "{}", headers = { "X-Three: 3" }, timeout = 5 }))
    assert.matches("x%-three: 3", json.decode(res.body).job.echo.headers:lower())
    h = sent_headers {}
    assert.is_nil(h:find("x-two", 1, true))
    assert.is_nil(h:find("x-three", 1, true))
    -- and a GET after the POST is a GET again
    res = assert(wait(core.request { url = echo.url .. "/ok/jobs/job_pool", timeout = 5 }))
    assert.are.equal(200, res.status)
    assert.are.equal("job_pool", json.decode(res.body).job.jobId)
  end)

  it("follows redirects only when the request says so", function()
    local function status(follow)
      local res = assert(wait(core.request { url = hostile.url .. "/redirect-other",
        follow_redirects = follow, timeout = 5 }))
      return res.status
    end
    assert.are.equal(200, status(true))
    assert.are.equal(302, status(nil))
    assert.are.equal(200, status(true))
    assert.are.equal(302, status(nil))
  end)

  it("keeps no timeout from the request before", function()
    assert(wait(core.request { url = echo.url .. "/ok/jobs/job_pool", timeout = 0.5 }))
    -- a status line, then a byte of header a second, forever: a request
    -- without a timeout waits for it until cancelled
    local slow = core.request { url = hostile.url .. "/slow-headers" }
    local t0 = core.now()
    while not slow:done() and core.now() - t0 < 1.2 do core.step(100) end
    assert.is_false(slow:done(), "the request took the timeout of the one before it")
    slow:cancel()
    local res, err = slow:result()
    assert.is_nil(res)
    assert.are.equal("canceled", err.kind)
  end)
end)

describe("the pool of easy handles over TLS", function()
  local dir, server

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    sh("mkdir -p " .. dir)
    for _, name in ipairs { "good", "other" } do
      sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 " ..
        "-addext subjectAltName=IP:127.0.0.1 -keyout " .. dir .. "/" .. name .. "-key.pem -out " ..
        dir .. "/" .. name .. ".pem 2>/dev/null")
    end
    server = serve("https_server.py", dir .. "/good.pem " .. dir .. "/good-key.pem")
    server.url = server.url:gsub("^http:", "https:")
  end)
  teardown(function()
    stop(server)
    if dir then os.execute("rm -rf " .. dir) end
  end)

  it("verifies each request with its own ca_file", function()
    local function get(ca_file, insecure)
      return wait(core.request { url = server.url .. "/x", ca_file = ca_file,
        insecure = insecure, timeout = 5 })
    end
    local good, other = dir .. "/good.pem", dir .. "/other.pem"
    assert.are.equal(200, assert(get(good)).status)
    local res, err = get(other)
    assert.is_nil(res)
    assert.are.equal("tls", err.kind)
    assert.are.equal(200, assert(get(good)).status)
    res, err = get(nil)
    assert.is_nil(res)
    assert.are.equal("tls", err.kind)
    assert.are.equal(200, assert(get(nil, true)).status)
    res, err = get(other)
    assert.is_nil(res)
    assert.are.equal("tls", err.kind)
  end)
end)
