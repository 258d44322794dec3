/* The retry policy, as pure functions so that they can be tested and fuzzed
   without a network.
   - Retryable statuses: 408, 429, 500, 502, 503, 504.
   - Backoff before retry n (0-based): min(0.5 * 2^n, 8) s times a jitter in
     [0.75, 1].
   - Retry-After: delta seconds or an HTTP date; used when within (0, 60] s. */
#include <ctype.h>
#include <string.h>

#include "sc_internal.h"

int sc_status_retryable(long status) {
  switch (status) {
    case 408: case 429: case 500: case 502: case 503: case 504:
      return 1;
    default:
      return 0;
  }
}

double sc_backoff(int retry_index, double jitter) {
  double d = 0.5;
  for (int i = 0; i < retry_index && d < 8.0; i++) d *= 2.0;
  if (d > 8.0) d = 8.0;
  if (jitter < 0.75) jitter = 0.75;
  if (jitter > 1.0) jitter = 1.0;
  return d * jitter;
}

/* Returns the delay in seconds, or -1 when the value is absent, malformed,
   not positive, or beyond SC_RETRY_AFTER_MAX. */
double sc_parse_retry_after(const char *value, size_t len, double now) {
  char tmp[128];
  size_t i = 0, j;
  if (value == NULL) return -1;
  while (i < len && isspace((unsigned char)value[i])) i++;
  while (len > i && isspace((unsigned char)value[len - 1])) len--;
  if (i >= len || len - i >= sizeof tmp) return -1;
  memcpy(tmp, value + i, len - i);
  tmp[len - i] = '\0';

  for (j = 0; tmp[j] && isdigit((unsigned char)tmp[j]); j++) {}
  if (j > 0 && tmp[j] == '.') /* tolerate "1.5" although RFC says integer */
    for (j++; tmp[j] && isdigit((unsigned char)tmp[j]); j++) {}
  if (j > 0 && tmp[j] == '\0') {
    double secs = 0, scale = 0;
    for (const char *p = tmp; *p; p++) {
      if (*p == '.') { scale = 1; continue; }
      if (scale > 0) { scale /= 10; secs += (*p - '0') * scale; }
      else secs = secs * 10 + (*p - '0');
      if (secs > 1e9) return -1;
    }
    if (secs <= 0 || secs > SC_RETRY_AFTER_MAX) return -1;
    return secs;
  }
  for (j = 0; tmp[j]; j++)
    if (!isprint((unsigned char)tmp[j])) return -1;
  time_t at = curl_getdate(tmp, NULL);
  if (at == (time_t)-1) return -1;
  double secs = (double)at - now;
  if (secs <= 0) return 0.001; /* a date in the past: retry now */
  if (secs > SC_RETRY_AFTER_MAX) return -1;
  return secs;
}

/* Errors that prove the request never left this machine. */
int sc_curl_not_sent(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return 1;
    default:
      return 0;
  }
}
