/*
 * libFuzzer harness: tostring() of a request (csrc/request.c, l_tostring),
 * which cuts a user- or server-supplied URL down to what may be shown in logs
 * and error messages.  Presigned upload and download URLs carry their
 * signature in the query string, and a URL may carry user:password@, so:
 *  - the text shown never contains '?' or '#' (no query, no fragment);
 *  - when the authority (up to the first '/', '?' or '#') holds an '@', the
 *    text shown starts right after the first '@' (no user info);
 *  - no memory error or undefined behaviour, whatever the bytes.
 * The input is "METHOD\nURL"; the URL ends at its first NUL, as libcurl
 * reads it.  request.c is included to reach the static function; it is not
 * modified.
 */
#include "../csrc/request.c"

#include <stdint.h>

#define CHECK(cond) do { if (!(cond)) { __builtin_trap(); } } while (0)

static lua_State *fuzz_L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t mlen = nl ? (size_t)(nl - data) : 0;
  const char *url_start = nl ? (const char *)nl + 1 : (const char *)data;
  size_t ulen = size - (size_t)(url_start - (const char *)data);
  char method[17], *url;
  sc_request *r;
  const char *shown, *text;
  size_t shown_len, text_len, prefix_len;

  if (fuzz_L == NULL) {
    fuzz_L = luaL_newstate();
    if (fuzz_L == NULL) abort();
    /* the metatable only, without __gc: the harness owns the fields */
    luaL_newmetatable(fuzz_L, SC_REQUEST_MT);
    lua_pop(fuzz_L, 1);
  }
  /* a method as the Lua layer sends it: letters only, at most 16 */
  if (mlen > 16) mlen = 16;
  for (size_t i = 0; i < mlen; i++)
    method[i] = (data[i] >= 'A' && data[i] <= 'Z') ? (char)data[i] : 'X';
  method[mlen] = '\0';
  url = malloc(ulen + 1);
  if (url == NULL) return 0;
  memcpy(url, url_start, ulen);
  url[ulen] = '\0';

  lua_settop(fuzz_L, 0);
  r = (sc_request *)lua_newuserdatauv(fuzz_L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  r->url = url;
  r->method = mlen ? method : NULL;
  r->state = (int)(size % 5); /* 4 is out of range: shown as "new" */
  r->attempts = (int)size;
  luaL_setmetatable(fuzz_L, SC_REQUEST_MT);
  lua_pushcfunction(fuzz_L, l_tostring);
  lua_insert(fuzz_L, 1);
  CHECK(lua_pcall(fuzz_L, 1, 1, 0) == LUA_OK);
  text = lua_tolstring(fuzz_L, -1, &text_len);
  CHECK(text != NULL);

  /* "scenario.core.request (METHOD <shown>: <state>, attempt N)" */
  prefix_len = strlen("scenario.core.request (") + strlen(mlen ? method : "?") + 1;
  CHECK(text_len > prefix_len);
  shown = text + prefix_len;
  {
    const char *end = strstr(shown, ": ");
    const char *last = NULL;
    /* the state text follows the last ": " */
    for (const char *p = end; p; p = strstr(p + 1, ": ")) last = p;
    CHECK(last != NULL);
    shown_len = (size_t)(last - shown);
  }
  CHECK(memchr(shown, '?', shown_len) == NULL && memchr(shown, '#', shown_len) == NULL);
  {
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    if (at != NULL) {
      size_t rest = strcspn(at + 1, "?#");
      CHECK(shown_len == rest && memcmp(shown, at + 1, rest) == 0);
    }
  }
  free(url);
  return 0;
}
