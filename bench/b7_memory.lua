--- B7: N requests (client.jobs:get) in one process; VmRSS from
-- /proc/self/status after the first 100 and after all N, each read after a
-- full garbage collection (so the growth is what is still held: a leak).
--   lua5.4 bench/b7_memory.lua BASE_URL [N]
local scenario = require "scenario"

local base, n = arg[1], tonumber(arg[2] or 10000)
local client = scenario.new { base_url = base, api_key = "k", api_secret = "s", log = false }
local id = "job_124ba27fa8754e40b3ba34"

local function rss_kib()
  collectgarbage("collect")
  collectgarbage("collect")
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)"))
end

local after100
for i = 1, n do
  local job, err = client.jobs:get(id)
  if not job then
    io.stderr:write("request ", i, ": ", tostring(err), "\n")
    os.exit(1)
  end
  if i == 100 then after100 = rss_kib() end
end
local after = rss_kib()
print(string.format("RESULT rss100_kib=%d rss_end_kib=%d growth_kib=%d requests=%d lua_kib=%d",
  after100, after, after - after100, n, math.floor(collectgarbage("count"))))
