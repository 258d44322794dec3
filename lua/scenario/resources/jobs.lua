--- Hand-written job methods, added to the generated `client.jobs`.
local base = require "scenario.resources.base"
local job = require "scenario.job"
local loop = require "scenario.loop"

local Jobs = base.class("jobs")

--- client.jobs:job(id) --> a Job for an id, without a request (resume later
-- with job:refresh() or job:wait()).
function Jobs:job(id)
  return job.new(self.client, id)
end

--- client.jobs:wait_all(jobs, opts) --> jobs, errors_by_job_id
-- Waits for every job on the one loop; opts as job:wait (timeout,
-- on_progress), plus concurrency (polls in flight, default 16).
-- An error raised by on_progress (for any job) stops every other wait at
-- once (polls and pauses cancelled) and is re-raised from this call,
-- unchanged; the jobs themselves run on at the API.
function Jobs.wait_all(_, jobs, opts)
  opts = opts or {}
  local gate = loop.semaphore(opts.concurrency or 16)
  local wait_opts = {}
  for k, v in pairs(opts) do wait_opts[k] = v end
  wait_opts.concurrency, wait_opts.poll_gate = nil, gate
  local tasks = {}
  for i, j in ipairs(jobs) do
    tasks[i] = function() return j:wait(wait_opts) end
  end
  local results = loop.gather(tasks, #tasks)
  local errs = {}
  for i, r in ipairs(results) do
    if not r[1] then errs[jobs[i].id] = r[2] end
  end
  return jobs, errs
end

return Jobs
