--- The scheduler: coroutines on top of the C loop.
-- `spawn` runs a function in a coroutine; inside it, every SDK call that waits
-- (a request, a poll, a pause) yields to the loop instead of blocking.
-- Outside a spawned coroutine the same calls block by stepping the loop
-- themselves, so spawned work keeps moving while the main code waits.
local core = require "scenario.core"

local M = {}

local WAIT = {}                                    -- sentinel yielded while waiting
local waiting = {}                                 -- handle -> coroutine
local spawned = setmetatable({}, { __mode = "k" }) -- coroutine -> true
local ready = {}                                   -- coroutines that yielded on their own
-- finished handles not yet dispatched: a queue of backlog[head..tail]
local backlog, head, tail = {}, 1, 0

-- A step dispatches finished work for at most this long (or max_ms when that
-- is longer); what is left waits for the next step, so that a frame loop
-- calling step(0) is never held up by many transfers finishing at once.
M.BUDGET = 0.001

--- Called with (err, traceback) when a spawned coroutine raises.
function M.on_error(err, traceback)
  io.stderr:write("scenario: error in a spawned coroutine: ", tostring(err), "\n",
    traceback or "", "\n")
end

local function resume(co, ...)
  local ok, res = coroutine.resume(co, ...)
  if not ok then
    spawned[co] = nil
    local handler_ok, herr = pcall(M.on_error, res, debug.traceback(co))
    if not handler_ok then
      io.stderr:write("scenario: on_error raised: ", tostring(herr), "\n")
    end
  elseif coroutine.status(co) == "dead" then
    spawned[co] = nil
  elseif res ~= WAIT then
    ready[#ready + 1] = co                         -- a plain yield: run again next step
  end
end

--- Runs fn(...) in a new coroutine, started at once. Returns the coroutine.
function M.spawn(fn, ...)
  local co = coroutine.create(fn)
  spawned[co] = true
  resume(co, ...)
  return co
end

--- True when the running code is a coroutine started by spawn.
function M.in_spawned()
  local co, main = coroutine.running()
  return not main and spawned[co] == true
end

--- Advances every transfer, timer and coroutine; returns within max_ms
-- (0 never waits). Returns the number of things still in progress.
function M.step(max_ms)
  local wait = max_ms or 0
  if #ready > 0 or head <= tail then wait = 0 end
  local finished = core.step(wait)
  for i = 1, #finished do
    tail = tail + 1
    backlog[tail] = finished[i]
  end
  local stop = core.now() + math.max(M.BUDGET, wait / 1000)
  while head <= tail do
    local h = backlog[head]
    backlog[head] = nil
    head = head + 1
    local co = waiting[h]
    if co then
      waiting[h] = nil
      resume(co)
    end
    if core.now() >= stop then break end
  end
  if head > tail then head, tail = 1, 0 end
  if #ready > 0 and core.now() < stop then
    local batch = ready
    ready = {}
    for i = 1, #batch do resume(batch[i]) end
  end
  return core.pending() + #ready + (tail - head + 1)
end

--- Steps until no transfer, timer or spawned coroutine is left.
function M.run()
  while M.step(1000) > 0 do end
end

--- Waits until a core handle (request or timer) is done: yields inside a
-- spawned coroutine, drives the loop otherwise.
function M.await(handle)
  if handle:done() then return end
  if M.in_spawned() then
    waiting[handle] = coroutine.running()
    while not handle:done() do coroutine.yield(WAIT) end
  else
    while not handle:done() do M.step(1000) end
  end
end

local Event = {}
Event.__index = Event

function Event:done() return self.is_set end

--- Wakes whoever awaits the event.
function Event:set()
  if self.is_set then return end
  self.is_set = true
  local co = waiting[self]
  if co then
    waiting[self] = nil
    ready[#ready + 1] = co
  end
end

--- A one-shot condition that `await` can wait on, set from Lua code.
function M.event()
  return setmetatable({ is_set = false }, Event)
end

--- A counting semaphore: at most n holders at once; waiters queue in order.
function M.semaphore(n)
  local s = { free = n, queue = {} }
  function s.acquire()
    if s.free > 0 then
      s.free = s.free - 1
      return
    end
    local ev = M.event()
    s.queue[#s.queue + 1] = ev
    M.await(ev)
  end
  function s.release()
    local ev = table.remove(s.queue, 1)
    if ev then ev:set() else s.free = s.free + 1 end
  end
  return s
end

--- Runs every function of `tasks` with at most `concurrency` at once, on the
-- loop; waits for all. Returns a list of { ok, result1, result2 } per task.
-- An error raised by a task is re-raised here once every task has ended.
function M.gather(tasks, concurrency)
  local n = #tasks
  local results = {}
  if n == 0 then return results end
  local workers = math.max(1, math.min(concurrency or 4, n))
  local next_i, finished = 1, 0
  local all = M.event()
  local raised
  local function worker()
    while next_i <= n do
      local i = next_i
      next_i = i + 1
      local ok, a, b = pcall(tasks[i])
      if ok then results[i] = { a, b }
      else
        results[i] = { nil, a }
        raised = raised or { a }
      end
    end
    finished = finished + 1
    if finished == workers then all:set() end
  end
  for _ = 1, workers do M.spawn(worker) end
  M.await(all)
  if raised then error(raised[1], 0) end
  return results
end

--- Pauses the caller for `seconds` without stalling the loop.
function M.sleep(seconds)
  M.await(core.timer(seconds))
end

return M
