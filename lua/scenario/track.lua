--- scenario.track: what this process has in flight, for whoever must report
-- on it or clean up when a run stops early (the scenario-lua runner after
-- Ctrl-C: scenario.runner.interrupted names the jobs still running and
-- removes the partial files).
-- scenario.job reports the jobs it makes and those that end; scenario.download
-- the temporary files it opens and those it renames or removes. The library
-- only reports here and never reads it back; this module requires nothing.
local M = {}

-- Job -> creation number. Weak keys: a job its owner dropped is forgotten.
local jobs = setmetatable({}, { __mode = "k" })
local created = 0

-- temporary path -> the final path it becomes, while it is being written
local partial = {}

--- A Job was made (scenario.job.new).
function M.job_created(job)
  created = created + 1
  jobs[job] = created
end

--- A Job reached a terminal status.
function M.job_ended(job)
  jobs[job] = nil
end

--- Jobs made in this process with an id whose last known status is not
-- terminal, oldest first, one per job id.
function M.running_jobs()
  local list = {}
  for job in pairs(jobs) do
    if job.id and not job:outcome() then list[#list + 1] = job end
  end
  table.sort(list, function(a, b) return jobs[a] < jobs[b] end)
  local seen, out = {}, {}
  for _, job in ipairs(list) do
    if not seen[job.id] then
      seen[job.id] = true
      out[#out + 1] = job
    end
  end
  return out
end

--- A download opened its temporary file `tmp`, to become `path`.
function M.partial_opened(tmp, path)
  partial[tmp] = path
end

--- The temporary file `tmp` was renamed to its final path, or removed.
function M.partial_closed(tmp)
  partial[tmp] = nil
end

--- The temporary files being written, sorted.
function M.partial_files()
  local list = {}
  for tmp in pairs(partial) do list[#list + 1] = tmp end
  table.sort(list)
  return list
end

return M
