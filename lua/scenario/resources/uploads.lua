--- Uploads: the multipart flow of the API, added to the generated
-- `client.uploads` (create / get / action).
--   POST /uploads {fileName, fileSize, contentType, kind, parts}
--   PUT each part's bytes to its presigned URL (no Authorization: the URL
--     carries its own signature)
--   POST /uploads/{id}/action {action = "complete"}
--   GET /uploads/{id} until imported / complete (entityId) or failed
-- Part bodies are read straight from the file by the C core (libcurl's read
-- callback with pread at the part's offset: `upload_file` in csrc/request.c),
-- so a file is never held in memory. Parts go out in parallel on the shared
-- loop; a failed part is retried alone; an expired URL (403) fetches fresh
-- URLs first. Progress is the sum over parts of the most bytes each part has
-- sent, so it never goes back and ends exactly at the file's size.
local compat = require "scenario.compat"
local core = require "scenario.core"
local loop = require "scenario.loop"
local errors = require "scenario.errors"
local json = require "scenario.json"
local format = require "scenario.format"
local download = require "scenario.download"
local base = require "scenario.resources.base"
local check = require "scenario.check"

local Uploads = base.class("uploads")

local MiB = 1024 * 1024
local MIN_PART_SIZE = 5 * MiB        -- every part but the last
local DEFAULT_PART_SIZE = 8 * MiB
local MAX_PARTS = 10000
local PART_RETRIES = 3               -- per part, on 5xx / reset / timeout
local URL_REFRESHES = 3              -- per part, on 403 (expired URL)
local PROGRESS_INTERVAL = 0.1        -- seconds between on_progress checks
local DEFAULT_TIMEOUT = 3600         -- the whole call
local MAX_POLL_INTERVAL = 5

local KINDS = { "3d", "asset", "audio", "avatar", "image", "model", "video" }
local KIND_SET = {}
for _, k in ipairs(KINDS) do KIND_SET[k] = true end

local OK_STATUSES = { imported = true, complete = true, completed = true }
local TRANSIENT = { server = true, connection = true, timeout = true, rate_limit = true }

---------------------------------------------------------------------------
-- content type and kind

-- leading bytes -> MIME type
local MAGIC = {
  { "\137PNG\r\n\26\n", "image/png" }, { "\255\216\255", "image/jpeg" },
  { "GIF87a", "image/gif" }, { "GIF89a", "image/gif" },
  { "II*\0", "image/tiff" }, { "MM\0*", "image/tiff" },
  { "glTF", "model/gltf-binary" }, { "OggS", "audio/ogg" }, { "fLaC", "audio/flac" },
  { "ID3", "audio/mpeg" }, { "\26\69\223\163", "video/webm" },
  { "%PDF-", "application/pdf" }, { "PK\3\4", "application/zip" },
}

local RIFF = { WEBP = "image/webp", WAVE = "audio/wav", ["AVI "] = "video/x-msvideo" }
local FTYP = { avif = "image/avif", avis = "image/avif", heic = "image/heic",
  heix = "image/heic", mif1 = "image/heif", ["qt  "] = "video/quicktime",
  ["M4A "] = "audio/mp4" }

local EXTENSIONS = {
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  webp = "image/webp", avif = "image/avif", bmp = "image/bmp", tif = "image/tiff",
  tiff = "image/tiff", svg = "image/svg+xml", heic = "image/heic",
  mp4 = "video/mp4", m4v = "video/mp4", mov = "video/quicktime", webm = "video/webm",
  mkv = "video/x-matroska", avi = "video/x-msvideo",
  mp3 = "audio/mpeg", wav = "audio/wav", ogg = "audio/ogg", flac = "audio/flac",
  m4a = "audio/mp4", aac = "audio/aac",
  glb = "model/gltf-binary", gltf = "model/gltf+json", obj = "model/obj",
  fbx = "application/octet-stream", usdz = "model/vnd.usdz+zip", stl = "model/stl",
  zip = "application/zip", json = "application/json", txt = "text/plain",
  pdf = "application/pdf", safetensors = "application/octet-stream",
}

-- extensions that say the kind when the MIME type does not
local KIND_OF_EXTENSION = { glb = "3d", gltf = "3d", obj = "3d", fbx = "3d", usdz = "3d",
  stl = "3d", safetensors = "model" }

--- The MIME type of a file from its first bytes, or nil.
local function sniff(head)
  if type(head) ~= "string" or head == "" then return nil end
  for _, m in ipairs(MAGIC) do
    if head:sub(1, #m[1]) == m[1] then return m[2] end
  end
  if head:sub(1, 4) == "RIFF" and RIFF[head:sub(9, 12)] then return RIFF[head:sub(9, 12)] end
  if head:sub(5, 8) == "ftyp" then return FTYP[head:sub(9, 12)] or "video/mp4" end
  local b1, b2 = head:byte(1, 2)
  if b1 == 0xFF and b2 and b2 >= 0xE0 then return "audio/mpeg" end -- MPEG audio frame: 11 sync bits
  if head:sub(1, 2) == "BM" and #head >= 26 then return "image/bmp" end
  local text = head:gsub("^\239\187\191", ""):gsub("^%s+", "")
  if text:sub(1, 4) == "<svg" or (text:sub(1, 5) == "<?xml" and head:find("<svg", 1, true)) then
    return "image/svg+xml"
  end
end

local function extension_of(name)
  local ext = name:match("%.([%w]+)$")
  return ext and ext:lower()
end

local function basename(path)
  return (path:gsub("/+$", ""):match("([^/]+)$")) or path
end

local function kind_of(content_type, name)
  local ext = extension_of(name or "")
  if ext and KIND_OF_EXTENSION[ext] then return KIND_OF_EXTENSION[ext] end
  local major = content_type and content_type:match("^(%a+)/")
  if major == "image" or major == "video" or major == "audio" then return major end
  if major == "model" then return "3d" end
end

---------------------------------------------------------------------------
-- checks (nothing is sent before they pass)

local function invalid(field, message, operation)
  return errors.new { kind = "validation", field = field, operation = operation or "PostUploads",
    problems = { field .. ": " .. message }, message = field .. ": " .. message }
end

local is_integer = compat.is_integer

-- option -> type, for file / data / assets:upload
local FILE_OPTIONS = {
  kind = "string", content_type = "string", file_name = "string", part_size = "number",
  concurrency = "number", on_progress = "function", asset_options = "table",
  timeout = "number", part_timeout = "number", poll_interval = "number",
}

local function check_options(opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then return nil, invalid("options", "must be a table (got " .. type(opts) .. ")") end
  local names = {}
  for k in pairs(opts) do names[#names + 1] = tostring(k) end
  table.sort(names)
  for _, k in ipairs(names) do
    local want = allowed[k]
    if not want then return nil, invalid("options." .. k, "unknown option") end
    if type(opts[k]) ~= want then
      return nil, invalid("options." .. k, "must be a " .. want .. " (got " .. type(opts[k]) .. ")")
    end
  end
  for _, k in ipairs { "timeout", "part_timeout", "poll_interval" } do
    if opts[k] and (opts[k] ~= opts[k] or opts[k] <= 0) then   -- NaN too
      return nil, invalid("options." .. k, "must be > 0 (got " .. format.number(opts[k]) .. ")")
    end
  end
  if opts.concurrency and not (is_integer(opts.concurrency) and opts.concurrency >= 1) then
    return nil, invalid("options.concurrency",
      "must be an integer >= 1 (got " .. format.number(opts.concurrency) .. ")")
  end
  if opts.part_size and not (is_integer(opts.part_size) and opts.part_size >= MIN_PART_SIZE) then
    return nil, invalid("options.part_size", string.format(
      "must be an integer >= %d (5 MiB, the smallest part the API takes; got %s)", MIN_PART_SIZE,
      format.number(opts.part_size)))     -- 4194304, not Lua 5.4's 4194304.0
  end
  if opts.kind and not KIND_SET[opts.kind] then
    return nil, invalid("kind", "must be one of " .. table.concat(KINDS, ", ") ..
      " (got " .. string.format("%q", opts.kind) .. ")")
  end
  return opts
end

-- Part sizes for a file: part_size (grown, in whole MiB, when the file would
-- need more than 10,000 parts). Returns a list of { number, offset, length }.
local function plan_parts(size, part_size)
  part_size = part_size or DEFAULT_PART_SIZE
  if math.ceil(size / part_size) > MAX_PARTS then
    part_size = math.ceil(size / MAX_PARTS / MiB) * MiB
  end
  local parts = {}
  local offset = 0
  repeat
    local len = math.min(part_size, size - offset)
    parts[#parts + 1] = { number = #parts + 1, offset = offset, length = len }
    offset = offset + len
  until offset >= size
  return parts, part_size
end

-- Everything about a local file that the flow needs, or nil, err.
local function plan_file(path, opts)
  if type(path) ~= "string" or path == "" then
    return nil, invalid("path", "must be the path of a file (got " .. type(path) .. ")")
  end
  local f, oerr = io.open(path, "rb")
  if not f then
    return nil, errors.new { kind = "io", field = "path", operation = "PostUploads",
      message = "path: cannot open " .. tostring(oerr) }
  end
  local head, rerr = f:read(512)
  local size = head ~= nil and f:seek("end") or (rerr == nil and 0 or nil)
  f:close()
  if size == nil then
    return nil, errors.new { kind = "io", field = "path", operation = "PostUploads",
      message = "path: cannot read " .. path .. ": " .. tostring(rerr) }
  end
  if size == 0 then return nil, invalid("path", path .. " is empty: nothing to upload") end
  local file_name = opts.file_name or basename(path)
  local content_type = opts.content_type or sniff(head) or EXTENSIONS[extension_of(file_name) or ""]
    or EXTENSIONS[extension_of(path) or ""] or "application/octet-stream"
  local kind = opts.kind or kind_of(content_type, file_name)
  if not kind then
    return nil, invalid("kind", "required: cannot tell it from " .. file_name .. " (" .. content_type ..
      "); one of " .. table.concat(KINDS, ", "))
  end
  local parts, part_size = plan_parts(size, opts.part_size)
  return { path = path, size = size, file_name = file_name, content_type = content_type,
    kind = kind, parts = parts, part_size = part_size }
end

---------------------------------------------------------------------------
-- the flow

local function record_of(body)
  if type(body) == "table" and type(body.upload) == "table" then return body.upload end
  return body
end

local function api_error(message, fields)
  fields = fields or {}
  fields.kind, fields.message = fields.kind or "api", message
  return errors.new(fields)
end

local function failed_error(up)
  local reason = up.errorMessage or up.error or "no reason given"
  if type(reason) == "table" then reason = reason.message or reason.code or "no reason given" end
  -- The API took every byte and then refused the file (its validation step):
  -- the input is at fault and sending it again cannot help, as with a 400.
  return errors.new { kind = "validation", operation = "GetUploads", upload = up,
    body = up, retryable = false,
    message = string.format("upload %s failed: %s", tostring(up.id), tostring(reason)) }
end

--- Waits for an upload to leave pending/validating. Returns the record or nil, err.
local function wait_upload(self, up, ctx)
  local client = self.client
  local interval = ctx.poll_interval
  while true do
    local st = up.status
    if OK_STATUSES[st] then return up end
    if st == "failed" or st == "failure" or st == "error" then return nil, failed_error(up) end
    local left = ctx.deadline - core.now()
    if left <= 0 then
      return nil, errors.new { kind = "timeout", retryable = true, upload = up, operation = "GetUploads",
        message = string.format("upload %s still %s after %gs", tostring(up.id), tostring(st), ctx.timeout) }
    end
    loop.sleep(math.min(interval * (0.9 + 0.2 * math.random()), left))
    interval = math.min(interval * 1.5, MAX_POLL_INTERVAL)
    local body, err = self:get(up.id, nil, { timeout = ctx.api_timeout() })
    if body then
      up = record_of(body)
    elseif not TRANSIENT[err.kind] then
      return nil, err
    else
      client.log("debug", "upload %s: poll failed (%s), polling on", tostring(up.id), err.kind)
    end
  end
end

local function part_error(client, up_id, p, res, cerr)
  local where = string.format("part %d of upload %s", p.number, up_id)
  if res then
    local ok, decoded = pcall(json.decode, res.body or "")
    local msg = ok and errors.message_from_body(decoded) or ("HTTP " .. res.status)
    return errors.new { kind = errors.kind_for_status(res.status), status = res.status,
      operation = "PutUploadPart", message = client:redact(where .. ": " .. msg),
      request_id = res.headers and res.headers["x-request-id"], attempts = res.attempts,
      retryable = res.status >= 500 or res.status == 429 or res.status == 408 }
  end
  local kind = cerr.kind
  if kind ~= "timeout" and kind ~= "io" then kind = "connection" end
  return errors.new { kind = kind, operation = "PutUploadPart", attempts = cerr.attempts,
    message = client:redact(where .. ": " .. tostring(cerr.message)), retryable = kind ~= "io" }
end

-- closes the coroutine sending the parts (see Parts:gather_reporting)
local STOP_PARTS = { __close = function(t) loop.cancel(t[1]) end }

-- The sending of an upload's parts: the part URLs (fetched again after a
-- 403, once for every part that saw it), the bytes credited per part (for
-- on_progress), and the first failure, which stops the other parts.
local Parts = {}
Parts.__index = Parts

local function new_parts(uploads, plan, up, ctx)
  local client = uploads.client
  return setmetatable({ uploads = uploads, client = client, plan = plan, up = up, ctx = ctx,
    urls = {}, version = 1, failed = nil, refreshing = nil, refresh_err = nil,
    active = {},                  -- request -> part, while in flight
    best = {}, credited = 0, reported = -1,
    headers = { "User-Agent: " .. client.user_agent },   -- never Authorization
  }, Parts)
end

-- Takes the part URLs of an upload record; false when it has none.
function Parts:set_urls(record)
  if type(record.parts) ~= "table" or #record.parts == 0 then return false end
  for _, part in ipairs(record.parts) do
    if type(part) == "table" and part.number and type(part.url) == "string" then
      self.urls[tonumber(part.number)] = part.url
    end
  end
  return true
end

-- n bytes of part p are sent (a part sent again is not counted twice).
function Parts:credit(p, n)
  if n > p.length then n = p.length end
  local b = self.best[p.number] or 0
  if n > b then
    self.best[p.number] = n
    self.credited = self.credited + (n - b)
  end
end

function Parts:report()
  for req, p in pairs(self.active) do self:credit(p, (req:progress())) end
  local on_progress = self.ctx.on_progress
  if on_progress and self.credited > self.reported then
    self.reported = self.credited
    on_progress(self.credited, self.plan.size)
  end
end

-- The upload failed: the first error is kept and the other parts stopped now.
function Parts:fail(err)
  if not self.failed then
    self.failed = err
    for req in pairs(self.active) do req:cancel() end
  end
  return nil
end

-- Fresh part URLs after a 403 seen with URLs of version `seen`: one GET
-- for every part that saw it. Returns true or nil, err.
function Parts:refresh_urls(seen)
  if self.version > seen then return true end
  if self.refreshing then
    loop.await(self.refreshing)
    if self.version > seen then return true end
    return nil, self.refresh_err
  end
  local up, ev = self.up, loop.event()
  self.refreshing = ev
  local body, res = self.uploads:get(up.id, nil, { timeout = self.ctx.api_timeout() })
  local err = not body and res or nil
  if body then
    if self:set_urls(record_of(body)) then
      self.version = self.version + 1
      self.client.log("info", "upload %s: part URLs expired, fetched fresh ones", up.id)
    else
      err = api_error("upload " .. up.id .. ": no fresh part URLs (status " ..
        tostring(record_of(body).status) .. ")", { operation = "GetUploads" })
    end
  end
  self.refresh_err, self.refreshing = err, nil
  ev:set()
  if err then return nil, err end
  return true
end

-- One PUT of part p to url (libcurl retrying a transient failure up to
-- `retries` times): true, res, cerr; false when the upload failed meanwhile
-- or the request could not be made.
function Parts:put_once(p, url, timeout, retries)
  local client = self.client
  local made, req = pcall(core.request, {
    url = url, method = "PUT", headers = self.headers,
    upload_file = self.plan.path, upload_offset = p.offset, upload_length = p.length,
    timeout = timeout, connect_timeout = client.connect_timeout,
    max_retries = retries, ca_file = client.ca_file, insecure = client.insecure,
    bulk = true,   -- a frame loop starts API calls first (the start budget)
  })
  if not made then
    local msg = tostring(req):gsub("^scenario%.core%.request: ", "")
    self:fail(errors.new { kind = "io", field = "path", operation = "PutUploadPart", message = msg })
    return false
  end
  self.active[req] = p
  loop.await(req)
  self.active[req] = nil
  self:credit(p, (req:progress()))
  local res, cerr = req:result()
  getmetatable(req).__close(req)           -- curl handle and descriptor back now
  if self.failed then return false end
  return true, res, cerr
end

-- Whether a failed PUT may succeed when sent again.
local function transient(res, cerr)
  if res then return res.status >= 500 or res.status == 408 or res.status == 429 end
  return cerr.kind == "timeout" or cerr.kind == "connection"
end

-- Sends part p: a 403 fetches fresh URLs (URL_REFRESHES times), a transient
-- failure is retried (PART_RETRIES in all). True, or nil once the upload failed.
function Parts:put(p)
  local ctx, up, client = self.ctx, self.up, self.client
  local failures, refreshes = 0, 0
  while true do
    if self.failed then return nil end
    local seen, url = self.version, self.urls[p.number]
    if not url then return self:fail(api_error("upload " .. up.id .. " has no URL for part " .. p.number)) end
    local t = math.min(ctx.part_timeout, ctx.deadline - core.now())
    if t <= 0 then
      return self:fail(errors.new { kind = "timeout", retryable = true, operation = "PutUploadPart",
        message = string.format("upload %s not sent within %gs", up.id, ctx.timeout) })
    end
    local done, res, cerr = self:put_once(p, url, t, PART_RETRIES - failures)
    if not done then return nil end
    local attempts = (res or cerr).attempts or 1
    client.log("debug", "upload %s: PUT part %d -> %s (attempt %d)", up.id, p.number,
      res and res.status or cerr.kind, attempts)
    if res and res.status >= 200 and res.status < 300 then
      self:credit(p, p.length)
      if attempts > 1 then
        client.log("info", "upload %s: part %d sent after %d attempts", up.id, p.number, attempts)
      end
      return true
    end
    failures = failures + attempts - 1
    if res and res.status == 403 and refreshes < URL_REFRESHES then
      refreshes = refreshes + 1                 -- an expired URL: fetch fresh ones
      local ok, err = self:refresh_urls(seen)
      if not ok then return self:fail(err) end
    elseif failures < PART_RETRIES and transient(res, cerr) then
      failures = failures + 1
      loop.sleep(math.min(core.backoff(failures - 1, 0.75 + 0.25 * math.random()),
        math.max(0, ctx.deadline - core.now())))
    else
      return self:fail(part_error(client, up.id, p, res, cerr))
    end
  end
end

-- Runs the tasks (one per part) in a coroutine of their own while this one
-- reports progress, so that on_progress runs here (never inside libcurl)
-- and an error it raises comes out of this call, unchanged, once the parts
-- are stopped: closing their coroutine cancels every part in flight (and
-- any retry pause or URL refresh). The guard does the same when this
-- call's own coroutine is closed (loop.cancel, or a gather stopping its tasks).
function Parts:gather_reporting(tasks)
  local finished, raised, tick = false, nil, nil
  local parts = loop.spawn(function()
    local ok, e = loop.pcall(loop.gather, tasks, self.ctx.concurrency)
    if not ok then raised = { e } end
    finished = true
    if tick then tick:cancel() end
  end)
  loop.with(setmetatable({ parts }, STOP_PARTS), function()
    while not finished do
      local ok, perr = loop.pcall(self.report, self)
      if not ok then
        loop.cancel(parts)
        error(perr, 0)
      end
      if not finished then
        tick = core.timer(PROGRESS_INTERVAL)
        loop.await(tick)
        tick = nil
      end
    end
  end)
  if raised then error(raised[1], 0) end
end

-- Sends every part. Returns true or nil, err.
local function send_parts(self, plan, up, ctx)
  local sender = new_parts(self, plan, up, ctx)
  if not sender:set_urls(up) then
    return nil, api_error("upload " .. tostring(up.id) .. " came back without part URLs",
      { operation = "PostUploads", body = up })
  end
  local tasks = {}
  for i, p in ipairs(plan.parts) do tasks[i] = function() return sender:put(p) end end
  if ctx.on_progress then
    sender:gather_reporting(tasks)
  else
    loop.gather(tasks, ctx.concurrency)
  end
  if sender.failed then return nil, sender.failed end
  if ctx.on_progress then sender:report() end     -- exactly the file's size, once
  return true
end

local function context(self, opts)
  local client = self.client
  local timeout = opts.timeout or DEFAULT_TIMEOUT
  local ctx = {
    timeout = timeout, deadline = core.now() + timeout,
    part_timeout = opts.part_timeout or math.max(client.timeout, 300),
    concurrency = opts.concurrency or 4, on_progress = opts.on_progress,
    poll_interval = opts.poll_interval or client.poll_interval,
  }
  function ctx.api_timeout()
    return math.max(1, math.min(client.timeout, ctx.deadline - core.now()))
  end
  return ctx
end

local function complete(self, id, ctx)
  local body, err
  for _ = 1, 3 do
    body, err = self:action(id, { action = "complete" }, { timeout = ctx.api_timeout() })
    if body or not TRANSIENT[err.kind] then break end
    -- the action may have been taken: look before asking again
    local now_body = self:get(id, nil, { timeout = ctx.api_timeout() })
    if now_body and record_of(now_body).status ~= "pending" then return now_body end
  end
  return body, err
end

local function upload_planned(self, plan, opts)
  local ctx = context(self, opts)
  local fields = { fileName = plan.file_name, fileSize = plan.size, contentType = plan.content_type,
    kind = plan.kind, parts = #plan.parts, assetOptions = opts.asset_options }
  local body, err = self:create(fields, { timeout = ctx.api_timeout() })
  if not body then return nil, err end
  local up = record_of(body)
  if type(up) ~= "table" or type(up.id) ~= "string" then
    return nil, api_error("POST /uploads answered without an upload id", { operation = "PostUploads", body = body })
  end
  self.client.log("debug", "upload %s: %s, %d bytes in %d parts of %d", up.id, plan.file_name,
    plan.size, #plan.parts, plan.part_size)
  local ok, perr = send_parts(self, plan, up, ctx)
  if not ok then return nil, perr end
  body, err = complete(self, up.id, ctx)
  if not body then return nil, err end
  return wait_upload(self, record_of(body), ctx)
end

--- client.uploads:file(path, opts) --> the finished upload record | nil, err
-- opts: kind (default from the content type), content_type (default from the
-- magic bytes, then the extension), file_name (default the base name),
-- part_size (8 MiB; at least 5 MiB), concurrency (4), on_progress(sent, total),
-- asset_options (the API's assetOptions), timeout (the whole call, 3600 s),
-- part_timeout (each part's sending, retries included), poll_interval.
-- on_progress runs in the caller's coroutine, never inside libcurl; an error
-- it raises stops every part in flight and is then re-raised from this call,
-- unchanged (the upload is left incomplete: it is never marked complete).
function Uploads:file(path, opts)
  local aerr = check.self("client.uploads:file", self, Uploads)
  if aerr then return nil, aerr end
  local o, oerr = check_options(opts, FILE_OPTIONS)
  if not o then return nil, oerr end
  local plan, err = plan_file(path, o)
  if not plan then return nil, err end
  return upload_planned(self, plan, o)
end

--- client.uploads:data(bytes, opts) --> the finished upload record | nil, err
-- Uploads a string: it is written to a temporary file (removed afterwards,
-- also on error) and sent like :file, so parts, retries and progress are the
-- same. opts as :file; file_name defaults to "data" plus the extension of
-- the content type.
function Uploads:data(bytes, opts)
  local aerr = check.self("client.uploads:data", self, Uploads)
  if aerr then return nil, aerr end
  local o, oerr = check_options(opts, FILE_OPTIONS)
  if not o then return nil, oerr end
  if type(bytes) ~= "string" or bytes == "" then
    return nil, invalid("bytes", "must be a non-empty string (got " ..
      (type(bytes) == "string" and "an empty string" or type(bytes)) .. ")")
  end
  local copy = {}
  for k, v in pairs(o) do copy[k] = v end
  copy.content_type = o.content_type or sniff(bytes:sub(1, 512)) or "application/octet-stream"
  if not copy.file_name then
    copy.file_name = "data." .. (download.EXTENSIONS[copy.content_type] or "bin")
  end
  local tmp = os.tmpname()
  local f, ferr = io.open(tmp, "wb")
  local wrote, werr = false, ferr
  if f then
    wrote, werr = f:write(bytes)
    local closed, cerr = f:close()
    wrote, werr = wrote and closed, werr or cerr
  end
  if not wrote then
    os.remove(tmp)
    return nil, errors.new { kind = "io", message = "cannot write a temporary file " .. tmp .. ": " .. tostring(werr) }
  end
  -- removed however the call ends: a result, an error (on_progress raising),
  -- or this call's coroutine cancelled
  local temp = setmetatable({}, { __close = function() os.remove(tmp) end })
  return loop.with(temp, Uploads.file, self, tmp, copy)
end

local URL_OPTIONS = { kind = "string", file_name = "string", asset_options = "table",
  timeout = "number", poll_interval = "number" }

--- client.uploads:url(url, opts) --> the finished upload record | nil, err
-- Asks the API to import a file from an http(s) URL. opts: kind (default
-- from the URL's extension), file_name, asset_options, timeout, poll_interval.
function Uploads:url(url, opts)
  local aerr = check.self("client.uploads:url", self, Uploads)
  if aerr then return nil, aerr end
  local o, oerr = check_options(opts, URL_OPTIONS)
  if not o then return nil, oerr end
  if type(url) ~= "string" or not url:match("^[hH][tT][tT][pP][sS]?://[^/?#]+") then
    return nil, invalid("url", "must be an http or https URL (got " ..
      (type(url) == "string" and string.format("%q", url) or type(url)) .. ")")
  end
  local path_part = url:match("^%a+://[^/?#]*([^?#]*)") or ""
  local name = o.file_name or basename(path_part)
  local kind = o.kind or kind_of(EXTENSIONS[extension_of(name) or ""], name)
  if not kind then
    return nil, invalid("kind", "required: cannot tell it from the URL; one of " .. table.concat(KINDS, ", "))
  end
  local ctx = context(self, o)
  local fields = { url = url, kind = kind, assetOptions = o.asset_options }
  if name ~= "" then fields.fileName = name end
  local body, err = self:create(fields, { timeout = ctx.api_timeout() })
  if not body then return nil, err end
  return wait_upload(self, record_of(body), ctx)
end

-- for the tests
Uploads._sniff, Uploads._plan_parts = sniff, plan_parts

return Uploads
