/* core.timer(seconds): a one-shot timer on the loop.  It shows up in the list
   that step() returns once it is due; the Lua scheduler uses it to sleep a
   coroutine (job polls, pauses) without blocking the loop. */
#include <string.h>

#include "sc_internal.h"

typedef struct sc_utimer {
  sc_timer node;
  sc_loop *loop;
  int fired, canceled;
} sc_utimer;

void sc_utimer_on_timer(sc_loop *loop, sc_timer *t) {
  sc_utimer *u = (sc_utimer *)t->owner;
  u->fired = 1;
  sc_finish(loop->L, u);
}

static sc_utimer *check_timer(lua_State *L) {
  return (sc_utimer *)luaL_checkudata(L, 1, SC_TIMER_MT);
}

static int l_timer(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  double secs = luaL_checknumber(L, 1);
  sc_utimer *u = (sc_utimer *)lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  u->loop = loop;
  u->node.index = -1;
  u->node.kind = SC_TIMER_USER;
  u->node.owner = u;
  u->node.due = sc_now() + (secs > 0 ? secs : 0);
  luaL_setmetatable(L, SC_TIMER_MT);
  if (sc_heap_push(&loop->timers, &u->node) != 0)
    return luaL_error(L, "scenario.core.timer: out of memory");
  sc_anchor(L, -1, u);
  return 1;
}

static int l_cancel(lua_State *L) {
  sc_utimer *u = check_timer(L);
  if (!u->fired && !u->canceled) {
    u->canceled = 1;
    sc_heap_remove(&u->loop->timers, &u->node);
    sc_finish(L, u);
  }
  return 0;
}

static int l_done(lua_State *L) {
  sc_utimer *u = check_timer(L);
  lua_pushboolean(L, u->fired || u->canceled);
  return 1;
}

static int l_gc(lua_State *L) {
  sc_utimer *u = check_timer(L);
  if (u->node.index >= 0 && u->loop->timers.items)
    sc_heap_remove(&u->loop->timers, &u->node);
  return 0;
}

static int l_tostring(lua_State *L) {
  sc_utimer *u = check_timer(L);
  lua_pushfstring(L, "scenario.core.timer (%s)",
                  u->fired ? "fired" : u->canceled ? "canceled" : "pending");
  return 1;
}

int sc_timer_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"done", l_done}, {"cancel", l_cancel}, {NULL, NULL}};
  static const luaL_Reg meta[] = {
    {"__gc", l_gc}, {"__close", l_cancel}, {"__tostring", l_tostring}, {NULL, NULL}};
  if (luaL_newmetatable(L, SC_TIMER_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_timer);
  return 1;
}
