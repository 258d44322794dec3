--- B3 (SDK): uploads FILE with client.uploads:file in 8 MiB parts,
-- CONCURRENCY parts in flight, to the API at BASE_URL (nginx in the bench:
-- it hands out part URLs of its own PUT sink).
--   lua5.4 bench/b3_upload.lua BASE_URL FILE CONCURRENCY
local scenario = require "scenario"
local core = require "scenario.core"

local base, file, conc = arg[1], arg[2], tonumber(arg[3] or 1)
local client = scenario.new { base_url = base, api_key = "k", api_secret = "s", log = false }
local t0 = core.now()
local upload, err = client.uploads:file(file, {
  kind = "image", part_size = 8 * 1024 * 1024, concurrency = conc })
local dt = core.now() - t0
if not upload then
  io.stderr:write("upload: ", tostring(err), "\n")
  os.exit(1)
end
print(string.format("RESULT seconds=%.6f", dt))
