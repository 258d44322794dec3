--- B1 (the C core alone): N sequential GET /jobs/{id} through scenario.core
-- with no client layer: core.request with the client's headers, core.step
-- until it is done, req:result(), core.json_decode, a Job made of the record.
-- A reference beside B1's rows: what the event loop, the request object and
-- the result cost above the floor (bench/b1_floor.c), and what the client
-- layer costs above this.   lua5.4 bench/b1_core.lua BASE_URL [N]
local scenario = require "scenario"
local core = require "scenario.core"
local job = require "scenario.job"

local base, n = arg[1], tonumber(arg[2] or 5000)
local client = scenario.new { base_url = base, api_key = "k", api_secret = "s", log = false }
local id = "job_124ba27fa8754e40b3ba34"
local url = base .. "/jobs/" .. id
-- the options client.jobs:get gives core.request (Client:_send)
local spec = { url = url, method = "GET", headers = client:headers_for(url), timeout = client.timeout,
  connect_timeout = client.connect_timeout, max_retries = client.max_retries, unsafe = false,
  ca_file = client.ca_file, insecure = client.insecure, max_body = client.max_response_bytes }
local t0 = core.now()
for i = 1, n do
  local req = core.request(spec)
  while not req:done() do core.step(1000) end
  local res, err = req:result()
  local record = res and res.status == 200 and core.json_decode(res.body)
  local j = record and type(record.job) == "table" and job.new(client, record.job)
  if not (j and j.id == id and j.status == "success") then
    io.stderr:write("request ", i, ": not the expected Job: ", tostring(err or (res and res.status)), "\n")
    os.exit(1)
  end
end
print(string.format("RESULT seconds=%.6f requests=%d", core.now() - t0, n))
