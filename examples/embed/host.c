/*
 * A C host that embeds the SDK the way a game engine would: a 60 Hz frame
 * loop that must never stall.  It starts 20 generations through Lua, keeps
 * drawing frames while they run (scenario_step(L, 0) once per frame),
 * downloads every output, and reports the longest time any frame spent
 * inside the SDK.
 *
 *   SCENARIO_API_URL=... SCENARIO_API_KEY=... SCENARIO_API_SECRET=... \
 *     build/embed-host [OUT_DIR]
 *
 * Exit status: 0 when all 20 jobs were downloaded, 1 otherwise.
 *
 * It builds for every Lua the SDK supports (make LUA=luajit: build-luajit/
 * embed-host), so it uses only the API all of them share (0 for LUA_OK, which
 * 5.1 lacks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "scenario.h"

#define JOBS 20
#define FRAME_SECONDS (1.0 / 60.0)
#define GIVE_UP_SECONDS 120.0
#define MAX_FRAMES 20000

static const char *SCRIPT =
  "local gc = os.getenv(\"HOST_GC\") -- a collector mode of this Lua version\n"
  "if gc then collectgarbage(gc) end\n"
  "local scenario = require 'scenario'\n"
  "local out_dir = ...\n"
  "local client = scenario.new { poll_interval = 0.25, log = false }\n"
  "state = { done = 0, failed = 0, files = 0 }\n"
  "scenario.on_error = function(err)\n"
  "  state.failed = state.failed + 1\n"
  "  io.stderr:write('generation failed: ', tostring(err), '\\n')\n"
  "end\n"
  "for i = 1, 20 do\n"
  "  scenario.spawn(function()\n"
  "    local job = assert(client.generate:txt2img {\n"
  "      modelId = 'flux.1-dev', prompt = 'frame loop test ' .. i, numSamples = 1 })\n"
  "    assert(job:wait { timeout = 100 })\n"
  "    local paths = assert(job:download(out_dir))\n"
  "    state.files = state.files + #paths\n"
  "    state.done = state.done + 1\n"
  "  end)\n"
  "end\n";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static int state_field(lua_State *L, const char *name) {
  int v;
  lua_getglobal(L, "state");
  lua_getfield(L, -1, name);
  v = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  return v;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *out_dir = argc > 1 ? argv[1] : "out/embed";
  static double spent[MAX_FRAMES];
  double start, next, longest = 0, total = 0, longest_cpu = 0;
  int frames = 0, status;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  /* the transfers in the SDK's I/O thread: a step only collects results */
  if (scenario_openlibs(L) != 0 || scenario_io_thread(L, 1) != 0 ||
      luaL_loadstring(L, SCRIPT) != 0) {
    fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_pushstring(L, out_dir);
  if (lua_pcall(L, 1, 0, 0) != 0) {
    fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  start = next = now();
  while (state_field(L, "done") + state_field(L, "failed") < JOBS && frames < MAX_FRAMES &&
         now() - start < GIVE_UP_SECONDS) {
    double t0 = now(), c0 = cpu_now(), dt, dc;
    if (scenario_step(L, 0) != 0) {
      fprintf(stderr, "host: step failed: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    dt = now() - t0;
    dc = cpu_now() - c0;
    if (dc > longest_cpu) longest_cpu = dc;
    if (getenv("HOST_TRACE") && dt > 0.001)
      fprintf(stderr, "frame %d: %.3f ms (cpu %.3f)\n", frames, dt * 1000, dc * 1000);
    spent[frames++] = dt;
    total += dt;
    if (dt > longest) longest = dt;
    next += FRAME_SECONDS;             /* the rest of the frame: "drawing" */
    sleep_until(next);
  }
  qsort(spent, (size_t)frames, sizeof spent[0], compare);
  printf("jobs=%d failed=%d files=%d frames=%d seconds=%.2f\n", state_field(L, "done"),
         state_field(L, "failed"), state_field(L, "files"), frames, now() - start);
  printf("sdk_ms_per_frame: max=%.3f p99=%.3f mean=%.3f max_cpu=%.3f\n", longest * 1000,
         frames ? spent[(int)(frames * 0.99)] * 1000 : 0.0, frames ? total / frames * 1000 : 0.0,
         longest_cpu * 1000);
  status = state_field(L, "done") == JOBS ? 0 : 1;
  lua_close(L);
  return status;
}
