/* What the two C programs of B1 (b1_baseline.c, b1_floor.c) share: a growing
 * byte buffer that is also a libcurl write callback, and the monotonic clock. */
#ifndef B1_COMMON_H
#define B1_COMMON_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buf {
  char *data;
  size_t len, cap;
};

/* libcurl's write (and header) callback: appends to the struct buf given as
 * userdata; 0 (an error to libcurl) when out of memory */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  struct buf *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return 0;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  return n;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
