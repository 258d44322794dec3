/*
 * libFuzzer harness: what the core does with the bytes of an HTTP response
 * (csrc/request.c and csrc/buf.c), without a network.
 *
 * request.c is included, not linked, so that its static functions can be
 * called as libcurl calls them; the file is not modified.  The input is one
 * response as the server sent it: header lines (each handed to on_header as
 * libcurl does, one line per call, "HTTP/..." lines starting a new block as
 * after a redirect or a 100 Continue), then after the first empty line the
 * body, handed to on_write in chunks whose sizes come from the input.
 *
 * Checked, beyond ASan/UBSan:
 *  - the header block and the body are kept byte for byte (sc_buf);
 *  - push_headers (the `headers` table of every response) gives lower-case
 *    names without ':' and values without a line break at either end;
 *  - core.header (sc_header) finds each of those names, its value the end
 *    of the table's (a repeated header's values are joined there, the last
 *    one is given here) less trailing blanks;
 *  - retry_delay, which scans the block for Retry-After, gives a delay in
 *    (0, SC_RETRY_AFTER_MAX] for a retryable 429 and -1 when the call is
 *    out of retries.
 */
#include "../csrc/request.c"

#include <stdint.h>

#define CHECK(cond) do { if (!(cond)) { __builtin_trap(); } } while (0)

static lua_State *fuzz_L;
static CURL *easy;

/* the value core.header gives for `name` in the block at index 1 */
static const char *header_of(lua_State *S, const char *name, size_t nlen, size_t *vlen) {
  lua_pushcfunction(S, sc_header);
  lua_pushvalue(S, 1);
  lua_pushlstring(S, name, nlen);
  lua_call(S, 2, 1);
  return lua_isnil(S, -1) ? NULL : lua_tolstring(S, -1, vlen);
}

static int check_headers(lua_State *S) {
  const char *block = lua_tostring(S, 1);
  push_headers(S, block);
  lua_pushnil(S);
  while (lua_next(S, -2)) {
    size_t kn, vn, hn = 0;
    const char *k, *v;
    CHECK(lua_type(S, -2) == LUA_TSTRING && lua_type(S, -1) == LUA_TSTRING);
    k = lua_tolstring(S, -2, &kn);
    v = lua_tolstring(S, -1, &vn);
    for (size_t i = 0; i < kn; i++) CHECK(k[i] != ':' && !(k[i] >= 'A' && k[i] <= 'Z'));
    CHECK(memchr(k, '\n', kn) == NULL && memchr(v, '\n', vn) == NULL);
    CHECK(vn == 0 || (v[vn - 1] != '\r' && v[0] != ' ' && v[0] != '\t'));
    if (kn > 0 && kn < 126 && memchr(k, '\0', kn) == NULL) {
      const char *h = header_of(S, k, kn, &hn);
      CHECK(h != NULL);
      while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r')) vn--;
      CHECK(hn <= vn && memcmp(v + vn - hn, h, hn) == 0);
      lua_pop(S, 1);
    }
    lua_pop(S, 1);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sc_loop loop;
  sc_request r;
  sc_buf expect_headers = {0}, expect_body = {0};
  size_t i = 0, body_at;

  if (fuzz_L == NULL) {
    fuzz_L = luaL_newstate();
    easy = curl_easy_init();
    if (fuzz_L == NULL || easy == NULL) abort();
  }
  loop.rng = 88172645463325252ULL;
  loop.L = fuzz_L;
  memset(&r, 0, sizeof r);
  r.easy = easy;
  r.loop = &loop;
  r.data_ref = r.cb_error_ref = LUA_NOREF;

  /* header lines, one per call, up to and including the first empty line */
  while (i < size) {
    const uint8_t *nl = memchr(data + i, '\n', size - i);
    size_t len = nl ? (size_t)(nl - (data + i)) + 1 : size - i;
    int blank = len <= 2 && (data[i] == '\n' || (len == 2 && data[i] == '\r'));
    if (len >= 5 && memcmp(data + i, "HTTP/", 5) == 0) sc_buf_reset(&expect_headers);
    CHECK(sc_buf_append(&expect_headers, (const char *)data + i, len) == 0);
    CHECK(on_header((char *)data + i, 1, len, &r) == len);
    i += len;
    if (blank) break;
  }
  body_at = i;
  CHECK(r.resp_headers.len == expect_headers.len);
  CHECK(expect_headers.len == 0 ||
        memcmp(r.resp_headers.data, expect_headers.data, expect_headers.len) == 0);
  CHECK(r.resp_headers.data == NULL || r.resp_headers.data[r.resp_headers.len] == '\0');

  /* the body in chunks: each chunk's size is its first byte (0 -> 1) */
  while (i < size) {
    size_t len = data[i] ? data[i] : 1;
    if (len > size - i) len = size - i;
    CHECK(on_write((char *)data + i, 1, len, &r) == len);
    CHECK(sc_buf_append(&expect_body, (const char *)data + i, len) == 0);
    i += len;
  }
  CHECK(r.resp_body.len == size - body_at && r.resp_body.len == expect_body.len);
  CHECK(expect_body.len == 0 || memcmp(r.resp_body.data, expect_body.data, expect_body.len) == 0);

  lua_settop(fuzz_L, 0);
  lua_pushcfunction(fuzz_L, check_headers);
  /* up to a NUL, as l_result's headers see it (push_headers reads C text) */
  lua_pushstring(fuzz_L, r.resp_headers.data ? r.resp_headers.data : "");
  CHECK(lua_pcall(fuzz_L, 1, 0, 0) == LUA_OK);

  /* a 429 with retries left: Retry-After (or the backoff) decides */
  r.status = 429;
  r.attempts = 1;
  r.max_retries = 2;
  {
    double d = retry_delay(&r, CURLE_OK);
    CHECK(d > 0 && d <= SC_RETRY_AFTER_MAX);
  }
  r.attempts = 3; /* out of retries: never retried whatever the headers say */
  CHECK(retry_delay(&r, CURLE_OK) == -1);
  r.attempts = 1;
  r.unsafe = 1;
  r.status = 503; /* a paid POST answered 503 is never sent again */
  CHECK(retry_delay(&r, CURLE_OK) == -1);

  sc_buf_free(&r.resp_headers);
  sc_buf_free(&r.resp_body);
  sc_buf_free(&expect_headers);
  sc_buf_free(&expect_body);
  if ((loop.rng & 255) == 0) lua_gc(fuzz_L, LUA_GCCOLLECT);
  return 0;
}
