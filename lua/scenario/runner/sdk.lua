--- What the commands ask of the SDK: a client configured from the
-- environment, waiting for jobs and downloading assets under one progress
-- bar each, and the pieces of their JSON documents.
local scenario = require "scenario"
local json = require "scenario.json"
local errors = require "scenario.errors"
local loop = require "scenario.loop"
local job = require "scenario.job"
local download = require "scenario.download"
local progress = require "scenario.progress"
local output = require "scenario.runner.output"

local M = {}

--- A client from the environment (scenario.new's variables, and
-- SCENARIO_POLL_INTERVAL); --send-unknown turns strict mode off.
-- Returns the client or nil, err.
function M.new_client(flags)
  local opts = { strict = not flags["send-unknown"] }
  local poll = tonumber(os.getenv("SCENARIO_POLL_INTERVAL") or "")
  if poll and poll >= 0 then opts.poll_interval = poll end
  local ok, client = pcall(scenario.new, opts)
  if not ok then return nil, output.as_error(client) end
  return client
end

function M.is_job(v)
  return type(v) == "table" and getmetatable(v) == job.Job
end

--- --timeout in seconds (default 600), or nil when it is not a number.
function M.timeout_of(o)
  local t = o.values.timeout
  if t == nil then return 600 end
  return tonumber(t)
end

-- The fraction done of jobs and a note for their bar.
local function jobs_state(jobs)
  local sum, running = 0, 0
  for _, j in ipairs(jobs) do
    local outcome = j:outcome()
    if outcome == "success" then sum = sum + 1
    else sum = sum + math.max(0, math.min(1, tonumber(j.progress) or 0)) end
    if not outcome then running = running + 1 end
  end
  local note = #jobs == 1 and tostring(jobs[1].status) or (running .. " running")
  return sum / #jobs, note
end

--- Waits for jobs under one progress bar. Returns errors by job id (empty
-- when all succeeded).
function M.wait_jobs(ui, client, jobs, timeout)
  local label = #jobs == 1 and tostring(jobs[1].id) or (#jobs .. " jobs")
  local bar = ui:bar(label)
  bar:update(jobs_state(jobs))
  local _, errs = client.jobs:wait_all(jobs, { timeout = timeout,
    on_progress = function() bar:update(jobs_state(jobs)) end })
  local fraction, note = jobs_state(jobs)
  if next(errs) == nil then fraction = 1 end
  bar:finish(fraction, note)
  return errs
end

--- The worst error of a wait: a job that failed or was canceled first.
function M.worst(errs, jobs)
  local first
  for _, j in ipairs(jobs) do
    local e = errs[j.id]
    if e then
      if e.kind == "job_failed" or e.kind == "job_canceled" then return e end
      first = first or e
    end
  end
  return first
end

-- The bar of a download of assets: draw() shows the bytes got[i] so far,
-- against their total when every asset says its size.
local function download_bar(ui, assets, got)
  local total, known = 0, true
  for _, a in ipairs(assets) do
    local size = type(a.properties) == "table" and tonumber(a.properties.size)
    if size then total = total + size else known = false end
  end
  local bar = ui:bar(#assets == 1 and "download" or ("download " .. #assets .. " files"))
  local function draw()
    local sum = 0
    for i = 1, #assets do sum = sum + (got[i] or 0) end
    if known and total > 0 then
      bar:update(math.min(sum / total, 1), progress.bytes(sum) .. " / " .. progress.bytes(total))
    else
      bar:update(nil, progress.bytes(sum))
    end
  end
  return bar, draw
end

--- Downloads asset records into dir under one progress bar. Returns the
-- list of { asset, path }, and the first error.
function M.download_assets(ui, client, assets, dir)
  local ok, err = download.ensure_dir(dir)
  if not ok then return {}, err end
  if #assets == 0 then return {} end
  local got = {}
  local bar, draw = download_bar(ui, assets, got)
  local tasks = {}
  for i, a in ipairs(assets) do
    tasks[i] = function()
      if type(a.url) ~= "string" then
        return nil, errors.new { kind = "api", message = "asset " .. tostring(a.id) .. " has no url" }
      end
      return download.url(client, a.url, dir .. "/" .. download.file_name(a), {
        on_progress = function(n)
          got[i] = n
          draw()
        end,
      })
    end
  end
  draw()
  local results = loop.gather(tasks, 4)
  local files, first_err = {}, nil
  for i, r in ipairs(results) do
    if r[1] then
      files[#files + 1] = { asset = assets[i].id, path = r[1] }
    else
      first_err = first_err or r[2]
    end
  end
  if first_err then bar:clear() else bar:finish(1) end
  return files, first_err
end

--- Downloads the outputs of succeeded jobs.
function M.download_outputs(ui, client, jobs, dir)
  local all = {}
  for _, j in ipairs(jobs) do
    local assets, err = j:assets()
    if not assets then return {}, err end
    for _, a in ipairs(assets) do all[#all + 1] = a end
  end
  return M.download_assets(ui, client, all, dir)
end

--- The list of { asset, path } of download_assets as a JSON array.
function M.files_doc(files)
  return json.array(files)
end

--- A copy of a list as a JSON array.
function M.ids_of(list)
  local ids = {}
  for i, item in ipairs(list) do ids[i] = item end
  return json.array(ids)
end

return M
