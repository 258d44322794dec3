--- Streaming downloads: each file is written by the C core's write callback
-- straight to a temporary name beside its target (through Lua only when a
-- per-chunk on_progress is given), and renamed only when the
-- transfer completed with a 2xx status; a failed or interrupted download
-- leaves nothing under the final name. Redirects are followed; the API's
-- Authorization goes only to the API's own origin (libcurl also drops it when
-- a redirect changes host). File names come from the asset id and MIME type.
local core = require "scenario.core"
local loop = require "scenario.loop"
local errors = require "scenario.errors"
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

fetch = function(client, url, path, opts, temp)
  local f, tmp = temp.f, temp.path
  local received, write_err = 0, nil
  local on_progress = opts.on_progress
  local spec = {
    url = url, method = "GET", follow_redirects = true,
    headers = client:headers_for(url, opts.headers, false),
    timeout = opts.timeout or 600, connect_timeout = client.connect_timeout,
    max_retries = client.max_retries, ca_file = client.ca_file, insecure = client.insecure,
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

--- Downloads asset records into dir, `concurrency` at once (default 4).
-- Returns the list of paths in asset order, or nil, first error, paths written.
-- An error raised by opts.on_progress stops every other download at once
-- (their partial files removed) and is re-raised from this call, unchanged.
function M.assets(client, assets, dir, opts)
  opts = opts or {}
  local ok, err = ensure_dir(dir)
  if not ok then return nil, err end
  local tasks = {}
  for i, asset in ipairs(assets) do
    tasks[i] = function()
      local url = asset.url
      if type(url) ~= "string" then
        return nil, errors.new { kind = "api", message = "asset " .. tostring(asset.id) .. " has no url" }
      end
      return M.url(client, url, dir .. "/" .. M.file_name(asset), opts)
    end
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
