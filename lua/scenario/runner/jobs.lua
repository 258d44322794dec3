--- scenario-lua jobs get|wait|cancel ID...: looks at, waits for (then
-- downloads the outputs of) or cancels jobs.
local compat = require "scenario.compat"
local args = require "scenario.runner.args"
local output = require "scenario.runner.output"
local sdk = require "scenario.runner.sdk"

local M = {}

M.help = [==[
usage: %s jobs get ID...                 print the status and progress of jobs
       %s jobs wait ID... [--out DIR]    wait for jobs (then download their outputs)
       %s jobs cancel ID...              cancel jobs
       [--timeout SECONDS] [--json] [--quiet]

Exit status 3 when a job waited for failed or was canceled. --json prints
{"jobs": [job...]}, each job the same object as generate's.
]==]

local ACTIONS = {}

-- The Job of an id, fetched (GET /jobs/{id}); nil, err.
local function fetch_job(client, id)
  local job, err = client.jobs:get(id)
  if not job then return nil, err end
  if not sdk.is_job(job) then job = client.jobs:job(id):_update(job.job or job) end
  return job
end

function ACTIONS.get(ui, client, ids)
  local jobs = {}
  for _, id in ipairs(ids) do
    local job, err = fetch_job(client, id)
    if not job then return ui:fail(err) end
    jobs[#jobs + 1] = job
    ui:say(output.job_line(job))
  end
  return ui:done(sdk.jobs_doc(jobs))
end

function ACTIONS.cancel(ui, client, ids)
  local jobs = {}
  for _, id in ipairs(ids) do
    local job, jerr = client.jobs:job(id)
    if not job then return ui:fail(jerr) end   -- an empty id
    local ok, err = job:cancel()
    if not ok then return ui:fail(err) end
    if job:outcome() == nil then
      ok, err = job:refresh()
      if not ok then return ui:fail(err) end
    end
    jobs[#jobs + 1] = job
    ui:say(output.job_line(job))
  end
  return ui:done(sdk.jobs_doc(jobs))
end

function ACTIONS.wait(ui, client, ids, o)
  local jobs = {}
  for _, id in ipairs(ids) do
    local job, err = fetch_job(client, id)
    if not job then return ui:fail(err) end
    jobs[#jobs + 1] = job
  end
  local errs = sdk.wait_jobs(ui, client, jobs, sdk.timeout_of(o))
  for _, j in ipairs(jobs) do ui:say(output.job_line(j)) end
  local werr = sdk.worst(errs, jobs)
  if werr then return ui:fail(werr, sdk.jobs_doc(jobs, nil, errs)) end
  local files
  if o.values.out then
    local derr
    files, derr = sdk.download_outputs(ui, client, jobs, o.values.out)
    if derr then return ui:fail(derr, sdk.jobs_doc(jobs, files)) end
  end
  return ui:done(sdk.jobs_doc(jobs, files))
end

function M.run(words, host)
  local o, ui, exit = args.begin("jobs", words, host, { values = { out = true, timeout = true } }, M.help)
  if not o then return exit end
  local name = o.positional[1]
  local action = ACTIONS[name or ""]
  if not action then
    return ui:fail(output.usage_error(name and ("unknown jobs action " .. name)
      or "jobs needs an action: get, wait or cancel", "jobs"))
  end
  local ids = compat.slice(o.positional, 2, #o.positional)
  if #ids == 0 then return ui:fail(output.usage_error("jobs " .. name .. " needs a job ID", "jobs")) end
  if not sdk.timeout_of(o) then
    return ui:fail(output.usage_error("--timeout needs a number of seconds", "jobs"))
  end
  local client, cerr = sdk.new_client(o.flags, ui)
  if not client then return ui:fail(cerr) end
  return action(ui, client, ids, o)
end

return M
