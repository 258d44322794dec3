--- Streaming downloads: each file is written by the C core's write callback
-- straight to a temporary name beside its target (through Lua only when a
-- per-chunk on_progress is given), and renamed only when the
-- transfer completed with a 2xx status; a failed or interrupted download
-- leaves nothing under the final name. Redirects are followed; the API's
-- Authorization goes only to the API's own origin (libcurl also drops it when
-- a redirect changes host). File names come from the asset id and MIME type.
--
-- Bounds against a hostile or broken server: a download asks for no content
-- encoding, so the file is the bytes as served and never more than the
-- answer's Content-Length (libcurl reads no further); when the asset
-- announces its size (properties.size), a body that runs past it stops the
-- transfer with an `api` error and the partial file is removed. An error
-- answer's body is held in memory, under the client's max_response_bytes.
local core = require "scenario.core"
local loop = require "scenario.loop"
local errors = require "scenario.errors"
local format = require "scenario.format"
local track = require "scenario.track"

local M = {}

M.EXTENSIONS = {
  ["image/png"] = "png", ["image/jpeg"] = "jpg", ["image/jpg"] = "jpg",
  ["image/webp"] = "webp", ["image/gif"] = "gif", ["image/svg+xml"] = "svg",
  ["image/avif"] = "avif", ["image/tiff"] = "tiff", ["image/bmp"] = "bmp",
  ["video/mp4"] = "mp4", ["video/webm"] = "webm", ["audio/mpeg"] = "mp3",
  ["audio/wav"] = "wav", ["audio/x-wav"] = "wav", ["audio/ogg"] = "ogg",
  ["model/gltf-binary"] = "glb", ["model/gltf+json"] = "gltf", ["model/obj"] = "obj",
  ["application/zip"] = "zip", ["application/json"] = "json", ["text/plain"] = "txt",
}

--- A safe file name for an asset: its id (only letters, digits, '-' and '_'
-- kept) and the extension of its MIME type.
function M.file_name(asset)
  local id = tostring(asset.id or asset.assetId or "asset"):gsub("[^%w%-_]", "_")
  if id == "" or id:match("^_*$") then id = "asset" end
  local mime = type(asset.mimeType) == "string" and asset.mimeType:lower():match("^[^;%s]+") or ""
  return id:sub(1, 200) .. "." .. (M.EXTENSIONS[mime] or "bin")
end

-- 8 hex digits of a polynomial hash of s modulo a prime below 2^31, mixed
-- by two steps of a Lehmer generator so that short ids spread too: plain
-- arithmetic (no bit operators, every product below 2^53), so the same id
-- gives the same suffix on every Lua version
local function short_hash(s)
  local h = 0
  for i = 1, #s do h = (h * 65599 + s:byte(i)) % 2147483629 end
  for _ = 1, 2 do h = (h * 48271 + 1) % 2147483647 end
  return string.format("%08x", h)
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  -- a file this process may not read: renaming it onto itself succeeds only
  -- when it is there
  return os.rename(path, path) ~= nil
end

--- The paths in dir of a list of assets: one per asset, no two the same and
-- none of a file already in dir, so nothing is overwritten. An asset whose
-- id is a safe name (letters, digits, '-', '_'; at most 200) gets
-- `<id>.<ext>`; otherwise, or when that name is taken, its sanitised id gets
-- `-<8 hex digits of a hash of the id>` (ids "a/b" and "a_b": "a_b-<hash>.png"
-- and "a_b.png"), then "-2", "-3"... while still taken. Names differing only
-- in case count as the same (case-insensitive file systems). A file another
-- process creates under a chosen name before the download ends is replaced.
function M.file_names(assets, dir)
  local taken, paths = {}, {}
  local function free(name)
    return not taken[name:lower()] and not exists(dir .. "/" .. name)
  end
  for i, asset in ipairs(assets) do
    local raw = tostring(type(asset) == "table" and (asset.id or asset.assetId) or "asset")
    local stem, ext = M.file_name(type(asset) == "table" and asset or {}):match("^(.*)%.([^.]*)$")
    local name = stem .. "." .. ext
    if stem ~= raw or not free(name) then
      local base, n = stem .. "-" .. short_hash(raw), 1
      name = base .. "." .. ext
      while not free(name) do
        n = n + 1
        name = base .. "-" .. n .. "." .. ext
      end
    end
    taken[name:lower()] = true
    paths[i] = dir .. "/" .. name
  end
  return paths
end

local function ensure_dir(dir)
  local ok, err = core.mkdir(dir)
  if not ok then
    return nil, errors.new { kind = "io", message = "cannot create directory " .. err }
  end
  return true
end
M.ensure_dir = ensure_dir

-- Closes and removes a download's temporary file, however the download ends:
-- an error, a user callback raising, or its coroutine cancelled by
-- loop.cancel (a gather stopping its tasks): the guard of loop.with. After
-- the rename there is nothing to remove. scenario.track knows the file while
-- it exists, for a runner stopped before this runs (Ctrl-C).
local TempFile = {
  __close = function(t)
    if io.type(t.f) == "file" then t.f:close() end
    if t.path then
      os.remove(t.path)
      track.partial_closed(t.path)
    end
  end,
}

--- Downloads url to path. opts: timeout (default 600 s), headers,
-- size (the bytes announced for the file: a longer body is an error),
-- on_progress(bytes_received, path) after every chunk (runs inside the
-- transfer: must not yield). An error raised by on_progress aborts the
-- transfer, removes the partial file and is re-raised from this call,
-- unchanged. Returns path or nil, err.
local fetch

function M.url(client, url, path, opts)
  opts = opts or {}
  local tmp = string.format("%s.part-%d", path, math.random(1, 2^30))
  local f, ferr = io.open(tmp, "wb")
  if not f then
    return nil, errors.new { kind = "io", message = "cannot write " .. tmp .. ": " .. tostring(ferr) }
  end
  track.partial_opened(tmp, path)
  local temp = setmetatable({ f = f, path = tmp }, TempFile)
  return loop.with(temp, fetch, client, url, path, opts, temp)
end

-- A size announced for a file, when it is one: a whole number of bytes.
function M.announced(size)
  if type(size) == "number" and size >= 1 and size == math.floor(size) and size < 2^53 then
    return size
  end
end

-- The error of a download the C core stopped: a body past the announced
-- size, an error answer's body over max_response_bytes, headers too large,
-- a refused redirect. The server's fault: kind "api", not retried.
local function refused(client, cerr, path)
  local why
  if cerr.kind == "redirect" then
    why = "the server's redirect was refused: " .. cerr.message
  elseif cerr.what == "stream" then
    why = "the body is larger than the " .. format.number(cerr.limit)
      .. " bytes announced for it; the partial file was removed"
  elseif cerr.what == "body" then
    why = "the error answer's body is larger than max_response_bytes ("
      .. format.number(cerr.limit) .. " bytes)"
  else
    why = "the server's response headers were too large: " .. cerr.message
  end
  return errors.new { kind = "api", status = cerr.status, retryable = false,
    attempts = cerr.attempts, message = client:redact("download of " .. path .. ": " .. why) }
end

fetch = function(client, url, path, opts, temp)
  local f, tmp = temp.f, temp.path
  local received, write_err = 0, nil
  local on_progress = opts.on_progress
  local spec = {
    url = url, method = "GET", follow_redirects = true,
    headers = client:headers_for(url, opts.headers, false),
    timeout = opts.timeout or 600, connect_timeout = client.connect_timeout,
    max_retries = client.max_retries, ca_file = client.ca_file, insecure = client.insecure,
    compressed = false, max_stream = M.announced(opts.size),
    max_body = client.max_response_bytes,
    bulk = true,   -- a frame loop starts API calls first (the start budget)
  }
  if on_progress then
    -- every chunk through Lua, for the progress callback
    spec.on_data = function(chunk)
      local ok, e = f:write(chunk)
      if not ok then
        write_err = e
        error("write failed", 0)
      end
      received = received + #chunk
      on_progress(received, path)
    end
  else
    spec.output = f -- written by the C core's write callback: no Lua per chunk
  end
  local req = core.request(spec)
  loop.await(req)
  f:close()
  local res, cerr = req:result()
  if res and res.status >= 200 and res.status < 300 then
    local ok, rerr = os.rename(tmp, path)
    if ok then
      temp.path = nil
      track.partial_closed(tmp)
      return path
    end
    return nil, errors.new { kind = "io", message = "cannot rename to " .. path .. ": " .. tostring(rerr) }
  end
  if write_err then
    return nil, errors.new { kind = "io", message = "cannot write " .. path .. ": " .. tostring(write_err) }
  end
  if cerr and cerr.kind == "callback" then error(cerr.value, 0) end
  if cerr and (cerr.kind == "too_large" or cerr.kind == "redirect") then
    return nil, refused(client, cerr, path)
  end
  if cerr and cerr.kind == "io" then
    return nil, errors.new { kind = "io", message = "download of " .. path .. ": " .. cerr.message }
  end
  if not res then
    return nil, errors.new { kind = cerr.kind == "timeout" and "timeout" or "connection",
      message = "download of " .. path .. " failed: " .. client:redact(cerr.message),
      retryable = true, attempts = cerr.attempts }
  end
  return nil, errors.new { kind = errors.kind_for_status(res.status), status = res.status,
    message = "download of " .. path .. " answered HTTP " .. res.status,
    retryable = res.status >= 500 }
end

--- Downloads an asset record (its url; an `api` error when it has none) to
-- path, bounded by the size the asset announces (properties.size) when it
-- has one. opts: as M.url.
function M.asset(client, asset, path, opts)
  if type(asset.url) ~= "string" then
    return nil, errors.new { kind = "api", message = "asset " .. tostring(asset.id) .. " has no url" }
  end
  local props = type(asset.properties) == "table" and asset.properties or {}
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.size == nil then o.size = M.announced(props.size) end
  return M.url(client, asset.url, path, o)
end

--- Downloads asset records into dir, `concurrency` at once (default 4).
-- Returns the list of paths in asset order, or nil, first error, paths written.
-- An error raised by opts.on_progress stops every other download at once
-- (their partial files removed) and is re-raised from this call, unchanged.
function M.assets(client, assets, dir, opts)
  opts = opts or {}
  local ok, err = ensure_dir(dir)
  if not ok then return nil, err end
  local paths_of = M.file_names(assets, dir)
  local tasks = {}
  for i, asset in ipairs(assets) do
    tasks[i] = function() return M.asset(client, asset, paths_of[i], opts) end
  end
  local results = loop.gather(tasks, opts.concurrency or 4)
  local paths, first_err = {}, nil
  for i = 1, #results do
    if results[i][1] then paths[#paths + 1] = results[i][1]
    else first_err = first_err or results[i][2] end
  end
  if first_err then return nil, first_err, paths end
  return paths
end

return M
