--- B4 (SDK): downloads COUNT files BASE_URL/files/f<i>.bin into OUT_DIR with
-- client.assets:download, CONCURRENCY at once on the one loop.
--   lua5.4 bench/b4_download.lua BASE_URL OUT_DIR [COUNT] [CONCURRENCY]
local scenario = require "scenario"
local loop = require "scenario.loop"
local core = require "scenario.core"

local base, out = arg[1], arg[2]
local count, conc = tonumber(arg[3] or 100), tonumber(arg[4] or 8)
local client = scenario.new { base_url = base, api_key = "k", api_secret = "s", log = false }
assert(core.mkdir(out))
local tasks = {}
for i = 1, count do
  tasks[i] = function()
    local asset = { id = "f" .. i, url = base .. "/files/f" .. i .. ".bin" }
    return client.assets:download(asset, out .. "/f" .. i .. ".bin")
  end
end
local t0 = core.now()
local results = loop.gather(tasks, conc)
local dt = core.now() - t0
for i, r in ipairs(results) do
  if not r[1] then
    io.stderr:write("download ", i, ": ", tostring(r[2]), "\n")
    os.exit(1)
  end
end
print(string.format("RESULT seconds=%.6f files=%d", dt, count))
