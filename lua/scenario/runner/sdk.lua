--- What the commands ask of the SDK: a client configured from the
-- environment, waiting for jobs and downloading assets under one progress
-- bar each, and the pieces of their JSON documents.
local scenario = require "scenario"
local json = require "scenario.json"
local loop = require "scenario.loop"
local job = require "scenario.job"
local download = require "scenario.download"
local progress = require "scenario.progress"
local output = require "scenario.runner.output"

local M = {}

--- A client from the environment (scenario.new's variables, and
-- SCENARIO_POLL_INTERVAL); --send-unknown turns strict mode off. From then
-- on ui writes through the client's redactor. Returns the client or nil, err.
function M.new_client(flags, ui)
  local opts = { strict = not flags["send-unknown"] }
  local poll = tonumber(os.getenv("SCENARIO_POLL_INTERVAL") or "")
  if poll and poll >= 0 then opts.poll_interval = poll end
  local ok, client = pcall(scenario.new, opts)
  if not ok then return nil, output.as_error(client) end
  ui:use_client(client)
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

-- The fraction done of jobs and a note for their bar (cleaned now: the
-- bar cuts its line to the terminal's width, where a cut secret would no
-- longer be found).
local function jobs_state(ui, jobs)
  local sum, running = 0, 0
  for _, j in ipairs(jobs) do
    local outcome = j:outcome()
    if outcome == "success" then sum = sum + 1
    else sum = sum + math.max(0, math.min(1, tonumber(j.progress) or 0)) end
    if not outcome then running = running + 1 end
  end
  local note = #jobs == 1 and tostring(jobs[1].status) or (running .. " running")
  return sum / #jobs, ui:clean(note)
end

--- Waits for jobs under one progress bar. Returns errors by job id (empty
-- when all succeeded).
function M.wait_jobs(ui, client, jobs, timeout)
  local label = #jobs == 1 and tostring(jobs[1].id) or (#jobs .. " jobs")
  local bar = ui:bar(label)
  bar:update(jobs_state(ui, jobs))
  local _, errs = client.jobs:wait_all(jobs, { timeout = timeout,
    on_progress = function() bar:update(jobs_state(ui, jobs)) end })
  local fraction, note = jobs_state(ui, jobs)
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

--- Downloads asset records into dir under one progress bar, every one it
-- can. Returns files, the list of { asset = id, path } written, and
-- failures, the list of { asset = id, err } of the others (both in the
-- order of assets).
function M.download_assets(ui, client, assets, dir)
  local failures = {}
  local ok, err = download.ensure_dir(dir)
  if not ok then
    for i, a in ipairs(assets) do failures[i] = { asset = a.id, err = err } end
    return {}, failures
  end
  if #assets == 0 then return {}, failures end
  local got = {}
  local bar, draw = download_bar(ui, assets, got)
  local paths = download.file_names(assets, dir)   -- never two on one name
  local tasks = {}
  for i, a in ipairs(assets) do
    tasks[i] = function()
      return download.asset(client, a, paths[i], { on_progress = function(n)
        got[i] = n
        draw()
      end })
    end
  end
  draw()
  local files = {}
  for i, r in ipairs(loop.gather(tasks, 4)) do
    if r[1] then
      files[#files + 1] = { asset = assets[i].id, path = r[1] }
    else
      failures[#failures + 1] = { asset = assets[i].id, err = r[2] }
    end
  end
  if #failures > 0 then bar:clear() else bar:finish(1) end
  return files, failures
end

--- Downloads the outputs of succeeded jobs into dir. Returns the files
-- written by job (job -> list of { asset, path }) and the first error.
function M.download_outputs(ui, client, jobs, dir)
  local all, owner = {}, {}
  for _, j in ipairs(jobs) do
    local assets, err = j:assets()
    if not assets then return {}, err end
    for _, a in ipairs(assets) do
      all[#all + 1] = a
      owner[a.id] = j
    end
  end
  local files, failures = M.download_assets(ui, client, all, dir)
  local by_job = {}
  for _, f in ipairs(files) do
    local j = owner[f.asset]
    if j then
      by_job[j] = by_job[j] or {}
      by_job[j][#by_job[j] + 1] = f
    end
    ui:say(f.path)
  end
  return by_job, failures[1] and failures[1].err
end

-- The cost of a job: the generation's answer (creativeUnitsCost), else
-- the job's billing.
local function cost_of(j)
  if j.cost then return j.cost end
  local billing = type(j.record) == "table" and j.record.billing
  return type(billing) == "table" and tonumber(billing.cuCost) or nil
end

--- The one JSON object of a job, whichever command prints it (generate,
-- jobs get, wait, cancel): always the same keys. id, status, progress,
-- type, cost (creative units; null when unknown), assets (the ids of its
-- outputs so far), files (the { asset, path } written by --out, else []),
-- error (why the wait for it failed, else null), record (the API's job
-- object as it was last read).
function M.job_doc(j, files, err)
  return {
    id = j.id, status = j.status, progress = j.progress, type = j.type or json.null,
    cost = cost_of(j) or json.null,
    assets = json.array(j:asset_ids()),
    files = json.array(files or {}),
    error = err and output.error_doc(err) or json.null,
    record = j.record or json.null,
  }
end

--- The document of job-producing commands: { jobs = [ job_doc... ] }.
-- files: job -> files (download_outputs); errs: job id -> error.
function M.jobs_doc(jobs, files, errs)
  local list = {}
  for i, j in ipairs(jobs) do
    list[i] = M.job_doc(j, files and files[j], errs and errs[j.id])
  end
  return { jobs = json.array(list) }
end

return M
