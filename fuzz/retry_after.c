/*
 * libFuzzer harness: the retry policy's parsers (csrc/retry.c).
 *
 * sc_parse_retry_after reads the Retry-After header value straight from the
 * network (seconds, fractions, or an HTTP date through curl_getdate).  It runs
 * with a fixed `now` so that a finding replays identically.  Checked:
 *  - no memory error (ASan) and no undefined behaviour (UBSan);
 *  - the result is -1 (ignored) or a delay in (0, SC_RETRY_AFTER_MAX];
 *  - leading and trailing white space never change the answer;
 *  - the value is read within `len`: the same bytes followed by garbage the
 *    parser must not look at give the same answer.
 * The first bytes also drive sc_backoff and sc_status_retryable, whose
 * results must stay within the documented bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_internal.h"

/* Sat, 01 Nov 2025 00:00:00 GMT: a fixed clock, so findings replay */
#define FIXED_NOW 1761955200.0

#define CHECK(cond) do { if (!(cond)) { __builtin_trap(); } } while (0)

static int same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *v = (const char *)data;
  double secs = sc_parse_retry_after(v, size, FIXED_NOW);
  CHECK(secs == -1 || (secs > 0 && secs <= SC_RETRY_AFTER_MAX));

  /* an exact-size heap copy, so that ASan sees any read past len */
  char *exact = malloc(size ? size : 1);
  if (exact == NULL) return 0;
  if (size) memcpy(exact, data, size);
  CHECK(same(sc_parse_retry_after(exact, size, FIXED_NOW), secs));
  free(exact);

  /* bytes after len are not part of the value */
  char *longer = malloc(size + 8);
  if (longer == NULL) return 0;
  if (size) memcpy(longer, data, size);
  memcpy(longer + size, "9999\r\nX", 8);
  CHECK(same(sc_parse_retry_after(longer, size, FIXED_NOW), secs));

  /* surrounding white space (as header lines carry) is ignored */
  char *padded = malloc(size + 4);
  if (padded == NULL) { free(longer); return 0; }
  padded[0] = ' ';
  padded[1] = '\t';
  if (size) memcpy(padded + 2, data, size);
  padded[size + 2] = '\r';
  padded[size + 3] = '\n';
  CHECK(same(sc_parse_retry_after(padded, size + 4, FIXED_NOW), secs));
  free(padded);
  free(longer);

  CHECK(sc_parse_retry_after(NULL, size, FIXED_NOW) == -1);

  if (size >= 4) {
    int retry_index = (int)(int8_t)data[0];
    double jitter = (double)data[1] / 128.0 - 0.5; /* covers [-0.5, 1.5) */
    double d = sc_backoff(retry_index, jitter);
    CHECK(d >= 0.375 && d <= 8.0);
    long status = (long)(((unsigned)data[2] << 8) | data[3]);
    int r = sc_status_retryable(status);
    CHECK(r == 0 || r == 1);
    CHECK(r == (status == 408 || status == 429 || status == 500 || status == 502 ||
                status == 503 || status == 504));
  }
  return 0;
}
