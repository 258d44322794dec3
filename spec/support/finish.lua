-- finish(req [, step_ms]) -> req:result() once the request is done, stepping
-- the loop (core.step(step_ms), 100 ms by default) until then.
local core = require "scenario.core"

return function(req, step_ms)
  while not req:done() do core.step(step_ms or 100) end
  return req:result()
end
