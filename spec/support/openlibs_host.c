/*
 * A minimal C host for spec/embed_spec.lua: runs the Lua chunk argv[1],
 * then scenario_openlibs, then the chunk argv[2], in one state; prints
 * errors on stderr and exits 1 on any.  The spec compiles it with the link
 * line the README gives C hosts (libscenario.a, lua-cjson, the interpreter,
 * libcurl), so that line is checked too.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "scenario.h"

static int run(lua_State *L, const char *chunk) {
  if (luaL_loadstring(L, chunk) != 0 || lua_pcall(L, 0, 0, 0) != 0) {
    fprintf(stderr, "openlibs_host: %s\n", lua_tostring(L, -1));
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  lua_State *L;
  int status = 0;
  if (argc != 3) {
    fprintf(stderr, "usage: openlibs_host BEFORE AFTER\n");
    return 2;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  status = run(L, argv[1]);
  if (status == 0 && scenario_openlibs(L) != 0) {
    fprintf(stderr, "openlibs_host: %s\n", lua_tostring(L, -1));
    status = 1;
  }
  if (status == 0) status = run(L, argv[2]);
  lua_close(L);
  return status;
}
