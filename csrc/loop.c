/*
 * The loop: one curl multi handle, one share handle and one timer heap per Lua
 * state.  `step` advances every transfer and timer and returns the objects that
 * finished, so that the Lua scheduler can wake whoever waits on them.
 *
 * Completed objects are queued in a registry table (SC_DONE_KEY) by
 * sc_finish(), whether they completed inside a step or were cancelled from Lua
 * between steps; the next step hands the queue over.  Objects in flight are
 * kept alive by the anchor table, which maps their C pointer to their
 * userdata, so that Lua may drop its own reference to a running request.
 *
 * Transfers are driven socket by socket: libcurl tells the loop which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it wants its timeout
 * action (CURLMOPT_TIMERFUNCTION); a step polls those sockets without waiting
 * and hands each ready one to curl_multi_socket_action, which reads and writes
 * that transfer until it would block (its write callback running for each
 * chunk: for a streamed download, the file write).
 *
 * The I/O budget.  When a hundred transfers have data at once, serving every
 * ready socket is tens of milliseconds, which a host's frame loop cannot afford
 * in one step(0).  So a step has a budget for transfer I/O: the larger of
 * `io_budget` (core.io_budget, 0.25 ms by default) and the step's own max_ms.
 * Once it has passed, the ready sockets not served yet are left alone: poll is
 * level-triggered, so the next step finds them ready again, and it starts
 * after the last socket served (round robin by descriptor), so that every
 * transfer gets its turn.  A step that waits (max_ms > 0) therefore behaves as
 * before; step(0) does a bounded amount of I/O (the budget, plus what one
 * socket had ready) and leaves the rest to the following steps.
 *
 * The start budget.  What the I/O budget cannot split is libcurl's timeout
 * action (curl_multi_socket_action with CURL_SOCKET_TIMEOUT): it runs, in one
 * call, every transfer whose timer is due, and each as far as it can go.  A
 * transfer just added is due at once, and the timeout action connects it,
 * sends the request and, from a fast server, often reads the whole answer; a
 * hundred transfers added together were one step of 5-10 ms, and 200 ms later
 * another, when the happy-eyeballs timers of all their connections came due
 * together.  So an attempt (a request's first, or a retry) does not enter the
 * multi handle when it is asked for: it waits in a FIFO, and each step(0)
 * admits at most `start_budget` of them (core.start_budget, 1 by default)
 * before the timeout action, so that the connects, and the timers they set,
 * of many transfers are spread over as many steps.  A step that may wait
 * (max_ms > 0: scenario.run, the blocking calls) admits every queued attempt,
 * at full speed as before.  Deadlines stay absolute: a queued request whose
 * deadline passes is finished with a timeout, unsent, by the next step,
 * whatever its place in the queue.
 *
 * The I/O thread (core.io_thread, worker.c).  With it on, none of the above
 * runs in a step: the attempts a step admits (all of them) go to the
 * thread's own multi handle, and the step collects what the thread handed
 * back, waiting on the thread's pipe when it may wait.  Timers stay here.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sc_internal.h"

#define SC_DONE_KEY "scenario.core.done"
/* not SC_LOOP_KEY: the loop itself is stored under that registry key, which
   would replace this metatable there and make __gc fail its type check, so
   that lua_close never freed the multi handle, the share or the timers */
#define SC_LOOP_MT "scenario.core.loop.mt"

double sc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sc_wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: jitter only, no need for anything stronger */
double sc_random(sc_loop *loop) {
  unsigned long long x = loop->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  loop->rng = x;
  return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

sc_loop *sc_loop_get(lua_State *L) {
  sc_loop *loop;
  lua_getfield(L, LUA_REGISTRYINDEX, SC_LOOP_KEY);
  loop = (sc_loop *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (loop == NULL || loop->multi == NULL)
    luaL_error(L, "scenario.core: the loop is closed");
  return loop;
}

void sc_anchor(lua_State *L, int idx, void *ptr) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, SC_ANCHORS_KEY);
  lua_pushvalue(L, idx);
  lua_rawsetp(L, -2, ptr);
  lua_pop(L, 1);
}

void sc_unanchor(lua_State *L, void *ptr) {
  lua_getfield(L, LUA_REGISTRYINDEX, SC_ANCHORS_KEY);
  lua_pushnil(L);
  lua_rawsetp(L, -2, ptr);
  lua_pop(L, 1);
}

void sc_finish(lua_State *L, void *ptr) {
  lua_checkstack(L, 4);
  lua_getfield(L, LUA_REGISTRYINDEX, SC_ANCHORS_KEY);
  lua_rawgetp(L, -1, ptr);
  if (!lua_isnil(L, -1)) {
    lua_getfield(L, LUA_REGISTRYINDEX, SC_DONE_KEY);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  sc_unanchor(L, ptr);
}

int sc_loop_pending(const sc_loop *loop) {
  return loop->transfers + loop->queued + loop->timers.len;
}

/* The start queues: doubly linked FIFOs through links kept in the requests. */
void sc_queue_push(sc_loop *loop, sc_qlink *link, int bulk) {
  sc_list_push(bulk ? &loop->bulk_queue : &loop->queue, link);
  loop->queued++;
}

void sc_queue_remove(sc_loop *loop, sc_qlink *link) {
  if (link->next == NULL) return; /* not queued */
  sc_list_unlink(link);
  loop->queued--;
}

/* Lets queued attempts into the multi handle: start_budget of them in a
   step(0), all in a step that may wait. */
static void admit_queued(sc_loop *loop, double max_seconds) {
  int n;
  if (loop->queued == 0) return;
  /* handing an attempt to the I/O thread costs the step nothing of libcurl's */
  n = sc_request_admit(loop, max_seconds > 0 || loop->worker ? 0 : loop->start_budget);
  if (n > 0 && loop->worker) sc_worker_kick(loop->worker);
  loop->admitted += n;
  loop->admissions += n;
}

static size_t done_count(lua_State *L) {
  size_t n;
  lua_getfield(L, LUA_REGISTRYINDEX, SC_DONE_KEY);
  n = lua_rawlen(L, -1);
  lua_pop(L, 1);
  return n;
}

static void drain_messages(sc_loop *loop) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(loop->multi, &left)) != NULL) {
    if (msg->msg == CURLMSG_DONE)
      sc_request_on_done(loop, msg->easy_handle, msg->data.result);
  }
}

static void fire_timers(sc_loop *loop) {
  double now = sc_now();
  sc_timer *t;
  while ((t = sc_heap_peek(&loop->timers)) != NULL && t->due <= now) {
    sc_heap_remove(&loop->timers, t);
    if (t->kind == SC_TIMER_RETRY) sc_request_on_timer(loop, t);
    else sc_utimer_on_timer(loop, t);
  }
}

static void sleep_for(double seconds) {
  struct timespec ts;
  if (seconds <= 0) return;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- libcurl's sockets and timeout (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION) ---- */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  sc_loop *loop = (sc_loop *)userp;
  int i;
  (void)easy;
  (void)socketp;
  for (i = 0; i < loop->npfds && loop->pfds[i].fd != s; i++) {}
  if (what == CURL_POLL_REMOVE) {
    if (i < loop->npfds) loop->pfds[i] = loop->pfds[--loop->npfds];
    return 0;
  }
  if (i == loop->npfds) {
    if (loop->npfds == loop->cap_pfds) {
      int cap = loop->cap_pfds ? loop->cap_pfds * 2 : 16;
      struct pollfd *p = realloc(loop->pfds, (size_t)cap * sizeof *p);
      if (p == NULL) return -1;
      loop->pfds = p;
      loop->cap_pfds = cap;
    }
    loop->pfds[i].fd = s;
    loop->npfds++;
  }
  loop->pfds[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                                 ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  loop->pfds[i].revents = 0;
  return 0;
}

static int on_timeout(CURLM *multi, long timeout_ms, void *userp) {
  sc_loop *loop = (sc_loop *)userp;
  (void)multi;
  loop->curl_due = timeout_ms < 0 ? -1.0 : sc_now() + (double)timeout_ms / 1000.0;
  return 0;
}

static int by_fd(const void *a, const void *b) {
  int x = ((const struct pollfd *)a)->fd, y = ((const struct pollfd *)b)->fd;
  return (x > y) - (x < y);
}

/* Waits up to wait_ms for the watched sockets, then serves the ready ones,
   starting after the last socket served, until the step's budget is spent. */
static void serve_sockets(sc_loop *loop, int wait_ms) {
  int running = 0, n, count = 0, first = 0, k;
  if (loop->curl_due >= 0 && sc_now() >= loop->curl_due) {
    loop->curl_due = -1;
    curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  n = poll(loop->pfds, (nfds_t)loop->npfds, wait_ms);
  if (n <= 0) return;
  /* a snapshot: serving a socket may add, change or remove watched ones */
  if (loop->cap_ready < loop->npfds) {
    struct pollfd *p = realloc(loop->ready, (size_t)loop->npfds * sizeof *p);
    if (p == NULL) return; /* served by a later step */
    loop->ready = p;
    loop->cap_ready = loop->npfds;
  }
  for (k = 0; k < loop->npfds; k++)
    if (loop->pfds[k].revents != 0) loop->ready[count++] = loop->pfds[k];
  qsort(loop->ready, (size_t)count, sizeof *loop->ready, by_fd);
  while (first < count && loop->ready[first].fd <= loop->last_fd) first++;
  for (k = 0; k < count; k++) {
    const struct pollfd *p = &loop->ready[(first + k) % count];
    int mask = 0;
    if (k > 0 && loop->io_budget > 0 && sc_now() > loop->io_until) {
      loop->deferred = count - k;
      loop->deferrals += count - k;
      return;
    }
    if (p->revents & (POLLIN | POLLHUP)) mask |= CURL_CSELECT_IN;
    if (p->revents & POLLOUT) mask |= CURL_CSELECT_OUT;
    if (p->revents & (POLLERR | POLLNVAL)) mask |= CURL_CSELECT_ERR;
    loop->last_fd = p->fd;
    curl_multi_socket_action(loop->multi, p->fd, mask, &running);
  }
}

/* Pushes the list of finished objects.  Returns as soon as something finished,
   when max_seconds have passed, or when nothing is left to wait for. */
int sc_loop_step(lua_State *L, sc_loop *loop, double max_seconds) {
  double deadline = sc_now() + (max_seconds > 0 ? max_seconds : 0);
  lua_State *outer = loop->L;
  int wait_ms = 0;
  if (loop->in_perform)
    return luaL_error(L, "scenario: step called from inside a transfer callback");
  loop->L = L;
  loop->io_until = sc_now() + (max_seconds > loop->io_budget ? max_seconds : loop->io_budget);
  loop->deferred = 0; /* counted afresh by every step, also one that polls nothing */
  loop->admitted = 0;
  for (;;) {
    double now, wait;
    sc_timer *next;
    admit_queued(loop, max_seconds);
    if (loop->transfers > 0 && loop->worker != NULL) {
      sc_worker_wait(loop->worker, wait_ms);
      sc_request_collect(loop);
    } else if (loop->transfers > 0) {
      loop->in_perform = 1;
      serve_sockets(loop, wait_ms);
      loop->in_perform = 0;
      drain_messages(loop);
    } else {
      sleep_for(wait_ms / 1000.0);
    }
    fire_timers(loop);
    if (done_count(L) > 0) break;
    now = sc_now();
    if (now >= deadline || sc_loop_pending(loop) == 0) break;
    wait = deadline - now;
    next = sc_heap_peek(&loop->timers);
    if (next != NULL && next->due - now < wait) wait = next->due - now;
    if (loop->transfers > 0 && loop->worker == NULL && loop->curl_due >= 0 &&
        loop->curl_due - now < wait)
      wait = loop->curl_due - now;
    if (wait < 0 || loop->queued > 0) wait = 0; /* a retry queued by fire_timers */
    wait_ms = (int)ceil(wait * 1000.0);
  }
  loop->L = outer;
  /* hand the queue over and start a fresh one; an empty queue is handed over
     as it is, so that an idle step allocates nothing */
  lua_getfield(L, LUA_REGISTRYINDEX, SC_DONE_KEY);
  if (lua_rawlen(L, -1) > 0) {
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SC_DONE_KEY);
  }
  return 1;
}

static int loop_gc(lua_State *L) {
  sc_loop *loop = (sc_loop *)luaL_checkudata(L, 1, SC_LOOP_MT);
  if (loop->worker) sc_worker_stop(loop->worker);
  loop->worker = NULL;
  while (loop->easy_pooled > 0) curl_easy_cleanup(loop->easy_pool[--loop->easy_pooled]);
  free(loop->ca_file);
  loop->ca_file = NULL;
  if (loop->multi) curl_multi_cleanup(loop->multi); /* may still call on_socket */
  loop->multi = NULL;
  /* the locks go with the share; a share still in use by a request not
     collected yet keeps them (a leak at exit rather than a lock destroyed
     under a handle that will take it) */
  if (loop->share && curl_share_cleanup(loop->share) != CURLSHE_OK) loop->locks_ready = 0;
  loop->share = NULL;
  sc_heap_free(&loop->timers);
  free(loop->pfds);
  free(loop->ready);
  loop->pfds = loop->ready = NULL;
  loop->npfds = loop->cap_pfds = loop->cap_ready = 0;
  sc_buf_free(&loop->chunk);
  if (loop->locks_ready) { /* once: a __close then __gc runs this twice */
    int i;
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&loop->share_locks[i]);
    loop->locks_ready = 0;
  }
  return 0;
}

int sc_loop_io_thread(sc_loop *loop, int on, const char **why) {
  if (on == (loop->worker != NULL)) return 0;
  if (loop->in_perform) { /* a step is collecting from the thread */
    *why = "called from inside a transfer callback";
    return -1;
  }
  if (loop->transfers > 0) {
    *why = "transfers are in flight (switch before the first request, or when none runs)";
    return -1;
  }
  if (on) {
    loop->worker = sc_worker_start();
    if (loop->worker == NULL) {
      *why = "the thread could not be started";
      return -1;
    }
  } else {
    sc_worker_stop(loop->worker);
    loop->worker = NULL;
  }
  return 0;
}

static int loop_tostring(lua_State *L) {
  sc_loop *loop = (sc_loop *)luaL_checkudata(L, 1, SC_LOOP_MT);
  if (loop->multi == NULL) lua_pushstring(L, "scenario.core.loop (closed)");
  else
    lua_pushfstring(L, "scenario.core.loop (%d transfers, %d queued, %d timers)",
                    loop->transfers, loop->queued, loop->timers.len);
  return 1;
}

/* The share handle's lock callbacks: one mutex per kind of data. */
static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *ud) {
  sc_loop *loop = (sc_loop *)ud;
  (void)easy, (void)access;
  if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&loop->share_locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *ud) {
  sc_loop *loop = (sc_loop *)ud;
  (void)easy;
  if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&loop->share_locks[data]);
}

/* Creates the loop of this Lua state once; later calls reuse it. */
int sc_loop_open(lua_State *L) {
  sc_loop *loop;
  const char *env, *why = NULL;
  int i;
  lua_getfield(L, LUA_REGISTRYINDEX, SC_LOOP_KEY);
  if (!lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pop(L, 1);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "scenario.core: curl_global_init failed");

  loop = (sc_loop *)lua_newuserdatauv(L, sizeof *loop, 0);
  memset(loop, 0, sizeof *loop);
  if (luaL_newmetatable(L, SC_LOOP_MT)) {
    lua_pushcfunction(L, loop_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, loop_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, loop_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "scenario.core.loop");
    lua_setfield(L, -2, "__name");
  }
  lua_setmetatable(L, -2);

  loop->multi = curl_multi_init();
  loop->share = curl_share_init();
  if (loop->multi == NULL || loop->share == NULL)
    return luaL_error(L, "scenario.core: cannot create the curl multi handle");
  /* One process-wide pool: DNS answers, live connections and TLS sessions are
     reused by every request.  Locked: with the I/O thread on, its transfers
     use the share while the stepping thread configures the next requests. */
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&loop->share_locks[i], NULL);
  loop->locks_ready = 1;
  curl_share_setopt(loop->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(loop->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(loop->share, CURLSHOPT_USERDATA, loop);
  curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(loop->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_multi_setopt(loop->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
  curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
  curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
  loop->curl_due = -1;
  loop->last_fd = -1;
  loop->rng = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^
              (unsigned long long)(size_t)loop;
  if (loop->rng == 0) loop->rng = 88172645463325252ULL;
  loop->io_budget = SC_IO_BUDGET_DEFAULT;
  sc_list_init(&loop->queue);
  sc_list_init(&loop->bulk_queue);
  sc_list_init(&loop->got_chunks);
  sc_list_init(&loop->got_done);
  loop->start_budget = SC_START_BUDGET_DEFAULT;

  /* SCENARIO_IO_THREAD=1: the I/O thread from the start (core.io_thread) */
  env = getenv("SCENARIO_IO_THREAD");
  if (env != NULL && strcmp(env, "1") == 0 && sc_loop_io_thread(loop, 1, &why) != 0)
    return luaL_error(L, "scenario.core: the I/O thread: %s", why);

  lua_setfield(L, LUA_REGISTRYINDEX, SC_LOOP_KEY);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, SC_ANCHORS_KEY);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, SC_DONE_KEY);
  return 0;
}
