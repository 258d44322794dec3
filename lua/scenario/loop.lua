--- The scheduler: coroutines on top of the C loop.
-- `spawn` runs a function in a coroutine; inside it, every SDK call that waits
-- (a request, a poll, a pause) yields to the loop instead of blocking.
-- Outside a spawned coroutine the same calls block by stepping the loop
-- themselves, so spawned work keeps moving while the main code waits.
--
-- User callbacks that raise (on_progress of job:wait, wait_all, downloads and
-- uploads; on_data of core.request): the user's own error value is re-raised,
-- unchanged, from the call that took the callback, once everything that call
-- started has stopped: its transfers and timers are cancelled, the coroutines
-- it spawned are closed, temporary files are removed. `gather` is where that
-- happens for concurrent work: the first task to raise stops the others at
-- once (`cancel`), and the error comes out of `gather`. A spawned coroutine
-- that raises goes to `on_error`; other spawned coroutines carry on.
--
-- How a wait is stopped: the same code runs on Lua 5.1 to 5.4 and LuaJIT,
-- which have no to-be-closed variables (5.4's `<close>`) and, but for 5.4, no
-- coroutine.close. So the scheduler keeps a stack of guards per coroutine:
-- `await` pushes one while it yields, so that cancelling the coroutine
-- cancels the request or timer it was waiting on and forgets the wait;
-- `with(guard, fn)` is try/finally (the guard closes when fn returns, raises,
-- or its coroutine is cancelled); `gather` holds one that cancels its
-- workers, so cancelling nests; a semaphore's permit and a queued acquire are
-- guarded the same way, so no permit is lost. A guard is a table whose
-- metatable has `__close(guard)`.
--
-- PUC Lua 5.1 cannot yield across pcall: `M.pcall` is a pcall that can (it
-- runs the function in a coroutine of its own and passes its yields on, as
-- coxpcall does), and `current()` sees through it to the coroutine the loop
-- resumes. Everywhere else `M.pcall` is pcall.
local core = require "scenario.core"
local compat = require "scenario.compat"
local check = require "scenario.check"

local M = {}

local unpack, pack = compat.unpack, compat.pack

local WAIT = {}                                    -- sentinel yielded while waiting
local MAIN = {}                                    -- key of the main thread's guards
local waiting = {}                                 -- core handle -> coroutine
local waits = {}                                   -- coroutine -> what it awaits
local spawned = setmetatable({}, { __mode = "k" }) -- coroutine -> true, while alive
local guards = setmetatable({}, { __mode = "k" })  -- coroutine (or MAIN) -> guard stack
local parents = setmetatable({}, { __mode = "k" }) -- M.pcall's coroutine -> its caller's
local ready = {}                                   -- coroutines to resume next step
-- finished handles not yet dispatched: a queue of backlog[head..tail]
local backlog, head, tail = {}, 1, 0

-- A step dispatches finished work for at most this long (or max_ms when that
-- is longer); what is left waits for the next step, so that a frame loop
-- calling step(0) is never held up by many transfers finishing at once.
M.BUDGET = 0.001

-- The coroutine the loop resumes for the running code (seeing through
-- M.pcall's own coroutines), or nil on the main thread.
local function current()
  local co, main = coroutine.running()
  if main then return nil end                      -- 5.2+: the main thread
  local parent = parents[co]
  while parent do
    if parent == MAIN then return nil end
    co, parent = parent, parents[parent]
  end
  return co
end
M.current = current

--- Called with (err, traceback) when a spawned coroutine raises. If it raises
-- in turn, that error is written to stderr and dropped.
function M.on_error(err, traceback)
  io.stderr:write("scenario: error in a spawned coroutine: ", tostring(err), "\n",
    traceback or "", "\n")
end

local function report(err, traceback)
  local ok, herr = pcall(M.on_error, err, traceback)
  if not ok then
    io.stderr:write("scenario: on_error raised: ", tostring(herr), "\n")
  end
end

-- Guards ---------------------------------------------------------------------

--- Pushes a guard on the running coroutine's stack; returns it.
function M.defer(guard)
  local key = current() or MAIN
  local stack = guards[key]
  if not stack then
    stack = {}
    guards[key] = stack
  end
  stack[#stack + 1] = guard
  return guard
end

-- Closes the guards of `key` from the top down to position `depth`; returns
-- the first error a guard raised, if any.
local function unwind(key, depth)
  local stack = guards[key]
  if not stack then return nil end
  local first
  for i = #stack, depth, -1 do
    local g = stack[i]
    stack[i] = nil
    local ok, err = pcall(getmetatable(g).__close, g)
    if not ok and first == nil then first = { err } end
  end
  if #stack == 0 then guards[key] = nil end
  return first
end

--- Closes a guard pushed by defer (and any left above it); raises what its
-- __close raised.
function M.close(guard)
  local key = current() or MAIN
  local stack = guards[key]
  for i = stack and #stack or 0, 1, -1 do
    if stack[i] == guard then
      local e = unwind(key, i)
      if e then error(e[1], 0) end
      return
    end
  end
  getmetatable(guard).__close(guard)                -- not deferred: close it now
end

if compat.yield_across_pcall then
  M.pcall = pcall
else
  -- PUC 5.1: fn runs in a coroutine of its own; its yields (waits) are passed
  -- on to the caller's coroutine, and what resumes the caller resumes it.
  function M.pcall(fn, ...)
    if type(fn) ~= "function" then
      -- coroutine.create takes functions only: a callable table is called
      -- from one, and anything else gives pcall's "attempt to call" answer
      local callee = fn
      fn = function(...) return callee(...) end
    end
    local co = coroutine.create(fn)
    parents[co] = coroutine.running() or MAIN
    local r = pack(coroutine.resume(co, ...))
    while r[1] and coroutine.status(co) == "suspended" do
      r = pack(coroutine.resume(co, coroutine.yield(unpack(r, 2, r.n))))
    end
    parents[co] = nil
    return unpack(r, 1, r.n)
  end
end

--- try/finally: runs fn(...) with `guard` deferred; the guard closes when fn
-- returns or raises (then the error is re-raised), or when the coroutine is
-- cancelled while fn waits. Guards fn deferred and left open close too.
function M.with(guard, fn, ...)
  local key = current() or MAIN
  M.defer(guard)
  local depth = #guards[key]
  local r = pack(M.pcall(fn, ...))
  local e = unwind(key, depth)
  if not r[1] then error(r[2], 0) end
  if e then error(e[1], 0) end
  return unpack(r, 2, r.n)
end

-- Coroutines -----------------------------------------------------------------

local function resume(co, ...)
  -- a coroutine closed while it sat in `ready` or in a step's batch
  if coroutine.status(co) ~= "suspended" then return end
  local ok, res = coroutine.resume(co, ...)
  if not ok then
    spawned[co] = nil
    local traceback = debug.traceback(co)
    -- guards still open (whatever it waited on is cancelled)
    unwind(co, 1)
    report(res, traceback)
  elseif coroutine.status(co) == "dead" then
    spawned[co] = nil
    guards[co] = nil
  elseif res ~= WAIT then
    ready[#ready + 1] = co                         -- a plain yield: run again next step
  end
end

--- Runs fn(...) in a new coroutine, started at once. Returns the coroutine,
-- which `cancel` stops.
-- Raises a validation error for anything but a function (or a callable
-- table), as scenario.new does: a scheduler call has no nil, err result.
function M.spawn(fn, ...)
  check.raise(check.args("scenario.spawn", "fn", fn, "function"))
  if type(fn) ~= "function" then
    local callable = fn
    fn = function(...) return callable(...) end
  end
  local co = coroutine.create(fn)
  spawned[co] = true
  resume(co, ...)
  return co
end

--- True when the running code is a coroutine started by spawn.
function M.in_spawned()
  local co = current()
  return co ~= nil and spawned[co] == true
end

local forget_wait -- below, with `await`

--- Stops a suspended coroutine now: its guards close (the request or timer
-- it waits on is cancelled, the workers of a `gather` it waits in are
-- cancelled as well) and it is never resumed. Coroutines it spawned itself
-- run on. Returns true when co is stopped or dead afterwards, false when it
-- cannot be stopped from here (it is running, or resumed the caller).
function M.cancel(co)
  if type(co) ~= "thread" then check.raise(check.args("scenario.cancel", "co", co, "thread")) end
  local st = coroutine.status(co)
  if st ~= "suspended" and st ~= "dead" then return false end
  spawned[co] = nil
  for i = #ready, 1, -1 do
    if ready[i] == co then table.remove(ready, i) end
  end
  forget_wait(co)                                  -- the innermost: it goes first
  local e = unwind(co, 1)
  if e then report(e[1]) end                       -- a guard raised
  if st == "suspended" then compat.close_coroutine(co) end
  return true
end

--- What the scheduler holds: live spawned coroutines, coroutines waiting,
-- coroutines ready to run, finished handles not yet dispatched.
function M.stats()
  local s = { spawned = 0, waiting = 0, ready = #ready, backlog = tail - head + 1 }
  for co in pairs(spawned) do
    if coroutine.status(co) ~= "dead" then s.spawned = s.spawned + 1 end
  end
  for _ in pairs(waits) do s.waiting = s.waiting + 1 end
  return s
end

--- Advances every transfer, timer and coroutine; returns within max_ms
-- (0 never waits). Returns the number of things still in progress.
function M.step(max_ms)
  if max_ms ~= nil and not check.is_seconds(max_ms) then
    -- a frame loop calls this every frame: the check runs only on a bad value
    check.raise(check.args("scenario.step", "max_ms", max_ms, "ms?"))
  end
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

local Event = {}
Event.__index = Event

-- What a coroutine cancelled while it awaits leaves behind: the handle it
-- waits on is cancelled (or it leaves the event's waiters) and the wait is
-- forgotten. `await` records its wait in `waits` rather than pushing a
-- guard (a guard table, its push and its close in a pcall were a fifth of
-- a job poll's scheduling); M.cancel calls this before closing the guards,
-- as the wait is always the innermost of them.
function forget_wait(co)
  local h = waits[co]
  if h == nil then return end
  waits[co] = nil
  if getmetatable(h) == Event then
    local ws = h.waiters
    for i = #ws, 1, -1 do
      if ws[i] == co then table.remove(ws, i) end
    end
  else
    if waiting[h] == co then waiting[h] = nil end
    if not h:done() then h:cancel() end
  end
end

-- PUC 5.1 cannot yield inside the iterator of a generic for: an iterator
-- that waits there says so with no_yield(), and the waits of its coroutine
-- step the loop in place instead (see pager.lua).
local no_yield = setmetatable({}, { __mode = "k" }) -- coroutine -> depth

--- Runs fn(...) where a wait must not yield (an iterator on PUC 5.1): its
-- waits step the loop in place. Elsewhere it just calls fn.
function M.no_yield(fn, ...)
  local co = current()
  if compat.yield_in_iterators or co == nil then return fn(...) end
  no_yield[co] = (no_yield[co] or 0) + 1
  local r = pack(pcall(fn, ...))
  no_yield[co] = no_yield[co] > 1 and no_yield[co] - 1 or nil
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end

--- Waits until a core handle (request or timer) or an event is done: yields
-- inside a spawned coroutine, drives the loop otherwise.
function M.await(handle)
  if handle:done() then return end
  local co = current()
  if co ~= nil and spawned[co] and not no_yield[co] then
    waits[co] = handle                             -- undone by forget_wait if cancelled
    if getmetatable(handle) == Event then
      local ws = handle.waiters
      ws[#ws + 1] = co
    else
      waiting[handle] = co
    end
    while not handle:done() do coroutine.yield(WAIT) end
    if waits[co] == handle then waits[co] = nil end
  else
    while not handle:done() do M.step(1000) end
  end
end

function Event:done() return self.is_set end

--- Wakes whoever awaits the event (every waiter, in the order they came).
function Event:set()
  if self.is_set then return end
  self.is_set = true
  local ws = self.waiters
  self.waiters = {}
  for i = 1, #ws do
    waits[ws[i]] = nil
    ready[#ready + 1] = ws[i]
  end
end

--- A one-shot condition that `await` can wait on, set from Lua code.
function M.event()
  return setmetatable({ is_set = false, waiters = {} }, Event)
end

-- A semaphore's permit: a guard (loop.with(s.acquire(), fn) holds it while
-- fn runs); permit:release() gives it back, once.
local Permit = {
  __close = function(p)
    if not p.released then
      p.released = true
      p.sem.release()
    end
  end,
}
Permit.__index = { release = Permit.__close }

-- A semaphore's line never begins or ends with a hole (a waiter that left):
-- they go as soon as they reach either end, and an empty line starts again
-- from its first place.
local function trim_line(s)
  local q = s.queue
  while s.tail >= s.head and q[s.tail] == false do
    q[s.tail] = nil
    s.tail = s.tail - 1
  end
  while s.head <= s.tail and q[s.head] == false do
    q[s.head] = nil
    s.head = s.head + 1
  end
  if s.head > s.tail then s.head, s.tail = 1, 0 end
end

-- Held while an acquire waits in the queue: a waiter cancelled before it got
-- its permit leaves the queue, or passes on the permit handed to it meanwhile.
local QueueGuard = {
  __close = function(g)
    if g.got then return end
    local s, ev = g.sem, g.ev
    if ev.is_set then
      s.release()
    else
      -- its place in the line becomes a hole, gone once it reaches an end,
      -- so that waiters coming and going while the permits stay held leave
      -- no trail
      s.queue[g.at] = false
      s.waiting = s.waiting - 1
      trim_line(s)
    end
  end,
}

--- A counting semaphore: at most n holders at once; waiters queue in order.
-- s.acquire() returns a permit: close it (loop.with, loop.close or
-- permit:release()) or call s.release(), once. s.free: permits left;
-- s.waiting: acquires queued.
-- The line is s.queue[s.head .. s.tail], so that a release takes its first
-- waiter at no cost however long the line (wait_all's gate queues most of
-- its polls when many jobs wake together).
function M.semaphore(n)
  local s = { free = n, waiting = 0, queue = {}, head = 1, tail = 0 }
  function s.acquire()
    if s.free > 0 then
      s.free = s.free - 1
    else
      local ev = M.event()
      s.tail = s.tail + 1
      s.queue[s.tail] = ev
      s.waiting = s.waiting + 1
      local guard = M.defer(setmetatable({ sem = s, ev = ev, at = s.tail }, QueueGuard))
      M.await(ev)
      guard.got = true
      M.close(guard)
    end
    return setmetatable({ sem = s }, Permit)
  end
  function s.release()
    if s.head > s.tail then
      s.free = s.free + 1
      return
    end
    local ev = s.queue[s.head]                  -- never a hole (trim_line)
    s.queue[s.head] = false
    s.waiting = s.waiting - 1
    trim_line(s)
    ev:set()
  end
  return s
end

local function cancel_all(list)
  for i = 1, #list do M.cancel(list[i]) end
end

-- Held by `gather` while it waits: cancelling the coroutine that runs a
-- gather cancels its workers too.
local Workers = { __close = function(w) cancel_all(w) end }

--- Runs every function of `tasks` with at most `concurrency` at once, on the
-- loop; waits for all. Returns a list of { result1, result2 } per task.
-- The first error raised by a task stops the other tasks at once (their
-- requests and timers cancelled, their coroutines cancelled) and is
-- re-raised here, unchanged.
function M.gather(tasks, concurrency)
  local n = #tasks
  local results = {}
  if n == 0 then return results end
  local workers = math.max(1, math.min(concurrency or 4, n))
  local next_i, finished = 1, 0
  local all = M.event()
  local raised
  local function worker()
    while next_i <= n and not raised do
      local i = next_i
      next_i = i + 1
      local ok, a, b = M.pcall(tasks[i])
      if ok then
        results[i] = { a, b }
      elseif not raised then
        raised = { a }
        all:set()
      end
    end
    finished = finished + 1
    if finished == workers then all:set() end
  end
  local cos = setmetatable({}, Workers)
  return M.with(cos, function()
    for k = 1, workers do cos[k] = M.spawn(worker) end
    M.await(all)
    if raised then
      cancel_all(cos)
      error(raised[1], 0)
    end
    return results
  end)
end

--- Pauses the caller for `seconds` without stalling the loop.
function M.sleep(seconds)
  -- every job poll sleeps: the message is only made for a bad value
  if not check.is_seconds(seconds) then
    check.raise(check.args("scenario.sleep", "seconds", seconds, "seconds"))
  end
  M.await(core.timer(seconds))
end

return M
