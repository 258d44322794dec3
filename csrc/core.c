/* luaopen_scenario_core: the Lua face of the C core.
     core.request{...}   start an HTTP request (see request.c)
     core.timer(secs)    a one-shot timer
     core.step(max_ms)   advance everything; returns the list of finished objects
     core.pending()      transfers in flight plus timers scheduled
     core.now()          monotonic clock, seconds
     core.time()         wall clock, seconds since the epoch (with fractions)
     core.mkdir(path)    mkdir -p, without a process
     core.fsync(path)    flush a file or directory to the disk (fs.c)
     core.io_budget([ms]) the transfer I/O a step(0) may do (loop.c); returns
                         the budget in force before the call, in ms
     core.io_deferred()  ready sockets the last step left for the next, and ever
     core.digit_run(s, n) whether s has a run of n digits or more (scan.c)
     core.json_decode(s, array_mt) the fast path of scenario.json.decode
                         (json.c): the value, or nothing when json.lua must
                         decode s itself
     core.start_budget([n]) the attempts a step(0) lets into the multi handle
                         (loop.c; 0: no limit); returns the budget in force before
     core.queued()       attempts waiting for a step to let them in
     core.admitted()     attempts the last step let in, and ever
     core.io_thread([on]) transfers in a thread of their own (worker.c): a
                         step only collects what finished; returns the
                         setting in force before the call
     core.header(raw_headers, name, ...) the value of the first of the named
                         headers in a response's header block (request.c)
     core.curl_version   libcurl's version string
     core.retry_after(value) / core.backoff(n, jitter)   the retry policy's numbers */
#include <math.h>
#include <time.h>

#include "sc_internal.h"
#include "scenario.h"

static int l_step(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  lua_Number ms = luaL_optnumber(L, 1, 0);
  return sc_loop_step(L, loop, ms / 1000.0);
}

static int l_pending(lua_State *L) {
  lua_pushinteger(L, sc_loop_pending(sc_loop_get(L)));
  return 1;
}

static int l_io_budget(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  lua_pushnumber(L, loop->io_budget * 1000.0);
  if (!lua_isnoneornil(L, 1)) {
    lua_Number ms = luaL_checknumber(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 1e9, 1, "must be a number of milliseconds >= 0");
    loop->io_budget = ms / 1000.0;
  }
  return 1;
}

static int l_io_deferred(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  lua_pushinteger(L, loop->deferred);
  lua_pushinteger(L, (lua_Integer)loop->deferrals);
  return 2;
}

static int l_start_budget(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  lua_pushinteger(L, loop->start_budget);
  if (!lua_isnoneornil(L, 1)) {
    /* a number checked by hand: 5.1's checkinteger truncates 1.5 silently */
    lua_Number n = luaL_checknumber(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 1e9 && n == floor(n), 1,
                  "must be a whole number of transfers >= 0");
    loop->start_budget = (int)n;
  }
  return 1;
}

static int l_io_thread(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  const char *why = NULL;
  lua_pushboolean(L, loop->worker != NULL);
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    if (sc_loop_io_thread(loop, lua_toboolean(L, 1), &why) != 0)
      return luaL_error(L, "scenario.core.io_thread: %s", why);
  }
  return 1;
}

static int l_queued(lua_State *L) {
  lua_pushinteger(L, sc_loop_get(L)->queued);
  return 1;
}

static int l_admitted(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  lua_pushinteger(L, loop->admitted);
  lua_pushinteger(L, (lua_Integer)loop->admissions);
  return 2;
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, sc_now());
  return 1;
}

static int l_time(lua_State *L) {
  lua_pushnumber(L, sc_wall_now());
  return 1;
}

static int l_retry_after(lua_State *L) {
  size_t n;
  const char *v = luaL_checklstring(L, 1, &n);
  double secs = sc_parse_retry_after(v, n, sc_wall_now());
  if (secs < 0) lua_pushnil(L);
  else lua_pushnumber(L, secs);
  return 1;
}

static int l_backoff(lua_State *L) {
  lua_pushnumber(L, sc_backoff((int)luaL_checkinteger(L, 1), luaL_optnumber(L, 2, 1.0)));
  return 1;
}

int luaopen_scenario_core(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"step", l_step}, {"pending", l_pending}, {"now", l_now}, {"time", l_time},
    {"retry_after", l_retry_after}, {"backoff", l_backoff}, {"mkdir", sc_mkdir_p},
    {"fsync", sc_fsync}, {"digit_run", sc_digit_run}, {"json_decode", sc_json_decode},
    {"io_budget", l_io_budget}, {"io_deferred", l_io_deferred},
    {"start_budget", l_start_budget}, {"queued", l_queued}, {"admitted", l_admitted},
    {"io_thread", l_io_thread}, {"header", sc_header}, {NULL, NULL}};
  sc_loop_open(L);
  sc_json_init();
  luaL_newlib(L, funcs);
  sc_request_open(L);
  lua_setfield(L, -2, "request");
  sc_timer_open(L);
  lua_setfield(L, -2, "timer");
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  lua_setfield(L, -2, "curl_version");
  lua_pushliteral(L, SCENARIO_VERSION);
  lua_setfield(L, -2, "VERSION");
  return 1;
}
