--- scenario.Error: the one error type of the SDK.
-- Fields: kind, status, message, request_id, operation, body, retryable,
-- and where they apply attempts, job, problems (validation), field.
local M = {}

local Error = {}
Error.__index = Error
Error.__name = "scenario.Error"
M.Error = Error

M.KINDS = {
  validation = true, auth = true, forbidden = true, not_found = true,
  rate_limit = true, api = true, server = true, timeout = true,
  connection = true, job_failed = true, job_canceled = true, io = true,
  budget = true, pipeline = true, -- scenario.pipeline: over max_cost; failed steps
}

function Error.__tostring(e)
  local parts = { "scenario: ", e.kind, " error" }
  if e.operation then parts[#parts + 1] = " in " .. e.operation end
  if e.status then parts[#parts + 1] = " (HTTP " .. tostring(e.status) .. ")" end
  parts[#parts + 1] = ": " .. tostring(e.message)
  if e.request_id then parts[#parts + 1] = " [request id " .. e.request_id .. "]" end
  return table.concat(parts)
end

--- Creates an error; `fields` must hold kind and message.
function M.new(fields)
  assert(M.KINDS[fields.kind], "unknown error kind")
  if fields.retryable == nil then fields.retryable = false end
  return setmetatable(fields, Error)
end

function M.is(v)
  return getmetatable(v) == Error
end

local STATUS_KINDS = {
  [400] = "validation", [401] = "auth", [403] = "forbidden", [404] = "not_found",
  [422] = "validation", [429] = "rate_limit",
}

function M.kind_for_status(status)
  if STATUS_KINDS[status] then return STATUS_KINDS[status] end
  if status >= 500 then return "server" end
  return "api"
end

local function first_string(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" and v ~= "" then return v end
  end
end

--- The human message carried by an API error body, whichever of its
-- documented shapes it has ({message}, {error}, {apiError}, nested details).
function M.message_from_body(body)
  if type(body) ~= "table" then return nil end
  local msg = first_string(body.message, body.error_description, body.apiError)
  if not msg and type(body.error) == "table" then
    msg = first_string(body.error.message, body.error.code)
  end
  msg = msg or first_string(body.error, body.code)
  local code = first_string(body.code, body.apiError)
  if msg and code and code ~= msg and not msg:find(code, 1, true) then
    msg = msg .. " (" .. code .. ")"
  end
  return msg
end

return M
