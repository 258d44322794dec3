/*
 * scenario.h: embedding the scenario-lua SDK in a C host.
 *
 *   lua_State *L = luaL_newstate(); luaL_openlibs(L);
 *   scenario_openlibs(L);         // scenario.core (+ bundled modules) in package.preload
 *   ... each frame: scenario_step(L, 0);
 *
 * Link: libscenario.a, lua-cjson for the same Lua (Debian: -l:liblua5.4-cjson.so.0,
 * -l:liblua5.1-cjson.so.0 for 5.1 and LuaJIT), the Lua library, libcurl, -lm,
 * -pthread.
 */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <lua.h>

#define SCENARIO_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The Lua module `scenario.core`. */
int luaopen_scenario_core(lua_State *L);

/* Registers scenario.core, and every scenario.* module compiled into the
   library, in package.preload; also lua-cjson's cjson and cjson.safe (linked
   into the host), unless package.preload or package.loaded already has them,
   so that a host's own cjson registered first wins.
   Returns 0, or -1 with an error message pushed. */
int scenario_openlibs(lua_State *L);

/* Steps the SDK's loop from C: runs scenario.step(max_ms), which advances all
   transfers, timers and spawned coroutines and returns within max_ms.
   Returns 0, or -1 with an error message pushed. */
int scenario_step(lua_State *L, int max_ms);

/* Runs the SDK's transfers in a thread of their own (on = 1) or in the
   thread that steps (on = 0, the default): with it, scenario_step(L, 0)
   only collects what finished, and libcurl's work (connecting, reading,
   writing downloads) never runs in the host's frame.  Lua callbacks and
   results still run inside scenario_step, in the host's thread.  Switch
   before the first request, or when none is in flight.
   Returns 0, or -1 with an error message pushed. */
int scenario_io_thread(lua_State *L, int on);

#ifdef __cplusplus
}
#endif

#endif
