/*
 * B1 floor: what the SDK's client.jobs:get must do at the least, written in C
 * with no Lua layer: N sequential GETs of one URL on ONE reused libcurl easy
 * handle, sending the SDK's request headers (given as arguments, as the
 * client makes them) with the SDK's libcurl options for such a request
 * (compression offered, share handle, protocols, keep-alive probes, the
 * client's default timeouts; a CA file is left out: it does nothing over
 * http), the response header block kept (the SDK reads its request id and
 * Retry-After from it), and the body decoded into Lua tables by the SDK's own
 * decoder (core.json_decode), the job's id and status checked in them.
 *
 * It is the reference that tells how far a Lua layer could go: a client built
 * on this libcurl cannot be faster than its own request done in C.
 *
 *   b1_floor URL N [HEADER...]   -> prints "RESULT seconds=... requests=..."
 *
 * Exit status 1 if any request fails, answers other than 200 or is not the
 * job of the URL's last segment, succeeded.
 */
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b1_common.h"
#include "scenario.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s URL N [HEADER...]\n", argv[0]);
    return 2;
  }
  const char *url = argv[1];
  long n = atol(argv[2]);
  struct buf body = {0}, head = {0};
  struct curl_slist *headers = NULL;
  for (int i = 3; i < argc; i++) headers = curl_slist_append(headers, argv[i]);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "scenario.core", luaopen_scenario_core, 0);
  lua_getfield(L, -1, "json_decode");
  int decode = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 0);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLSH *share = curl_share_init();
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &head);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SHARE, share);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L); /* the client's defaults */
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  const char *id = strrchr(url, '/') ? strrchr(url, '/') + 1 : url;

  double t0 = now();
  for (long i = 0; i < n; i++) {
    body.len = head.len = 0;
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
      fprintf(stderr, "request %ld: %s\n", i, curl_easy_strerror(rc));
      return 1;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      fprintf(stderr, "request %ld: HTTP %ld\n", i, status);
      return 1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, decode);
    lua_pushlstring(L, body.data, body.len);
    lua_call(L, 1, 1);
    int ok = lua_istable(L, -1) && lua_getfield(L, -1, "job") == LUA_TTABLE &&
             lua_getfield(L, -1, "jobId") == LUA_TSTRING &&
             strcmp(lua_tostring(L, -1), id) == 0 &&
             lua_getfield(L, -2, "status") == LUA_TSTRING &&
             strcmp(lua_tostring(L, -1), "success") == 0;
    lua_settop(L, 0);
    if (!ok) {
      fprintf(stderr, "request %ld: not the expected job\n", i);
      return 1;
    }
  }
  double dt = now() - t0;
  printf("RESULT seconds=%.6f requests=%ld\n", dt, n);
  curl_easy_cleanup(e);
  curl_share_cleanup(share);
  curl_slist_free_all(headers);
  curl_global_cleanup();
  lua_close(L);
  free(body.data);
  free(head.data);
  return 0;
}
