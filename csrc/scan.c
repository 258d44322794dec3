/* core.digit_run(s, n): whether s holds a run of at least n ASCII digits.
   scenario.json asks it before decoding an answer: only a text with an
   integer of 16 digits or more can hold one that a double would round, and
   Lua's pattern matcher pays about 20 ns a byte to say that a text of a few
   hundred bytes has none (a job record: 15 us, more than decoding it).

   It looks at every n-th byte only: a run of n digits covers one of them
   whatever its start. A digit found there is grown both ways to its whole
   run; the next byte looked at is then the n-th after that run's end. */
#include "sc_internal.h"

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

int sc_digit_run(lua_State *L) {
  size_t len, i, n;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer want = luaL_checkinteger(L, 2);
  luaL_argcheck(L, want >= 1, 2, "must be >= 1");
  n = (size_t)want;
  if ((lua_Integer)n != want) n = (size_t)-1; /* more than a size_t holds */
  /* i >= n - 1 stops the scan if i += n wrapped past SIZE_MAX */
  for (i = n - 1; i < len && i >= n - 1;) {
    if (is_digit(s[i])) {
      size_t a = i, b = i;
      while (a > 0 && is_digit(s[a - 1])) a--;
      while (b + 1 < len && is_digit(s[b + 1])) b++;
      if (b - a + 1 >= n) {
        lua_pushboolean(L, 1);
        return 1;
      }
      i = b + n;
    } else {
      i += n;
    }
  }
  lua_pushboolean(L, 0);
  return 1;
}
