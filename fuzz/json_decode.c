/*
 * libFuzzer harness: core.json_decode (csrc/json.c), which reads the bodies
 * of the API's answers.  Whatever the bytes:
 *  - no memory error or undefined behaviour, and the Lua stack is left as
 *    a C function leaves it (one value or none);
 *  - a text it decodes is one lua-cjson decodes too: it may leave more
 *    texts to the careful path than lua-cjson refuses, never fewer
 *    (spec/json_fast_spec.lua compares the values themselves).
 */
#include <stdint.h>
#include <stdlib.h>

#include "../csrc/sc_internal.h"

#define CHECK(cond) do { if (!(cond)) { __builtin_trap(); } } while (0)

int luaopen_cjson(lua_State *L);

static lua_State *fuzz_L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int took;
  if (fuzz_L == NULL) {
    fuzz_L = luaL_newstate();
    if (fuzz_L == NULL) abort();
    luaL_openlibs(fuzz_L);
    luaL_requiref(fuzz_L, "cjson", luaopen_cjson, 0);
    lua_getfield(fuzz_L, -1, "decode");
    lua_setglobal(fuzz_L, "cjson_decode");
    lua_pop(fuzz_L, 1);
    sc_json_init();
  }
  lua_settop(fuzz_L, 0);
  lua_pushcfunction(fuzz_L, sc_json_decode);
  lua_pushlstring(fuzz_L, (const char *)data, size);
  lua_newtable(fuzz_L); /* array_mt */
  CHECK(lua_pcall(fuzz_L, 2, LUA_MULTRET, 0) == LUA_OK);
  CHECK(lua_gettop(fuzz_L) <= 1);
  took = lua_gettop(fuzz_L) == 1;
  if (took) {
    lua_settop(fuzz_L, 0);
    lua_getglobal(fuzz_L, "cjson_decode");
    lua_pushlstring(fuzz_L, (const char *)data, size);
    CHECK(lua_pcall(fuzz_L, 1, 1, 0) == LUA_OK);
  }
  lua_settop(fuzz_L, 0);
  lua_gc(fuzz_L, LUA_GCSTEP, 0);
  return 0;
}
