/*
 * Internal declarations shared by the files of the C core.
 *
 * The core owns transport and time: one curl multi handle and one timer heap
 * per Lua state (the "loop"), requests that retry themselves, and timers the
 * Lua scheduler waits on.  It never parses JSON; Lua owns meaning.
 */
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

#include "compat.h" /* lua.h, lauxlib.h and what a Lua version lacks */

#define SC_LOOP_KEY "scenario.core.loop"
#define SC_ANCHORS_KEY "scenario.core.anchors"
#define SC_REQUEST_MT "scenario.core.request"
#define SC_RESPONSE_MT "scenario.core.response"
#define SC_TIMER_MT "scenario.core.timer"

/* ---- growable byte buffer (buf.c) ---- */
typedef struct sc_buf {
  char *data;
  size_t len, cap;
} sc_buf;

int sc_buf_append(sc_buf *b, const char *p, size_t n); /* 0 ok, -1 no memory */
void sc_buf_reset(sc_buf *b);
void sc_buf_free(sc_buf *b);

/* ---- timers (heap.c) ---- */
enum { SC_TIMER_USER = 1, SC_TIMER_RETRY = 2 };

typedef struct sc_timer {
  double due;  /* monotonic seconds */
  int index;   /* position in the heap, -1 when not scheduled */
  int kind;
  void *owner; /* the sc_request or sc_utimer this node belongs to */
} sc_timer;

typedef struct sc_heap {
  sc_timer **items;
  int len, cap;
} sc_heap;

int sc_heap_push(sc_heap *h, sc_timer *t);
void sc_heap_remove(sc_heap *h, sc_timer *t);
sc_timer *sc_heap_peek(const sc_heap *h);
void sc_heap_free(sc_heap *h);

/* ---- retry policy (retry.c): pure functions, no I/O ---- */
#define SC_RETRY_AFTER_MAX 60.0

int sc_status_retryable(long status);
double sc_backoff(int retry_index, double jitter);
/* now: wall-clock seconds since the epoch, with fractions */
double sc_parse_retry_after(const char *value, size_t len, double now);
double sc_wall_now(void);
int sc_curl_not_sent(CURLcode code);

/* ---- the loop (loop.c) ---- */
#define SC_EASY_POOL 16 /* idle easy handles kept for reuse */
#define SC_IO_BUDGET_DEFAULT 0.00025 /* seconds of transfer I/O in a step(0) */
#define SC_START_BUDGET_DEFAULT 1   /* transfers a step(0) lets into the multi */

/* A link of the queue of requests waiting to enter the multi handle: kept in
   the request itself (request.c), so that queueing allocates nothing. */
typedef struct sc_qlink {
  struct sc_qlink *prev, *next;
} sc_qlink;

/* Lists of such links, through a sentinel (next: the oldest); a link not in
   a list has next == NULL.  SC_OWNER: the object a link is kept in. */
static inline void sc_list_init(sc_qlink *q) { q->prev = q->next = q; }

static inline void sc_list_push(sc_qlink *q, sc_qlink *l) {
  l->prev = q->prev;
  l->next = q;
  q->prev->next = l;
  q->prev = l;
}

static inline void sc_list_unlink(sc_qlink *l) {
  if (l->next == NULL) return;
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = NULL;
}

#define SC_OWNER(link, type, field) ((type *)(void *)((char *)(link) - offsetof(type, field)))

/* ---- the I/O thread (worker.c) ---- */
typedef struct sc_worker sc_worker;

/* A request's place in the I/O thread's lists (see worker.c), kept in the
   request: handing it over allocates nothing. */
typedef struct sc_wnode {
  sc_qlink link;  /* inbox, removes, outbox, or a step's list of finished ones */
  sc_qlink clink; /* the list of transfers with on_data bytes, or of resumes */
  CURL *easy;
  CURLcode code;  /* the transfer's result, once finished */
  int where;      /* which of those it is in (worker.c) */
  int paused;     /* the write callback paused it: pending is full */
  sc_buf pending; /* on_data bytes received, not handed to the step yet */
} sc_wnode;

sc_worker *sc_worker_start(void); /* NULL when it cannot be started */
void sc_worker_stop(sc_worker *w);
void sc_worker_add(sc_worker *w, sc_wnode *n);
void sc_worker_kick(sc_worker *w);
void sc_worker_remove(sc_worker *w, sc_wnode *n);
size_t sc_worker_chunk(sc_worker *w, sc_wnode *n, const char *p, size_t len);
void sc_worker_wait(sc_worker *w, int wait_ms);
void sc_worker_collect(sc_worker *w, sc_qlink *chunks, sc_qlink *done);
sc_wnode *sc_worker_next(sc_worker *w, sc_qlink *list, int done);
void sc_worker_take(sc_worker *w, sc_wnode *n, sc_buf *into);

/* Counters one thread writes while another reads them (req:progress()). */
#define SC_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SC_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

typedef struct sc_loop {
  CURLM *multi;
  CURLSH *share;
  sc_heap timers;
  int transfers;       /* easy handles currently in the multi */
  int in_perform;      /* guards against re-entering libcurl from callbacks */
  lua_State *L;        /* state running the current step, for callbacks */
  unsigned long long rng;
  int insecure_warned;
  /* Transfers are driven socket by socket (curl_multi_socket_action; see
     loop.c): the sockets libcurl asks to watch, libcurl's own timeout, and
     the I/O budget of a step. */
  struct pollfd *pfds; /* the watched sockets */
  int npfds, cap_pfds;
  struct pollfd *ready; /* a step's snapshot of the ready ones */
  int cap_ready;
  double curl_due;     /* when libcurl wants its timeout action; < 0: never */
  double io_budget;    /* seconds; 0: no budget (every ready socket, every step) */
  double io_until;     /* monotonic time the current step's budget ends */
  int last_fd;         /* the last socket served: the next step starts after it */
  int deferred;        /* ready sockets the last step left for the next */
  double deferrals;    /* ready sockets left for a later step, ever */
  /* The start budget (see loop.c): attempts wait in a FIFO until a step lets
     them into the multi handle; bulk transfers (downloads, upload parts) in
     a FIFO of their own, let in when no other attempt waits. */
  sc_qlink queue;      /* sentinel: queue.next is the oldest, queue.prev the newest */
  sc_qlink bulk_queue; /* the same, for bulk transfers */
  int queued;          /* attempts in both queues */
  int start_budget;    /* attempts a step(0) admits; 0: no limit */
  int admitted;        /* attempts the last step admitted */
  double admissions;   /* attempts admitted, ever */
  /* Easy handles of finished requests for the next requests (request.c): a
     handle's buffers and state are made once, not per request.  Each with
     the options it was left with (a plain request's profile), or -1: reset
     to libcurl's defaults. */
  CURL *easy_pool[SC_EASY_POOL];
  int easy_profiles[SC_EASY_POOL];
  int easy_pooled;
  char *ca_file;       /* the ca_file of the handles' profiles (request.c) */
  /* The I/O thread, when on (core.io_thread): the transfers run in its own
     multi handle, and a step collects what it hands over. */
  sc_worker *worker;
  sc_buf chunk;        /* on_data bytes being handed to Lua */
  sc_qlink got_chunks, got_done; /* what a step collected and has not handled yet */
  /* one lock per kind of data the share handle guards: the I/O thread's
     transfers and the stepping thread's configuring both use it */
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  int locks_ready;
} sc_loop;

double sc_now(void);
double sc_random(sc_loop *loop); /* uniform in [0, 1) */
sc_loop *sc_loop_get(lua_State *L);
int sc_loop_open(lua_State *L);
int sc_loop_step(lua_State *L, sc_loop *loop, double max_seconds);
int sc_loop_pending(const sc_loop *loop);
/* Turns the I/O thread on or off; only with no transfer in flight. Returns
   0, or -1 with a reason in `why`. */
int sc_loop_io_thread(sc_loop *loop, int on, const char **why);
void sc_queue_push(sc_loop *loop, sc_qlink *link, int bulk);
void sc_queue_remove(sc_loop *loop, sc_qlink *link);

/* objects report completion through these; they push the object's userdata
   onto the step's result list (anchors map the C pointer to its userdata) */
void sc_anchor(lua_State *L, int idx, void *ptr);
void sc_unanchor(lua_State *L, void *ptr);
void sc_finish(lua_State *L, void *ptr);

/* ---- requests (request.c) ---- */
void sc_request_on_done(sc_loop *loop, CURL *easy, CURLcode code);
void sc_request_on_timer(sc_loop *loop, sc_timer *t);
/* Collects what the I/O thread handed over: on_data bytes, then finished
   transfers (may run on_data callbacks). */
void sc_request_collect(sc_loop *loop);
/* Admits the queued attempts: at most max (all when max <= 0), oldest first,
   bulk transfers after the others; a queued request whose deadline has
   passed finishes with a timeout instead, unsent, whatever max.  Returns the
   number let into the multi handle. */
int sc_request_admit(sc_loop *loop, int max);
int sc_request_open(lua_State *L);
int sc_header(lua_State *L); /* core.header (request.c) */

/* ---- files (fs.c) ---- */
int sc_mkdir_p(lua_State *L);
int sc_fsync(lua_State *L);

/* ---- byte scans (scan.c) ---- */
int sc_digit_run(lua_State *L);

/* ---- JSON, the fast path of scenario.json.decode (json.c) ---- */
void sc_json_init(void);
int sc_json_decode(lua_State *L);

/* ---- user timers (timer.c) ---- */
void sc_utimer_on_timer(sc_loop *loop, sc_timer *t);
int sc_timer_open(lua_State *L);

#endif
