/*
 * B1 baseline: N sequential GETs of one URL with ONE reused libcurl easy
 * handle (keep-alive), the body collected into a buffer and not decoded.
 *
 *   b1_baseline URL [N]      -> prints "RESULT seconds=... requests=... bytes=..."
 *
 * Exit status 1 if any request fails or answers other than 200.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "b1_common.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s URL [N]\n", argv[0]);
    return 2;
  }
  const char *url = argv[1];
  long n = argc > 2 ? atol(argv[2]) : 5000;
  struct buf body = {0};
  size_t total = 0;
  long status = 0;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  double t0 = now();
  for (long i = 0; i < n; i++) {
    body.len = 0;
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
      fprintf(stderr, "request %ld: %s\n", i, curl_easy_strerror(rc));
      return 1;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      fprintf(stderr, "request %ld: HTTP %ld\n", i, status);
      return 1;
    }
    total += body.len;
  }
  double dt = now() - t0;
  printf("RESULT seconds=%.6f requests=%ld bytes=%zu\n", dt, n, total);
  curl_easy_cleanup(e);
  curl_global_cleanup();
  free(body.data);
  return 0;
}
