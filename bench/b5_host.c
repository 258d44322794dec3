/*
 * B5: a C host frame loop (modeled on examples/embed/host.c, linked with
 * libscenario.a) with TRANSFERS slow downloads in flight, scenario_step(L, 0)
 * once per 60 Hz frame for SECONDS seconds. Reports the time spent in each
 * step: p50, p99 and max, and how many transfers were still in flight at the
 * end (the downloads are rate-limited by the server so that they all stay
 * in flight for the whole run).
 *
 *   b5_host BASE_URL OUT_DIR [TRANSFERS] [SECONDS]
 *
 * Prints "RESULT frames=... p50_ms=... p99_ms=... max_ms=... min_in_flight=..."
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

static const char *SCRIPT =
  "local base, out_dir, n = ...\n"
  "local scenario = require 'scenario'\n"
  "local core = require 'scenario.core'\n"
  "local client = scenario.new { base_url = base, api_key = 'k', api_secret = 's', log = false }\n"
  "assert(core.mkdir(out_dir))\n"
  "state = { done = 0, failed = 0 }\n"
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
  "function in_flight() return core.pending() end\n"
  "function io_paused() local now, ever = core.io_deferred(); return now * 1000000 + ever end\n";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
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

/* B5_TRACE: ready sockets left for the next step (last step), and ever */
static long long io_paused(lua_State *L) {
  long long v = -1;
  lua_getglobal(L, "io_paused");
  if (lua_pcall(L, 0, 1, 0) == LUA_OK) v = (long long)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s BASE_URL OUT_DIR [TRANSFERS] [SECONDS]\n", argv[0]);
    return 2;
  }
  int transfers = argc > 3 ? atoi(argv[3]) : 100;
  double seconds = argc > 4 ? atof(argv[4]) : 5.0;
  static double spent[MAX_FRAMES];
  double start, next, total = 0;
  int frames = 0, min_flight = 1 << 30, errors = 0;
  int trace = getenv("B5_TRACE") != NULL;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (scenario_openlibs(L) != 0 || luaL_loadstring(L, SCRIPT) != LUA_OK) {
    fprintf(stderr, "b5_host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_pushstring(L, argv[1]);
  lua_pushstring(L, argv[2]);
  lua_pushinteger(L, transfers);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    fprintf(stderr, "b5_host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  start = next = now();
  while (now() - start < seconds && frames < MAX_FRAMES) {
    double t0 = now(), dt;
    long long before = trace ? io_paused(L) : 0;
    if (scenario_step(L, 0) != 0) {
      fprintf(stderr, "b5_host: step failed: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
      errors++;
    }
    dt = now() - t0;
    if (trace && dt > 0.001) {
      long long after = io_paused(L);
      fprintf(stderr, "frame %d at %.3f s: %.3f ms in step; deferred %lld -> %lld, %lld deferrals\n",
              frames, t0 - start, dt * 1000, before / 1000000, after / 1000000,
              after % 1000000 - before % 1000000);
    }
    spent[frames++] = dt;
    total += dt;
    int f = in_flight(L);                /* outside the timed step */
    if (f < min_flight) min_flight = f;
    next += FRAME_SECONDS;               /* the rest of the frame: "drawing" */
    sleep_until(next);
  }
  qsort(spent, (size_t)frames, sizeof spent[0], compare);
  printf("RESULT frames=%d p50_ms=%.4f p99_ms=%.4f max_ms=%.4f mean_ms=%.4f "
         "min_in_flight=%d end_in_flight=%d done=%d failed=%d step_errors=%d\n",
         frames, spent[frames / 2] * 1000, spent[(int)(frames * 0.99)] * 1000,
         spent[frames - 1] * 1000, total / frames * 1000, min_flight, in_flight(L),
         global_int(L, "state", "done"), global_int(L, "state", "failed"), errors);
  lua_close(L);   /* cancels the transfers still in flight */
  return errors ? 1 : 0;
}
