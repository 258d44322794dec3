/* core.digit_run(s, n): whether s holds a run of at least n ASCII digits.
   scenario.json asks it before decoding an answer: only a text with an
   integer of 16 digits or more can hold one that a double would round, and
   Lua's pattern matcher pays about 20 ns a byte to say that a text of a few
   hundred bytes has none (a job record: 15 us, more than decoding it). */
#include "sc_internal.h"

int sc_digit_run(lua_State *L) {
  size_t len, i, run = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1, 2, "must be >= 1");
  for (i = 0; i < len; i++) {
    if (s[i] >= '0' && s[i] <= '9') {
      if (++run >= (size_t)n) {
        lua_pushboolean(L, 1);
        return 1;
      }
    } else {
      run = 0;
    }
  }
  lua_pushboolean(L, 0);
  return 1;
}
