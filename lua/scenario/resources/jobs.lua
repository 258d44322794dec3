--- Hand-written job methods, added to the generated `client.jobs`.
local base = require "scenario.resources.base"
local job = require "scenario.job"
local loop = require "scenario.loop"
local check = require "scenario.check"

local Jobs = base.class("jobs")

-- the options of wait_all: job:wait's, plus concurrency
local WAIT_ALL_OPTIONS = check.closed { concurrency = "count?" }
for k, v in pairs(job.WAIT_OPTIONS) do WAIT_ALL_OPTIONS[k] = v end

-- The problems of the jobs argument of wait_all: a list of Jobs.
local function job_list_problems(jobs)
  if type(jobs) ~= "table" then
    return { "jobs: must be a list of jobs (got " .. check.show(jobs) .. ")" }
  end
  local problems = {}
  for i, j in ipairs(jobs) do
    if getmetatable(j) ~= job.Job then
      problems[#problems + 1] = "jobs[" .. i .. "]: must be a Job (got " .. check.show(j) .. ")"
    end
  end
  return problems
end

--- client.jobs:job(id) --> a Job for an id, without a request (resume later
-- with job:refresh() or job:wait()).
function Jobs:job(id)
  local aerr = check.self("client.jobs:job", self, Jobs) or check.args("client.jobs:job", "id", id, "id|table")
  if not aerr and type(id) == "table" and type(id.jobId or id.id) ~= "string" then
    -- a job record (the API's `job` object) carries its id
    aerr = check.error("client.jobs:job", { "id: a job record must have a string jobId (got "
      .. check.show(id.jobId or id.id) .. ")" })
  end
  if aerr then return nil, aerr end
  return job.new(self.client, id)
end

--- client.jobs:wait_all(jobs, opts) --> jobs, errors_by_job_id
-- Waits for every job on the one loop; opts as job:wait (timeout,
-- on_progress), plus concurrency (polls in flight, default 16).
-- An error raised by on_progress (for any job) stops every other wait at
-- once (polls and pauses cancelled) and is re-raised from this call,
-- unchanged; the jobs themselves run on at the API.
function Jobs:wait_all(jobs, opts)
  local aerr = check.self("client.jobs:wait_all", self, Jobs)
  if not aerr then
    local problems = job_list_problems(jobs)
    check.add(problems, "options", opts, WAIT_ALL_OPTIONS)
    aerr = check.error("client.jobs:wait_all", problems)
  end
  if aerr then return nil, aerr end
  opts = opts or {}
  local gate = loop.semaphore(opts.concurrency or 16)
  local wait_opts = {}
  for k, v in pairs(opts) do wait_opts[k] = v end
  wait_opts.concurrency, wait_opts.poll_gate = nil, gate
  local tasks = {}
  for i, j in ipairs(jobs) do
    tasks[i] = function() return job._wait(j, wait_opts) end   -- checked above
  end
  local results = loop.gather(tasks, #tasks)
  local errs = {}
  for i, r in ipairs(results) do
    if not r[1] then errs[jobs[i].id] = r[2] end
  end
  return jobs, errs
end

return Jobs
