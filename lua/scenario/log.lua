--- Logging. `log` on the client: nil (warnings to stderr), false (nothing),
-- "error" | "warn" | "info" | "debug" (that level and above to stderr), or a
-- function(level, message) that receives every level.  Every message passes
-- through the client's redactor first: no key, secret or token gets out.
local M = {}

local LEVELS = { error = 1, warn = 2, info = 3, debug = 4 }
M.LEVELS = LEVELS

--- Returns log(level, fmt, ...) for a client configuration.
function M.new(setting, redact)
  local sink, threshold
  if type(setting) == "function" then
    sink, threshold = setting, LEVELS.debug
  elseif setting == false or setting == "off" or setting == "none" then
    return function() end
  else
    threshold = LEVELS[setting or "warn"]
    if not threshold then
      error("log: must be one of error, warn, info, debug, false or a function (got "
        .. tostring(setting) .. ")", 3)
    end
    sink = function(level, msg)
      io.stderr:write("[scenario] ", level, " ", msg, "\n")
    end
  end
  return function(level, fmt, ...)
    if LEVELS[level] > threshold then return end
    local msg = select("#", ...) > 0 and string.format(fmt, ...) or fmt
    local ok, err = pcall(sink, level, redact(msg))
    if not ok then io.stderr:write("[scenario] log function raised: ", redact(tostring(err)), "\n") end
  end
end

return M
