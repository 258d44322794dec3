--- Progress bars of the scenario-lua runner: one line on stderr, redrawn in
-- place ("\r", then erase to the end of the line) at most ten times a second,
-- and left behind with a newline when the work ends.
--
--   local bar = progress.new { enabled = true, label = "job_abc", columns = 80 }
--   bar:update(0.42, "in-progress")   -- a fraction (nil when unknown) and a note
--   bar:finish(1, "success")          -- drawn whatever the rate, then "\n"
--
-- A disabled bar (stderr is not a terminal, or --quiet) draws nothing.
local M = {}

local Bar = {}
Bar.__index = Bar

M.INTERVAL = 0.1 -- seconds between two redraws
M.WIDTH = 24     -- characters inside the brackets, at most

local now
do
  local ok, core = pcall(require, "scenario.core")
  now = ok and core.now or os.clock
end

--- Bytes for people: 512 B, 1.5 KiB, 12.0 MiB.
function M.bytes(n)
  n = n or 0
  if n < 1024 then return string.format("%d B", n) end
  local units = { "KiB", "MiB", "GiB", "TiB" }
  local i = 0
  repeat
    n = n / 1024
    i = i + 1
  until n < 1024 or i == #units
  return string.format("%.1f %s", n, units[i])
end

--- opts: enabled, label, stream (io.stderr), columns (the terminal's width).
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    enabled = opts.enabled and true or false,
    label = opts.label or "",
    stream = opts.stream or io.stderr,
    columns = (opts.columns and opts.columns > 20) and opts.columns or 80,
    last_draw = -math.huge,
    drawn = false,
    finished = false,
  }, Bar)
end

--- The line for a fraction (0..1, or nil) and a note.
function Bar:line(fraction, note)
  local parts = { self.label }
  if fraction then
    fraction = math.max(0, math.min(1, fraction))
    local width = math.max(8, math.min(M.WIDTH, self.columns - #self.label - 30))
    local full = math.floor(fraction * width + 0.5)
    parts[#parts + 1] = "[" .. string.rep("#", full) .. string.rep("-", width - full) .. "]"
    parts[#parts + 1] = string.format("%3d%%", math.floor(fraction * 100 + 0.5))
  end
  if note and note ~= "" then parts[#parts + 1] = note end
  local line = table.concat(parts, " ")
  if #line > self.columns - 1 then line = line:sub(1, self.columns - 1) end
  return line
end

function Bar:draw(fraction, note)
  self.stream:write("\r", self:line(fraction, note), "\27[K")
  self.stream:flush()
  self.drawn = true
  self.last_draw = now()
end

--- Redraws when the note changed or INTERVAL has passed since the last draw.
function Bar:update(fraction, note)
  if not self.enabled or self.finished then return end
  self.fraction, self.note = fraction, note
  if note ~= self.drawn_note or now() - self.last_draw >= M.INTERVAL then
    self.drawn_note = note
    self:draw(fraction, note)
  end
end

--- Draws the final state and ends the line.
function Bar:finish(fraction, note)
  if not self.enabled or self.finished then return end
  if fraction == nil then fraction = self.fraction end
  self:draw(fraction, note or self.note)
  self.stream:write("\n")
  self.stream:flush()
  self.finished = true
end

--- Erases the line of an unfinished bar (before an error message).
function Bar:clear()
  if self.enabled and self.drawn and not self.finished then
    self.stream:write("\r\27[K")
    self.stream:flush()
    self.finished = true
  end
end

return M
