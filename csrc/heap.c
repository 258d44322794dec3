/* A binary min-heap of timer nodes ordered by due time.  Each node records its
   position so that a cancelled timer can be removed in O(log n). */
#include <stdlib.h>

#include "sc_internal.h"

static void place(sc_heap *h, int i, sc_timer *t) {
  h->items[i] = t;
  t->index = i;
}

static void sift_up(sc_heap *h, int i) {
  sc_timer *t = h->items[i];
  while (i > 0) {
    int parent = (i - 1) / 2;
    if (h->items[parent]->due <= t->due) break;
    place(h, i, h->items[parent]);
    i = parent;
  }
  place(h, i, t);
}

static void sift_down(sc_heap *h, int i) {
  sc_timer *t = h->items[i];
  for (;;) {
    int child = 2 * i + 1;
    if (child >= h->len) break;
    if (child + 1 < h->len && h->items[child + 1]->due < h->items[child]->due)
      child++;
    if (t->due <= h->items[child]->due) break;
    place(h, i, h->items[child]);
    i = child;
  }
  place(h, i, t);
}

int sc_heap_push(sc_heap *h, sc_timer *t) {
  if (t->index >= 0) sc_heap_remove(h, t);
  if (h->len == h->cap) {
    int cap = h->cap ? h->cap * 2 : 16;
    sc_timer **items = realloc(h->items, (size_t)cap * sizeof *items);
    if (items == NULL) return -1;
    h->items = items;
    h->cap = cap;
  }
  place(h, h->len++, t);
  sift_up(h, t->index);
  return 0;
}

void sc_heap_remove(sc_heap *h, sc_timer *t) {
  int i = t->index;
  if (i < 0 || i >= h->len || h->items[i] != t) return;
  t->index = -1;
  h->len--;
  if (i == h->len) return;
  place(h, i, h->items[h->len]);
  sift_down(h, i);
  sift_up(h, h->items[i]->index);
}

sc_timer *sc_heap_peek(const sc_heap *h) {
  return h->len > 0 ? h->items[0] : NULL;
}

void sc_heap_free(sc_heap *h) {
  for (int i = 0; i < h->len; i++) h->items[i]->index = -1;
  free(h->items);
  h->items = NULL;
  h->len = h->cap = 0;
}
