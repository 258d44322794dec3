--- The client: configuration, authentication, one request path for every call,
-- and the mapping of transport and HTTP outcomes to scenario.Error.
-- Retries and timeouts happen in the C core (csrc/request.c); this module
-- decides what a request means: which headers, whether it is safe to retry,
-- how to read the answer.
local core = require "scenario.core"
local loop = require "scenario.loop"
local errors = require "scenario.errors"
local logmod = require "scenario.log"
local compat = require "scenario.compat"
local json = require "scenario.json"
local format = require "scenario.format"
local util = require "scenario.util"
local resources = require "scenario.resources"
local check = require "scenario.check"

local M = {}
local find, byte = string.find, string.byte

M.VERSION = core.VERSION
M.DEFAULT_BASE_URL = "https://api.cloud.scenario.com/v1"
-- "(Lua 5.4; libcurl 7.88.1)", "(LuaJIT 2.1.0-beta3; libcurl ...)"
M.USER_AGENT = string.format("scenario-lua/%s (%s; libcurl %s)",
  core.VERSION, compat.interpreter, core.curl_version)

local Client = {}
Client.__index = Client
M.Client = Client

-- Secrets live here, out of the client table, so that dumping a client with
-- pairs() or a pretty-printer shows none of them.
local private = setmetatable({}, { __mode = "k" })

-- option -> expected Lua type(s), for scenario.new
local OPTIONS = {
  api_key = "string", api_secret = "string", token = "string",
  base_url = "string", project_id = "string",
  timeout = "number", connect_timeout = "number", max_retries = "number",
  poll_interval = "number", headers = "table", log = "string|function|boolean",
  ca_file = "string", insecure = "boolean", strict = "boolean",
  user_agent = "string", max_response_bytes = "number",
}

local function config_error(field, reason)
  return errors.new { kind = "validation", field = field,
    message = "scenario.new: " .. field .. ": " .. reason }
end

local function check_options(opts)
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then
      error(config_error(tostring(k), "unknown option"), 3)
    end
    if not want:find(type(v), 1, true) then
      error(config_error(k, "must be a " .. want:gsub("|", " or ") .. " (got " .. type(v) .. ")"), 3)
    end
  end
  for _, k in ipairs { "timeout", "connect_timeout", "max_retries", "poll_interval" } do
    if opts[k] and opts[k] < 0 then
      error(config_error(k, "must be >= 0 (got " .. tostring(opts[k]) .. ")"), 3)
    end
    -- NaN, infinities and huge values would overflow the C core's integers
    if opts[k] and (opts[k] ~= opts[k] or opts[k] > M.LIMITS[k]) then
      error(config_error(k, "must be a number from 0 to " .. M.LIMITS[k] .. " (got " .. tostring(opts[k]) .. ")"), 3)
    end
  end
  if opts.max_response_bytes and not M.valid_max_bytes(opts.max_response_bytes) then
    error(config_error("max_response_bytes", "must be a whole number from 1 to "
      .. format.number(M.LIMITS.max_response_bytes) .. " (got " .. format.number(opts.max_response_bytes) .. ")"), 3)
  end
end

local NUMERIC_REQUEST_OPTIONS = { "timeout", "max_retries" }

-- Per-call options that reach the C core: a value of another type would raise
-- a raw Lua error there, a line break in a header would be refused there, and
-- NaN, infinities or huge numbers would overflow its C integers. Returns the
-- list of problems, or nil.
local function request_option_problems(opts)
  if opts.timeout == nil and opts.max_retries == nil and opts.max_response_bytes == nil
      and opts.headers == nil then
    return nil                          -- most calls: nothing to check
  end
  local problems = {}
  for _, k in ipairs(NUMERIC_REQUEST_OPTIONS) do
    local v = opts[k]
    if v ~= nil and not (type(v) == "number" and v >= 0 and v <= M.LIMITS[k]) then
      problems[#problems + 1] = string.format("options.%s: must be a number from 0 to %s (got %s)",
        k, M.LIMITS[k], type(v) == "number" and tostring(v) or type(v))
    end
  end
  local mrb = opts.max_response_bytes
  if mrb ~= nil and not M.valid_max_bytes(mrb) then
    problems[#problems + 1] = "options.max_response_bytes: must be a whole number from 1 to "
      .. format.number(M.LIMITS.max_response_bytes) .. " (got "
      .. (type(mrb) == "number" and format.number(mrb) or type(mrb)) .. ")"
  end
  local h = opts.headers
  if h ~= nil and type(h) ~= "table" then
    problems[#problems + 1] = "options.headers: must be a table (got " .. type(h) .. ")"
  elseif h ~= nil then
    for k, v in pairs(h) do
      local tv = type(v)
      if type(k) ~= "string" or k == "" or k:find("[%c:]") then
        local got = type(k) == "string" and string.format("%q", k) or type(k)
        problems[#problems + 1] = "options.headers: a header name must be a string without "
          .. "control characters or ':' (got " .. got .. ")"
      elseif (tv ~= "string" and tv ~= "number" and tv ~= "boolean") or tostring(v):find("[\r\n]")
          or tostring(v):find("\0", 1, true) then   -- 5.1's patterns end at a "\0"
        problems[#problems + 1] = "options.headers." .. k .. ": must be a string without line breaks"
      end
    end
  end
  if #problems > 0 then return problems end
end

-- Upper bounds of the numeric options (seconds, a count of retries, bytes).
M.LIMITS = { timeout = 1000000000, connect_timeout = 1000000000, poll_interval = 1000000000,
  max_retries = 1000, max_response_bytes = 1099511627776 }

-- The cap on a response body held in memory (csrc/request.c stops the
-- transfer past it, counting decoded bytes): a hostile or broken server
-- cannot grow the process without bound.
M.DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

function M.valid_max_bytes(v)
  return type(v) == "number" and v >= 1 and v <= M.LIMITS.max_response_bytes and v == math.floor(v)
end

local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local function escape_pattern(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

local function make_redactor(secret_list)
  local pats = {}
  for _, s in ipairs(secret_list) do
    if type(s) == "string" and #s >= 4 then pats[#pats + 1] = escape_pattern(s) end
  end
  -- longest first, so that "Basic <b64>" goes before its parts
  table.sort(pats, function(a, b) return #a > #b end)
  return function(msg)
    msg = tostring(msg)
    for i = 1, #pats do msg = msg:gsub(pats[i], "[REDACTED]") end
    return msg
  end
end

local function origin_of(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  local authority = rest:match("^([^/?#]*)")
  authority = authority:gsub("^.*@", "")
  scheme = scheme:lower()
  if not authority:find(":%d+$") then
    authority = authority .. (scheme == "https" and ":443" or ":80")
  end
  return scheme .. "://" .. authority:lower()
end
M.origin_of = origin_of

-- Whether an origin is this machine (the simulator, a mock server): such a
-- stand-in decides itself whether it wants credentials.
local function is_loopback(origin)
  local host = origin:match("^%a[%w+.-]*://(.*):%d+$") or ""
  return host == "localhost" or host == "[::1]" or host:find("^127%.%d+%.%d+%.%d+$") ~= nil
end

--- scenario.new{...}: see the README's configuration table.
-- Raises a validation error for a misspelt or mistyped option.
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error(config_error("options", "must be a table"), 2) end
  check_options(opts)
  local header_problems = opts.headers and request_option_problems { headers = opts.headers }
  if header_problems then
    error(config_error("headers", (table.concat(header_problems, "; "):gsub("^options%.headers:? ?", ""))), 2)
  end
  local self = setmetatable({}, Client)
  local key, secret, token = opts.api_key, opts.api_secret, opts.token
  if key == nil and secret == nil and token == nil then
    key, secret = env("SCENARIO_API_KEY"), env("SCENARIO_API_SECRET")
    token = env("SCENARIO_API_TOKEN")
  end
  local authorization, auth_kind
  if key or secret then
    if not (key and secret) then
      error(config_error(key and "api_secret" or "api_key",
        "required with " .. (key and "api_key" or "api_secret")), 2)
    end
    authorization = "Basic " .. util.base64(key .. ":" .. secret)
    auth_kind = "basic"
  elseif token then
    authorization = "Bearer " .. token
    auth_kind = "bearer"
  end
  local base_url = opts.base_url or env("SCENARIO_API_URL") or M.DEFAULT_BASE_URL
  if not origin_of(base_url) then
    error(config_error("base_url", "must be an http or https URL (got " .. base_url .. ")"), 2)
  end
  self.base_url = base_url:gsub("/+$", "")
  self.origin = origin_of(self.base_url)
  self.loopback = is_loopback(self.origin)
  self.auth = auth_kind or "none"
  self.project_id = opts.project_id or env("SCENARIO_PROJECT_ID")
  self.timeout = opts.timeout or 60
  self.connect_timeout = opts.connect_timeout or 10
  self.max_retries = math.floor(opts.max_retries or 2)
  self.poll_interval = opts.poll_interval or 2
  self.headers = opts.headers or {}
  self.max_response_bytes = opts.max_response_bytes or M.DEFAULT_MAX_RESPONSE_BYTES
  self.strict = opts.strict   -- nil: validate.strict_for's default
  self.insecure = opts.insecure or false
  self.ca_file = opts.ca_file or env("SCENARIO_CA_FILE") or env("SSL_CERT_FILE")
    or env("CURL_CA_BUNDLE")
  self.user_agent = opts.user_agent and (M.USER_AGENT .. " " .. opts.user_agent) or M.USER_AGENT
  local redact = make_redactor { authorization, key, secret, token,
    key and secret and util.base64(key .. ":" .. secret) }
  -- fixed_headers: headers_for's lists, built on first use (the client's
  -- `headers` are read then: change them by making a new client)
  private[self] = { authorization = authorization, redact = redact, fixed_headers = {} }
  local log_setting = opts.log
  if log_setting == nil then log_setting = env("SCENARIO_LOG") end
  if log_setting == true then log_setting = "info" end
  self.log = logmod.new(log_setting, redact)
  if self.insecure then
    self.log("warn", "insecure = true: TLS certificates are not verified for %s", self.origin)
  end
  resources.attach(self)
  return self
end

--- Calls any operation of the API by its operationId; path parameters go by
-- name in fields. Returns body, response or nil, err.
function Client:call(operation_id, fields, options)
  local aerr = check.self("client:call", self, Client) or check.args("client:call",
    "operation_id", operation_id, "id", "fields", fields, "table?", "options", options, "table?")
  if aerr then return nil, aerr end
  return resources.call_by_id(self, operation_id, fields, options)
end

function Client:__tostring()
  return string.format("scenario.Client (%s, auth: %s)", self.base_url, self.auth)
end

--- Removes every secret of this client from a string.
-- Raises the validation error of a misused client:url or client:redact
-- (they give a string, so there is no nil, err to give back).
function Client:redact(s)
  check.raise(check.self("client:redact", self, Client)
    or check.args("client:redact", "text", s, "string"))
  return private[self].redact(s)
end

-- read from the header block itself: the response's `headers` table is
-- only made when something reads it
local function request_id_of(res)
  return core.header(res.raw_headers, "x-request-id", "x-amzn-requestid", "apigw-requestid",
    "x-amz-apigw-id")
end

local function snippet(body)
  if body == nil or body == "" then return nil end
  local text = body:gsub("<[^>]*>", " "):gsub("%s+", " "):gsub("^ ", "")
  if #text > 160 then text = text:sub(1, 157) .. "..." end
  return text
end

-- The full URL of an API path (or an absolute URL passed through), with
-- the query; what Client:url gives once its arguments are checked.
local function url_of(self, path, query)
  local absolute = find(path, "^https?://") ~= nil
  if not absolute and not self.project_id and (query == nil or next(query) == nil) then
    return self.base_url .. path   -- most calls: nothing to add
  end
  local url = absolute and path or self.base_url .. path
  local q = {}
  if query then for k, v in pairs(query) do q[k] = v end end
  if self.project_id and q.projectId == nil and not absolute then
    q.projectId = self.project_id
  end
  local qs = util.query_string(q)
  if qs ~= "" then url = url .. (url:find("?", 1, true) and "&" or "?") .. qs end
  return url
end

--- Builds the full URL of an API path (or passes an absolute URL through).
function Client:url(path, query)
  check.raise(check.self("client:url", self, Client)
    or check.args("client:url", "path", path, "path", "query", query, "table?"))
  return url_of(self, path, query)
end

-- What the API takes on its public operations from a caller without
-- credentials (the public asset and model listings).
local PUBLIC_AUTHORIZATION = "public-auth-token"

-- The header list of a request, built: the client's own headers, then its
-- `headers` option, then the call's extra ones, a later name replacing an
-- earlier one whatever its case.
local function build_headers(self, url, extra, has_body, public)
  local merged, order = {}, {}
  local function set(k, v)
    local lk = k:lower()
    if not merged[lk] then order[#order + 1] = lk end
    merged[lk] = { k, v }
  end
  set("User-Agent", self.user_agent)
  set("Accept", "application/json")
  if has_body then set("Content-Type", "application/json") end
  local auth = private[self].authorization or (public and PUBLIC_AUTHORIZATION)
  if auth and origin_of(url) == self.origin then set("Authorization", auth) end
  for k, v in pairs(self.headers) do set(k, tostring(v)) end
  if extra then for k, v in pairs(extra) do set(k, tostring(v)) end end
  local list = {}
  for _, lk in ipairs(order) do
    local kv = merged[lk]
    list[#list + 1] = kv[1] .. ": " .. kv[2]
  end
  return list
end

--- The headers of an API request, in the order they are sent; `public`: the
-- operation needs no credentials (sent as the public token when there are
-- none).
function Client:headers_for(url, extra, has_body, public)
  -- the headers of a call without extra ones to the API's own origin are
  -- the same every time: built once per kind (body or not, public or not)
  -- (no closure here: LuaJIT compiles this path)
  local base = self.base_url
  local after = byte(url, #base + 1)   -- "/" or "?": not http://host.other
  local cacheable = (extra == nil or next(extra) == nil) and (after == 47 or after == 63)
    and find(url, base, 1, true) == 1
  if not cacheable then return build_headers(self, url, extra, has_body, public) end
  local slot = (has_body and 1 or 0) + (public and 2 or 0) + 1
  local fixed = private[self].fixed_headers
  local list = fixed[slot]
  if not list then
    list = build_headers(self, url, extra, has_body, public)
    fixed[slot] = list
  end
  return list
end

-- The message of a transfer the C core stopped over a limit, or of a
-- redirect it refused: the server's fault (kind "api"), never retried.
local function refused_answer(cerr)
  if cerr.kind == "redirect" then
    return "the server's redirect was refused: " .. cerr.message
  elseif cerr.what == "header" then
    return "the server's response headers were too large: " .. cerr.message
      .. "; the transfer was stopped"
  end
  return "the response body is larger than max_response_bytes ("
    .. format.number(cerr.limit) .. " bytes); the transfer was stopped. To accept it, raise the "
    .. "limit: max_response_bytes = <bytes> in scenario.new{} or in the call's options"
end

local function transport_error(self, cerr, ctx)
  if cerr.kind == "callback" then
    error(cerr.value, 0)                     -- a user callback raised: re-raise it here
  end
  local kind, message = cerr.kind, cerr.message
  if kind == "too_large" or kind == "redirect" then
    message = refused_answer(cerr)
    if ctx.unsafe then message = message .. "; the request may have been processed" end
    return errors.new {
      kind = "api", status = cerr.status, message = self:redact(message),
      operation = ctx.operation, retryable = false, attempts = cerr.attempts,
    }
  elseif kind == "tls" then
    kind = "connection"
    if message:find("certificate", 1, true) then
      message = "TLS certificate verification failed: " .. message ..
        " (trust the certificate with ca_file, or see insecure)"
    else
      message = "TLS handshake failed: " .. message
    end
  elseif kind == "canceled" then
    kind, message = "connection", "the request was canceled"
  elseif kind == "timeout" then
    message = string.format("no complete answer within %gs: %s", ctx.timeout, message)
  end
  local retryable = (kind == "connection" or kind == "timeout")
    and not message:find("certificate", 1, true)     -- a bad certificate stays bad
  if cerr.sent and ctx.unsafe then
    retryable = false
    message = message .. "; the request may have been processed, so it was not retried"
  end
  return errors.new {
    kind = kind, message = self:redact(message), operation = ctx.operation,
    retryable = retryable, attempts = cerr.attempts, status = cerr.status,
  }
end

-- A copy of a decoded body with every secret of the client removed from its
-- strings (keys included): a server that echoes the Authorization header
-- must not put it into err.body.
local function redact_body(self, v)
  if type(v) == "string" then return self:redact(v) end
  if type(v) ~= "table" then return v end
  local copy = {}
  for k, x in pairs(v) do copy[redact_body(self, k)] = redact_body(self, x) end
  return setmetatable(copy, getmetatable(v))
end

local function http_error(self, res, body, ctx)
  local status = res.status
  local kind = errors.kind_for_status(status)
  local message = errors.message_from_body(body) or snippet(res.body) or ("HTTP " .. status)
  local retryable = status == 408 or status == 429 or status >= 500
  if ctx.unsafe and status ~= 429 and (status == 408 or status >= 500) then
    retryable = false
    message = message .. "; the request may have been processed, so it was not retried"
  end
  return errors.new {
    kind = kind, status = status, message = self:redact(message), operation = ctx.operation,
    request_id = res.request_id, body = redact_body(self, body), retryable = retryable,
    attempts = res.attempts, retry_after = res.headers["retry-after"],
  }
end

-- What a request sends: the URL (with dryRun=true for a dry run), the body
-- as text and the error context; or nil, err when the options are wrong or
-- the body cannot be encoded.
local function prepare(self, method, path, opts)
  local problems = request_option_problems(opts)
  if problems then
    return nil, errors.new { kind = "validation", operation = opts.operation, problems = problems,
      message = table.concat(problems, "; ") }
  end
  local query = opts.query
  if opts.dry_run then
    local q = {}
    for k, v in pairs(opts.query or {}) do q[k] = v end
    q.dryRun = "true"
    query = q
  end
  local url = url_of(self, path, query)
  local body = opts.body
  if type(body) == "table" then
    local text, err = json.encode(body)
    if not text then
      return nil, errors.new { kind = "validation", operation = opts.operation,
        message = "body cannot be encoded as JSON: " .. tostring(err) }
    end
    body = text
  end
  if not private[self].authorization and not opts.public and not self.loopback
      and origin_of(url) == self.origin then
    return nil, errors.new { kind = "auth", operation = opts.operation, retryable = false,
      message = "no API credentials are set, so nothing was sent: pass api_key and api_secret"
        .. " (or token) to scenario.new, or set SCENARIO_API_KEY and SCENARIO_API_SECRET (or"
        .. " SCENARIO_API_TOKEN) in the environment" }
  end
  local unsafe = opts.unsafe
  if unsafe == nil then unsafe = method == "POST" end
  return {
    url = url, body = body,
    operation = opts.operation, unsafe = unsafe and not opts.dry_run,
    timeout = opts.timeout or self.timeout,
  }
end

-- A 2xx answer: its decoded JSON object, or an error of kind "api" when it
-- is not one (an empty body, invalid JSON, a JSON scalar).
local function success(method, res, decoded, derr, ctx)
  local status = res.status
  if decoded == nil then
    local why = res.body == "" and "an empty body" or "invalid JSON (" .. tostring(derr) .. ")"
    -- a paid POST answered 2xx was processed, however unreadable the answer
    if ctx.unsafe then why = why .. "; the request may have been processed, so it was not retried" end
    return nil, errors.new {
      kind = "api", status = status, operation = ctx.operation,
      message = "the API answered " .. status .. " with " .. why,
      request_id = res.request_id, retryable = not ctx.unsafe, attempts = res.attempts,
    }
  end
  -- a 2xx answer of JSON null (deletions) gives an empty result table
  if decoded == json.null then decoded = {} end
  if type(decoded) ~= "table" then
    -- every answer the document describes is an object, but for deletions,
    -- which describe none: a string, number or boolean cannot be a result
    -- that callers index (pages, jobs)
    if method == "DELETE" then return {}, res end
    local why = "a JSON " .. type(decoded) .. " where an object was expected"
    if ctx.unsafe then why = why .. "; the request may have been processed, so it was not retried" end
    return nil, errors.new {
      kind = "api", status = status, operation = ctx.operation,
      message = "the API answered " .. status .. " with " .. why,
      request_id = res.request_id, retryable = false, attempts = res.attempts,
    }
  end
  return decoded, res
end

-- The types of request options (timeout, max_retries and headers are checked with the body, in prepare).
local REQUEST_OPTIONS = check.closed { query = "table?", body = "table|string?",
  operation = "string?", unsafe = "boolean?", dry_run = "boolean?", public = "boolean?",
  timeout = "any?", max_retries = "any?", headers = "any?", max_response_bytes = "any?" }

--- Sends a request and waits for it (yielding inside scenario.spawn).
-- opts: query, body (table -> JSON, or string), headers, timeout,
-- max_retries, max_response_bytes, unsafe (default: true for POST),
-- operation (for errors), dry_run, public (the operation needs no
-- credentials). Without credentials a request to the API that is not public
-- fails here with an `auth` error and nothing is sent, unless the API is on
-- this machine (the simulator). Returns body, response or nil, err.
function Client:request(method, path, opts)
  local aerr = check.self("client:request", self, Client) or check.args("client:request",
    "method", method, "method", "path", path, "path", "options", opts, REQUEST_OPTIONS)
  if aerr then return nil, aerr end
  return self:_send(method:upper(), path, opts or {})
end

-- The options of core.request, filled in by each Client:_send.
local REQUEST_SPEC = {
  url = false, method = false, body = false, headers = false, timeout = false,
  connect_timeout = false, max_retries = false, unsafe = false, ca_file = false,
  insecure = false, max_body = false,
}

-- client:request without its argument checks (32k of the 300k instructions
-- of a client.jobs:get: README, B1), for the resource layer and job polls,
-- which call it with arguments they made: method in capitals, path an API
-- path, opts a table of the request options. Internal, as every name
-- starting with "_".
function Client:_send(method, path, opts)
  local ctx, perr = prepare(self, method, path, opts)
  if not ctx then return nil, perr end
  -- core.request copies what it reads and keeps no reference to the table,
  -- so one table serves every request (every field set each time)
  local spec = REQUEST_SPEC
  spec.url, spec.method, spec.body = ctx.url, method, ctx.body
  spec.headers = self:headers_for(ctx.url, opts.headers, ctx.body ~= nil, opts.public)
  spec.timeout, spec.connect_timeout = ctx.timeout, self.connect_timeout
  spec.max_retries, spec.unsafe = opts.max_retries or self.max_retries, ctx.unsafe
  spec.ca_file, spec.insecure = self.ca_file, self.insecure
  spec.max_body = opts.max_response_bytes or self.max_response_bytes
  local req = core.request(spec)
  spec.body, spec.headers = nil, nil       -- nothing of this request outlives it here
  loop.await(req)
  local res, cerr = req:result()
  local shown_path = find(path, "?", 1, true) and path:gsub("%?.*$", "") or path
  if not res then
    local err = transport_error(self, cerr, ctx)
    self.log("debug", "%s %s -> %s (%.3f s, attempt %d)", method, shown_path, err.kind,
      cerr.elapsed, cerr.attempts)
    return nil, err
  end
  res.request_id = request_id_of(res)
  self.log("debug", "%s %s -> %d (%.3f s, attempt %d)", method, shown_path, res.status,
    res.elapsed, res.attempts)
  if res.attempts > 1 then
    self.log("info", "%s %s succeeded after %d attempts", method, shown_path, res.attempts)
  end
  local decoded, derr
  if res.body ~= "" then decoded, derr = json.decode(res.body) end
  local status = res.status
  if status >= 200 and status < 300 then return success(method, res, decoded, derr, ctx) end
  if opts.dry_run and status == 402 and type(decoded) == "table" and decoded.estimatedCost then
    decoded.creativeUnitsCost = decoded.creativeUnitsCost or decoded.estimatedCost
    return decoded, res
  end
  if type(decoded) ~= "table" then decoded = nil end
  return nil, http_error(self, res, decoded, ctx)
end

return M
