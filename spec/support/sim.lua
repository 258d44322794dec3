--- The simulator's launcher, for the specs: simulator/sim.lua (see there),
-- loaded once whichever way it is reached (require "support.sim" here,
-- require "simulator.sim" elsewhere).
--   local sim = require("support.sim").start { job_duration = 0.5 }
local loaded = package.loaded["simulator.sim"]
if loaded then return loaded end
local root = debug.getinfo(1, "S").source:match("^@(.-)spec/support/sim%.lua$") or ""
local M = dofile(root .. "simulator/sim.lua")
package.loaded["simulator.sim"] = M
return M
