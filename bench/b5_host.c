/*
 * B5: a C host frame loop (modeled on examples/embed/host.c, linked with
 * libscenario.a) with TRANSFERS slow downloads and POLLS job polls in flight,
 * scenario_step(L, 0) once per 60 Hz frame for SECONDS seconds.  Everything is
 * asked for in the first frame, as a game starting its work would.  Reports
 * the time spent in each step: p50, p99, p99.9 and max, and the fewest
 * downloads in flight at any frame (the downloads are rate-limited by the
 * server so that they all stay in flight for the whole run).  Each poll is
 * client.jobs:get, then a pause of about POLL_SECONDS, again and again.
 *
 *   b5_host BASE_URL OUT_DIR [TRANSFERS] [SECONDS] [POLLS]
 *
 * Prints "RESULT frames=... p50_ms=... p99_ms=... p999_ms=... max_ms=...
 * p99_cpu_ms=... max_cpu_ms=... min_in_flight=... polls=..." (percentiles:
 * the frame at rank floor(n * p) of the sorted times; *_cpu_ms: the thread's
 * CPU time in the step, which leaves out the time other processes of a busy
 * machine took the CPU away from it).
 *
 * B5_TRACE=1 prints every step over 1 ms to stderr, with what the loop held
 * before and after it (attempts waiting for their start, attempts the last
 * step admitted, ready sockets left for later).  B5_START_BUDGET=n and
 * B5_IO_BUDGET=ms set core.start_budget and core.io_budget, for trials.
 *
 * The host runs the transfers in the SDK's I/O thread (scenario_io_thread),
 * as a host with a frame budget should; B5_IO_THREAD=0 keeps them in the
 * host's thread (the start and I/O budgets then bound each step's share).
 * B5_DISPATCH_MS=ms sets scenario.loop.BUDGET, the Lua work a step(0) may
 * dispatch (default 1 ms).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "scenario.h"

#define FRAME_SECONDS (1.0 / 60.0)
#define MAX_FRAMES 100000
#define POLL_SECONDS 0.5

static const char *SCRIPT =
  "local base, out_dir, n, polls, poll_seconds = ...\n"
  "local scenario = require 'scenario'\n"
  "local core = require 'scenario.core'\n"
  "local client = scenario.new { base_url = base, api_key = 'k', api_secret = 's', log = false }\n"
  "assert(core.mkdir(out_dir))\n"
  "state = { done = 0, failed = 0, polls = 0, poll_failed = 0 }\n"
  "scenario.on_error = function(err)\n"
  "  state.failed = state.failed + 1\n"
  "  io.stderr:write('download failed: ', tostring(err), '\\n')\n"
  "end\n"
  "for i = 1, n do\n"
  "  scenario.spawn(function()\n"
  "    local f = 'f' .. ((i - 1) % 100 + 1) .. '.bin'\n"
  "    assert(client.assets:download({ id = 'slow' .. i, url = base .. '/slow/' .. f },\n"
  "      out_dir .. '/slow' .. i .. '.bin'))\n"
  "    state.done = state.done + 1\n"
  "  end)\n"
  "end\n"
  "for _ = 1, polls do\n"
  "  scenario.spawn(function()\n"
  "    while true do\n"
  "      if client.jobs:get('job_124ba27fa8754e40b3ba34') then state.polls = state.polls + 1\n"
  "      else state.poll_failed = state.poll_failed + 1 end\n"
  "      scenario.sleep(poll_seconds * (0.9 + 0.2 * math.random()))\n"
  "    end\n"
  "  end)\n"
  "end\n"
  "local dispatch = os.getenv('B5_DISPATCH_MS')\n"
  "if dispatch then require('scenario.loop').BUDGET = tonumber(dispatch) / 1000 end\n"
  "local start_budget, io_budget = os.getenv('B5_START_BUDGET'), os.getenv('B5_IO_BUDGET')\n"
  "if start_budget then core.start_budget(tonumber(start_budget)) end\n"
  "if io_budget then core.io_budget(tonumber(io_budget)) end\n"
  "function in_flight() return n - state.done - state.failed end\n"
  "function loop_state()\n"
  "  local deferred = core.io_deferred()\n"
  "  local queued = core.queued and core.queued() or 0       -- absent from older builds\n"
  "  local admitted = core.admitted and core.admitted() or 0\n"
  "  return string.format('%d queued, %d admitted, %d deferred', queued, admitted, deferred)\n"
  "end\n";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the CPU time of this thread: a step's own work, without the time the
   machine's other processes took the CPU from it */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t) {
  double left = t - now();
  if (left > 0) {
    struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

static int global_int(lua_State *L, const char *table, const char *name) {
  int v;
  lua_getglobal(L, table);
  lua_getfield(L, -1, name);
  v = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  return v;
}

static int in_flight(lua_State *L) {
  int v = -1;
  lua_getglobal(L, "in_flight");
  if (lua_pcall(L, 0, 1, 0) == LUA_OK) v = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* B5_TRACE: what the loop holds, as a string of at most n bytes */
static void loop_state(lua_State *L, char *out, size_t n) {
  lua_getglobal(L, "loop_state");
  snprintf(out, n, "%s", lua_pcall(L, 0, 1, 0) == LUA_OK ? lua_tostring(L, -1) : "?");
  lua_pop(L, 1);
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s BASE_URL OUT_DIR [TRANSFERS] [SECONDS] [POLLS]\n", argv[0]);
    return 2;
  }
  int transfers = argc > 3 ? atoi(argv[3]) : 100;
  double seconds = argc > 4 ? atof(argv[4]) : 5.0;
  int polls = argc > 5 ? atoi(argv[5]) : 20;
  static double spent[MAX_FRAMES], cpu[MAX_FRAMES];
  double start, next, total = 0;
  int frames = 0, min_flight = 1 << 30, errors = 0;
  int trace = getenv("B5_TRACE") != NULL;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (scenario_openlibs(L) != 0 ||
      scenario_io_thread(L, !(getenv("B5_IO_THREAD") && strcmp(getenv("B5_IO_THREAD"), "0") == 0)) != 0 ||
      luaL_loadstring(L, SCRIPT) != LUA_OK) {
    fprintf(stderr, "b5_host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_pushstring(L, argv[1]);
  lua_pushstring(L, argv[2]);
  lua_pushinteger(L, transfers);
  lua_pushinteger(L, polls);
  lua_pushnumber(L, POLL_SECONDS);
  if (lua_pcall(L, 5, 0, 0) != LUA_OK) {
    fprintf(stderr, "b5_host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  start = next = now();
  while (now() - start < seconds && frames < MAX_FRAMES) {
    double t0 = now(), c0 = cpu_now(), dt;
    char before[128] = "";
    if (trace) loop_state(L, before, sizeof before);
    if (scenario_step(L, 0) != 0) {
      fprintf(stderr, "b5_host: step failed: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
      errors++;
    }
    dt = now() - t0;
    cpu[frames] = cpu_now() - c0;
    if (trace && dt > 0.001) {
      char after[128];
      loop_state(L, after, sizeof after);
      fprintf(stderr, "frame %d at %.3f s: %.3f ms in step; before: %s; after: %s\n",
              frames, t0 - start, dt * 1000, before, after);
    }
    spent[frames++] = dt;
    total += dt;
    int f = in_flight(L);                /* outside the timed step */
    if (f < min_flight) min_flight = f;
    next += FRAME_SECONDS;               /* the rest of the frame: "drawing" */
    sleep_until(next);
  }
  qsort(spent, (size_t)frames, sizeof spent[0], compare);
  qsort(cpu, (size_t)frames, sizeof cpu[0], compare);
  printf("RESULT frames=%d p50_ms=%.4f p99_ms=%.4f p999_ms=%.4f max_ms=%.4f mean_ms=%.4f "
         "p99_cpu_ms=%.4f max_cpu_ms=%.4f min_in_flight=%d end_in_flight=%d done=%d failed=%d "
         "polls=%d poll_failed=%d step_errors=%d\n",
         frames, spent[frames / 2] * 1000, spent[(int)(frames * 0.99)] * 1000,
         spent[(int)(frames * 0.999)] * 1000, spent[frames - 1] * 1000, total / frames * 1000,
         cpu[(int)(frames * 0.99)] * 1000, cpu[frames - 1] * 1000, min_flight, in_flight(L),
         global_int(L, "state", "done"), global_int(L, "state", "failed"),
         global_int(L, "state", "polls"), global_int(L, "state", "poll_failed"), errors);
  lua_close(L);   /* cancels the transfers still in flight */
  return errors ? 1 : 0;
}
