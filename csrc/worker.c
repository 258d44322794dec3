/*
 * The I/O thread (core.io_thread(true), scenario_io_thread(L, 1)): libcurl
 * driven by a thread of its own, so that a step(0) in a host's frame only
 * hands over what finished.
 *
 * Without it, a step does the transfers' work itself: it serves ready
 * sockets (the I/O budget) and lets libcurl start transfers (the start
 * budget), and starting one costs 0.1-0.4 ms inside libcurl however it is
 * split (README, B5).  With it, the thread owns a multi handle of its own
 * and runs it with curl_multi_poll; the stepping thread never calls libcurl
 * on a handle in that multi.  The two meet under one mutex, through lists
 * kept in the requests themselves (sc_wnode, so that nothing is allocated
 * per request):
 *
 *  - inbox:   attempts the stepping thread asked for; the thread adds them.
 *  - removes: transfers the stepping thread wants back before they end (a
 *             cancel, a request closed or collected); sc_worker_remove waits
 *             until the thread has removed the handle, so that on return no
 *             callback can touch the request any more.
 *  - outbox:  finished transfers, with their result code, for the next step.
 *  - chunks:  transfers with bytes for a Lua on_data callback: the write
 *             callback cannot run Lua in this thread, so it keeps the bytes
 *             (pending) and the step hands them to on_data.  Past
 *             SC_PENDING_MAX bytes waiting the transfer pauses (libcurl
 *             keeps the data), and taking the bytes resumes it.
 *  - resumes: paused transfers whose bytes were taken.
 *
 * The thread tells a waiting step through a pipe (one byte while something
 * waits to be collected), and the step wakes the thread with
 * curl_multi_wakeup.  The thread calls libcurl without the mutex, on nodes
 * it took from the lists a batch at a time, so that a step never waits for
 * it while it is inside libcurl (it runs at the lowest priority).  The
 * mutex is recursive all the same: a write callback takes it for on_data
 * bytes, and would find it taken if libcurl ever called one from a place
 * the thread holds it.
 *
 * What each side may touch: a request's fields that the transfer callbacks
 * write (response buffers, counters, the output file) belong to the I/O
 * thread from sc_worker_add until the request is collected from the outbox
 * or removed; req:progress() reads its two counters atomically meanwhile.
 * The easy handle is the stepping thread's again at the same moments (it
 * reads the result from it, resets it, pools it).  The share handle that
 * both use (configuring a handle attaches it) is guarded by lock callbacks
 * (loop.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#endif

#include "sc_internal.h"

enum { W_NONE = 0, W_INBOX, W_MULTI, W_REMOVING, W_OUTBOX, W_COLLECTED };

/* on_data bytes a transfer may have waiting for a step before it pauses */
#define SC_PENDING_MAX (1024 * 1024)

struct sc_worker {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t removed; /* a removal was done */
  CURLM *multi;
  sc_qlink inbox, removes, outbox; /* through sc_wnode.link */
  sc_qlink chunks, resumes;        /* through sc_wnode.clink */
  int wake_rd, wake_wr;            /* the pipe a step waits on */
  int signaled;                    /* a byte is in the pipe */
  int stop;
};

/* ---- lists (sc_list_*, sc_internal.h) ---- */

/* Moves every link of `from` to the end of `to`. */
static void list_move(sc_qlink *from, sc_qlink *to) {
  if (from->next == from) return;
  from->next->prev = to->prev;
  from->prev->next = to;
  to->prev->next = from->next;
  to->prev = from->prev;
  sc_list_init(from);
}

static sc_wnode *of_link(sc_qlink *l) { return SC_OWNER(l, sc_wnode, link); }

static sc_wnode *of_clink(sc_qlink *l) { return SC_OWNER(l, sc_wnode, clink); }

/* Tells a waiting step that something can be collected (mu held). */
static void notify(sc_worker *w) {
  if (!w->signaled) {
    ssize_t n;
    w->signaled = 1;
    do n = write(w->wake_wr, "!", 1); while (n < 0 && errno == EINTR);
  }
}

/* ---- the thread ---- */

/* Up to BATCH nodes unlinked from the head of q (through link, or clink
   when by_clink); with only_in_multi, the others are dropped from q. */
#define BATCH 64
static int take_batch(sc_qlink *q, sc_wnode **out, int by_clink, int only_in_multi) {
  int n = 0;
  while (n < BATCH && q->next != q) {
    sc_wnode *node = by_clink ? of_clink(q->next) : of_link(q->next);
    sc_list_unlink(by_clink ? &node->clink : &node->link);
    if (!only_in_multi || node->where == W_MULTI) out[n++] = node;
  }
  return n;
}

/* The requests of the lists, into or out of the multi handle.  Called with
   mu held, and libcurl called without it, a batch at a time: a step must
   never wait for this low-priority thread while it is inside libcurl.  A
   node being added is W_MULTI already (a removal asked meanwhile waits for
   it), one being removed stays W_REMOVING until its handle is out. */
static void take_requests(sc_worker *w) {
  sc_wnode *batch[BATCH];
  int failed[BATCH], n, i;
  while ((n = take_batch(&w->inbox, batch, 0, 0)) > 0) {
    for (i = 0; i < n; i++) batch[i]->where = W_MULTI;
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < n; i++) failed[i] = curl_multi_add_handle(w->multi, batch[i]->easy) != CURLM_OK;
    pthread_mutex_lock(&w->mu);
    for (i = 0; i < n; i++) {
      if (failed[i] && batch[i]->where == W_MULTI) {
        batch[i]->code = CURLE_OUT_OF_MEMORY;
        batch[i]->where = W_OUTBOX;
        sc_list_push(&w->outbox, &batch[i]->link);
        notify(w);
      }
    }
  }
  while ((n = take_batch(&w->removes, batch, 0, 0)) > 0) {
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < n; i++) curl_multi_remove_handle(w->multi, batch[i]->easy);
    pthread_mutex_lock(&w->mu);
    for (i = 0; i < n; i++) batch[i]->where = W_NONE;
    pthread_cond_broadcast(&w->removed);
  }
  while ((n = take_batch(&w->resumes, batch, 1, 1)) > 0) {
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < n; i++) curl_easy_pause(batch[i]->easy, CURLPAUSE_CONT); /* may call on_write */
    pthread_mutex_lock(&w->mu);
  }
}

/* A transfer libcurl finished: out of the multi, into the outbox. */
static void finished(sc_worker *w, CURL *easy, CURLcode code) {
  sc_wnode *n = NULL;
  curl_multi_remove_handle(w->multi, easy);
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&n);
  if (n == NULL) return;
  pthread_mutex_lock(&w->mu);
  /* off the chunk or resume list: the step hands over the bytes still
     waiting when it collects the finished transfer */
  sc_list_unlink(&n->clink);
  if (n->where == W_REMOVING) { /* the step wanted it back: it has it now */
    sc_list_unlink(&n->link);
    n->where = W_NONE;
    pthread_cond_broadcast(&w->removed);
  } else {
    n->code = code;
    n->where = W_OUTBOX;
    sc_list_push(&w->outbox, &n->link);
    notify(w);
  }
  pthread_mutex_unlock(&w->mu);
}

static void *run(void *arg) {
  sc_worker *w = (sc_worker *)arg;
#ifdef __linux__
  /* The lowest priority (nice 19, this thread only): it needs little CPU,
     and when it wakes (a socket ready, a request handed over) it must not
     take the CPU from the thread stepping the host's frame.  B5 measured
     the steps without it: 1 in 100 frames lost 0.3-0.5 ms to this thread. */
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
  pthread_mutex_lock(&w->mu);
  while (!w->stop) {
    int running = 0, left;
    CURLMsg *msg;
    take_requests(w);
    pthread_mutex_unlock(&w->mu);
    curl_multi_perform(w->multi, &running);
    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL)
      if (msg->msg == CURLMSG_DONE) finished(w, msg->easy_handle, msg->data.result);
    /* returns early when libcurl's own timeout is sooner, or on a wakeup */
    curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* ---- the stepping thread's side ---- */

sc_worker *sc_worker_start(void) {
  sc_worker *w = calloc(1, sizeof *w);
  pthread_mutexattr_t attr;
  sigset_t all, old;
  int fds[2];
  if (w == NULL) return NULL;
  if (pipe(fds) != 0) {
    free(w);
    return NULL;
  }
  w->wake_rd = fds[0];
  w->wake_wr = fds[1];
  fcntl(w->wake_rd, F_SETFL, O_NONBLOCK);
  fcntl(w->wake_wr, F_SETFL, O_NONBLOCK);
  fcntl(w->wake_rd, F_SETFD, FD_CLOEXEC);
  fcntl(w->wake_wr, F_SETFD, FD_CLOEXEC);
  sc_list_init(&w->inbox);
  sc_list_init(&w->removes);
  sc_list_init(&w->outbox);
  sc_list_init(&w->chunks);
  sc_list_init(&w->resumes);
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&w->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  pthread_cond_init(&w->removed, NULL);
  w->multi = curl_multi_init();
  if (w->multi != NULL)
    curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  /* the host's signals stay with the host's threads */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (w->multi == NULL || pthread_create(&w->thread, NULL, run, w) != 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (w->multi) curl_multi_cleanup(w->multi);
    pthread_cond_destroy(&w->removed);
    pthread_mutex_destroy(&w->mu);
    close(w->wake_rd);
    close(w->wake_wr);
    free(w);
    return NULL;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return w;
}

/* Stops the thread and frees everything.  Transfers still in its multi
   handle are left there (the multi is cleaned up with them attached, as
   lua_close does with the loop's own). */
void sc_worker_stop(sc_worker *w) {
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_mutex_unlock(&w->mu);
  curl_multi_wakeup(w->multi);
  pthread_join(w->thread, NULL);
  curl_multi_cleanup(w->multi);
  pthread_cond_destroy(&w->removed);
  pthread_mutex_destroy(&w->mu);
  close(w->wake_rd);
  close(w->wake_wr);
  free(w);
}

/* Into the inbox; the thread takes it at its next turn, which sc_worker_kick
   starts (once for all the attempts a step admits). */
void sc_worker_add(sc_worker *w, sc_wnode *n) {
  pthread_mutex_lock(&w->mu);
  n->where = W_INBOX;
  n->paused = 0;
  sc_list_push(&w->inbox, &n->link);
  pthread_mutex_unlock(&w->mu);
}

void sc_worker_kick(sc_worker *w) {
  curl_multi_wakeup(w->multi);
}

/* Takes n back, wherever it is.  Waits for the thread when the transfer is
   in its multi handle: at most the rest of one turn of its loop. */
void sc_worker_remove(sc_worker *w, sc_wnode *n) {
  pthread_mutex_lock(&w->mu);
  sc_list_unlink(&n->clink);
  switch (n->where) {
    case W_INBOX: case W_OUTBOX: case W_COLLECTED:
      sc_list_unlink(&n->link);
      n->where = W_NONE;
      break;
    case W_MULTI:
      n->where = W_REMOVING;
      sc_list_push(&w->removes, &n->link);
      curl_multi_wakeup(w->multi);
      /* fall through */
    case W_REMOVING:
      while (n->where == W_REMOVING) pthread_cond_wait(&w->removed, &w->mu);
      break;
    default:
      break;
  }
  sc_buf_reset(&n->pending);
  n->paused = 0;
  pthread_mutex_unlock(&w->mu);
}

/* From the write callback, in the I/O thread: keeps on_data bytes for the
   step.  Returns len, CURL_WRITEFUNC_PAUSE when enough are waiting, or 0
   (no memory, or the transfer is being taken back: libcurl stops it). */
size_t sc_worker_chunk(sc_worker *w, sc_wnode *n, const char *p, size_t len) {
  size_t ret = len;
  pthread_mutex_lock(&w->mu);
  if (n->where == W_REMOVING) {
    ret = 0;
  } else if (n->pending.len >= SC_PENDING_MAX) {
    n->paused = 1;
    ret = CURL_WRITEFUNC_PAUSE;
  } else if (sc_buf_append(&n->pending, p, len) != 0) {
    ret = 0;
  } else if (n->clink.next == NULL) {
    sc_list_push(&w->chunks, &n->clink);
    notify(w);
  }
  pthread_mutex_unlock(&w->mu);
  return ret;
}

/* Waits up to wait_ms for the thread to hand something over. */
void sc_worker_wait(sc_worker *w, int wait_ms) {
  struct pollfd p;
  p.fd = w->wake_rd;
  p.events = POLLIN;
  p.revents = 0;
  while (poll(&p, 1, wait_ms) < 0 && errno == EINTR) {}
}

/* Moves what the thread handed over into the caller's lists: transfers with
   on_data bytes (`chunks`, through clink) and finished ones (`done`, through
   link).  Both stay known to sc_worker_remove, which unlinks them. */
void sc_worker_collect(sc_worker *w, sc_qlink *chunks, sc_qlink *done) {
  sc_qlink *l;
  pthread_mutex_lock(&w->mu);
  if (w->signaled) {
    char drain[64];
    while (read(w->wake_rd, drain, sizeof drain) > 0) {}
    w->signaled = 0;
  }
  list_move(&w->chunks, chunks);
  for (l = w->outbox.next; l != &w->outbox; l = l->next) of_link(l)->where = W_COLLECTED;
  list_move(&w->outbox, done);
  pthread_mutex_unlock(&w->mu);
}

/* The first transfer of a list filled by sc_worker_collect, unlinked from
   it (done: link; else clink), or NULL. */
sc_wnode *sc_worker_next(sc_worker *w, sc_qlink *list, int done) {
  sc_wnode *n = NULL;
  pthread_mutex_lock(&w->mu);
  if (list->next != list) {
    if (done) {
      n = of_link(list->next);
      sc_list_unlink(&n->link);
      n->where = W_NONE;
    } else {
      n = of_clink(list->next);
      sc_list_unlink(&n->clink);
    }
  }
  pthread_mutex_unlock(&w->mu);
  return n;
}

/* Swaps n's waiting on_data bytes with `into` (emptied first), and resumes
   the transfer when it had paused. */
void sc_worker_take(sc_worker *w, sc_wnode *n, sc_buf *into) {
  sc_buf t;
  int resume = 0;
  sc_buf_reset(into);
  pthread_mutex_lock(&w->mu);
  sc_list_unlink(&n->clink);
  t = n->pending;
  n->pending = *into;
  *into = t;
  if (n->paused && n->where == W_MULTI) {
    n->paused = 0;
    sc_list_push(&w->resumes, &n->clink);
    resume = 1;
  }
  pthread_mutex_unlock(&w->mu);
  if (resume) curl_multi_wakeup(w->multi);
}
