/* A growable byte buffer for response bodies and header blocks. */
#include <stdlib.h>
#include <string.h>

#include "sc_internal.h"

int sc_buf_append(sc_buf *b, const char *p, size_t n) {
  if (n == 0) return 0;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
      if (cap > ((size_t)-1) / 2) return -1;
      cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (d == NULL) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void sc_buf_reset(sc_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void sc_buf_free(sc_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
