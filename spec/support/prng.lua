--- A seeded pseudo-random generator that draws the same numbers on Lua
-- 5.1-5.4 and LuaJIT: MRG32k3a (L'Ecuyer's combined multiple recursive
-- generator). It needs no bit operations and no integer subtype: every
-- product stays below 2^53, so it is exact in doubles, and math.fmod is exact.
--   local prng = require "support.prng"
--   local next_u = prng.new(seed)   -- next_u() --> an integer in 1..prng.M1
--   local pick, some = prng.pickers(next_u)
--       pick(list) --> one element; some(list, max, sep) --> 0 to max - 1 of
--       them, joined with sep (default "")
local M = {}

local M1, M2 = 4294967087, 4294944443
M.M1 = M1

local fmod = math.fmod
local function mod(v, m)
  v = fmod(v, m)
  if v < 0 then v = v + m end
  return v
end

function M.new(seed)
  local s10, s11, s12 = 12345, mod(seed, M1 - 1) + 1, 12345
  local s20, s21, s22 = mod(seed * 7, M2 - 1) + 1, 12345, 12345
  local function next_u()
    local p1 = mod(1403580 * s11 - 810728 * s10, M1)
    s10, s11, s12 = s11, s12, p1
    local p2 = mod(527612 * s22 - 1370589 * s20, M2)
    s20, s21, s22 = s21, s22, p2
    local u = p1 - p2
    if u <= 0 then u = u + M1 end
    return u
  end
  for _ = 1, 10 do next_u() end                  -- away from the seeding
  return next_u
end

function M.pickers(next_u)
  local function pick(list) return list[next_u() % #list + 1] end
  local function some(list, max, sep)
    local parts = {}
    for i = 1, next_u() % max do parts[i] = pick(list) end
    return table.concat(parts, sep)
  end
  return pick, some
end

return M
