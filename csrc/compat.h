/*
 * compat.h: every Lua C API difference the C core meets, in one place (in the
 * style of lua-compat-5.3 and luv).  The core is written against the Lua 5.4
 * API and builds for Lua 5.1, LuaJIT 2.1, 5.2, 5.3 and 5.4.  What an older
 * version lacks is provided here as a static inline function under an sc_
 * name, and the standard name is #defined to it only on the versions that lack
 * it.  Being static, these never clash with the interpreter's own symbols: a
 * core.so built against the Lua 5.1 headers also loads in LuaJIT.
 *
 * LuaJIT 2.1 says LUA_VERSION_NUM 501 but already has part of the 5.2 API
 * (luaL_setfuncs, luaL_newlib, luaL_setmetatable, luaL_testudata,
 * luaL_loadbufferx, LUA_OK, lua_tointegerx); those are keyed on
 * LUAJIT_VERSION_NUM so that nothing is declared twice.
 *
 * Not needed: lua_Integer is ptrdiff_t before 5.3 (64 bits here), which holds
 * every count and size the core pushes; `__close` metamethods stay registered
 * everywhere (before 5.4 they are plain fields nobody calls).  The runner
 * (main.c) is Lua 5.4 only and does not use this file.
 */
#ifndef SC_COMPAT_H
#define SC_COMPAT_H

#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
/* LuaJIT's lualib.h names its jit library; its version is in luajit.h */
#if defined(LUA_JITLIBNAME) && !defined(LUAJIT_VERSION_NUM)
#include <luajit.h>
#endif

#if LUA_VERSION_NUM == 501 && defined(LUAJIT_VERSION_NUM) && LUAJIT_VERSION_NUM >= 20100
#define SC_LUAJIT 1
#else
#define SC_LUAJIT 0
#endif

/* ---- missing before 5.2, and in LuaJIT ---- */
#if LUA_VERSION_NUM == 501

static inline int sc_absindex(lua_State *L, int idx) {
  return idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : lua_gettop(L) + idx + 1;
}
#define lua_absindex sc_absindex

#define lua_rawlen(L, idx) lua_objlen((L), (idx))

static inline int sc_rawgetp(lua_State *L, int idx, const void *p) {
  idx = sc_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)p);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}
#define lua_rawgetp sc_rawgetp

static inline void sc_rawsetp(lua_State *L, int idx, const void *p) {
  idx = sc_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)p);
  lua_insert(L, -2);
  lua_rawset(L, idx);
}
#define lua_rawsetp sc_rawsetp

static inline int sc_getsubtable(lua_State *L, int idx, const char *name) {
  idx = sc_absindex(L, idx);
  lua_getfield(L, idx, name);
  if (lua_istable(L, -1)) return 1;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, idx, name);
  return 0;
}
#define luaL_getsubtable sc_getsubtable

#if !SC_LUAJIT
#ifndef LUA_OK
#define LUA_OK 0
#endif

static inline void sc_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs sc_setfuncs
#define luaL_newlib(L, l) \
  (lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1)), sc_setfuncs((L), (l), 0))

static inline void sc_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}
#define luaL_setmetatable sc_setmetatable

static inline void *sc_testudata(lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  int match;
  if (p == NULL || !lua_getmetatable(L, idx)) return NULL;
  luaL_getmetatable(L, tname);
  match = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return match ? p : NULL;
}
#define luaL_testudata sc_testudata

/* the mode ("b", "t") is not checked: 5.1 tells text from bytecode itself */
#define luaL_loadbufferx(L, buf, len, name, mode) luaL_loadbuffer((L), (buf), (len), (name))
#endif /* !SC_LUAJIT */
#endif /* LUA_VERSION_NUM == 501 */

/* ---- lua_getfield and lua_rawgetp return the value's type from 5.3 on ---- */
#if LUA_VERSION_NUM <= 502
static inline int sc_getfield(lua_State *L, int idx, const char *k) {
  lua_getfield(L, idx, k);
  return lua_type(L, -1);
}
#define lua_getfield sc_getfield
#endif
#if LUA_VERSION_NUM == 502
static inline int sc_rawgetp(lua_State *L, int idx, const void *p) {
  lua_rawgetp(L, idx, p);
  return lua_type(L, -1);
}
#define lua_rawgetp sc_rawgetp
#endif

/* ---- 5.4: user values are counted; before, a userdata has one (its env) ---- */
#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, size, nuv) ((void)(nuv), lua_newuserdata((L), (size)))
#endif

/* ---- package.preload ---- */
/* Pushes the table behind package.preload.  From 5.2 on (and in LuaJIT 2.1) it
   is the registry's _PRELOAD; in 5.1 only the package table holds it, so a
   host must open the package library first (luaL_openlibs does). */
static inline void sc_pushpreload(lua_State *L) {
#if LUA_VERSION_NUM == 501
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "package");
  lua_remove(L, -2);
  if (lua_istable(L, -1)) {
    luaL_getsubtable(L, -1, "preload");
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, "_PRELOAD");
#elif defined(LUA_PRELOAD_TABLE)
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
#else
  luaL_getsubtable(L, LUA_REGISTRYINDEX, "_PRELOAD"); /* 5.2 names it so too */
#endif
}

/* ---- io library file handles ---- */
/* The FILE of the Lua file handle at idx, or NULL when the value is not a file
   handle or the file is closed.  5.2+: a luaL_Stream (closed: closef NULL).
   5.1: a FILE * (closed: NULL).  LuaJIT: a struct whose first field is the
   FILE * (closed: NULL), so the 5.1 reading holds for both. */
static inline FILE *sc_tofile(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 502
  luaL_Stream *s = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);
  return s != NULL && s->closef != NULL ? s->f : NULL;
#else
  FILE **f = (FILE **)luaL_testudata(L, idx, LUA_FILEHANDLE);
  return f != NULL ? *f : NULL;
#endif
}

#endif
