/*
 * A request: one curl easy handle that carries an HTTP exchange through its
 * attempts.  The retry policy lives here (see retry.c for the numbers):
 *
 *  - `timeout` is a deadline for the whole call, retries included: each attempt
 *    gets what is left, and a retry whose delay would pass the deadline is not
 *    made.  A timed-out attempt is therefore never retried.
 *  - safe requests retry on 408/429/500/502/503/504 and on connection failures;
 *  - requests marked `unsafe` (paid POSTs) retry only on 429 or when the
 *    connection failed before anything was sent.
 *
 * A Lua `on_data` callback, when given, receives the body of a 2xx response in
 * chunks from inside libcurl's write callback.  It runs under lua_pcall; an
 * error aborts the transfer and is handed back with the result, so that the
 * waiting Lua code re-raises it outside libcurl.
 *
 * Or, with `output` (a Lua file handle open for writing), the 2xx body is
 * written to that file by the write callback itself, with no Lua code per
 * chunk; req:progress() reports the bytes written so far.  The request
 * writes through a descriptor of its own (a dup of the file's, after the
 * file is flushed), closed when the request ends: closing the Lua file
 * while the transfer still runs (an error unwinding the caller, in the
 * I/O thread at any moment) cannot leave the callback writing to a freed
 * FILE.
 *
 * Nothing a server sends is kept without a bound (a hostile or broken server
 * must not grow the process): a body kept in memory stops the transfer once
 * it would pass `max_body` bytes, a body given to on_data or `output` once it
 * would pass `max_stream` bytes (both counted after decoding: libcurl hands
 * decoded bytes to the write callback, so a gzip bomb stops at the cap too),
 * and a Content-Length already over max_body stops it before the body is read.
 * The header block of a response is capped at SC_MAX_HEADER_BYTES.  Such a
 * transfer ends with kind "too_large" and is never retried: a retry would
 * get the same answer.
 *
 * A body can also come from a file (`upload_file`, `upload_offset`,
 * `upload_length`): libcurl's read callback reads it with pread(2) at the
 * offset, so the file is never held in memory, and every attempt (and every
 * rewind libcurl asks for) starts again from the offset.  The descriptor is
 * closed as soon as the request ends.  Progress (body bytes sent in the
 * current attempt) is kept as a plain number by the xferinfo callback, for
 * req:progress(); no Lua code runs for it inside libcurl.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_internal.h"

enum { ST_RUNNING = 1, ST_WAITING = 2, ST_DONE = 3, ST_QUEUED = 4 };

/* what was over its limit (too_large) */
enum { TL_BODY = 1, TL_STREAM = 2, TL_HEADER = 3 };

/* The header block of one response, at most (libcurl 8 caps it at 300 KiB
   itself; 7.x has no cap but its 100 KiB per line). */
#define SC_MAX_HEADER_BYTES (256 * 1024)

/* CURLE_TOO_LARGE (libcurl 8.6+): a header line over libcurl's own limit.
   By number, for a core built on older headers and run on a newer libcurl. */
#define SC_CURLE_TOO_LARGE 100

typedef struct sc_request {
  CURL *easy;
  sc_loop *loop;
  struct curl_slist *headers;
  char *method;
  char *url;
  char *body;
  size_t body_len;
  sc_buf resp_body;
  sc_buf resp_headers; /* raw header lines of the latest response */
  int state;
  int attempts, max_retries, unsafe, canceled;
  double started, deadline, connect_timeout;
  long status;
  CURLcode code;
  int sent;             /* the request may have reached the server */
  int data_ref;         /* on_data callback, LUA_NOREF when none */
  int cb_error_ref;     /* error raised by on_data, LUA_NOREF when none */
  int out_fd;           /* `output`: a dup of that file's descriptor, or -1 */
  int write_errno;      /* writing `output` failed: errno */
  curl_off_t streamed;  /* bytes given to on_data */
  int has_upload;       /* the body comes from a file */
  int upload_fd;        /* its descriptor, -1 when none or once closed */
  curl_off_t upload_offset, upload_length;
  curl_off_t upload_pos; /* bytes of the file body read in this attempt */
  int read_errno;       /* the file body could not be read: errno, or -1 when
                           the file ended before upload_length */
  curl_off_t up_now;    /* body bytes sent in this attempt (xferinfo) */
  curl_off_t max_body;  /* cap of a body kept in memory, 0 for none */
  curl_off_t max_stream; /* cap of a body given to on_data or output, 0 for none */
  int too_large;        /* TL_*: the transfer was stopped over that limit */
  curl_off_t limit;     /* the limit it went over */
  int headers_done;     /* the current response's header block is complete */
  int follow;           /* follow_redirects */
  int nobody;           /* a HEAD: a Content-Length announces no body here */
  int decodes;          /* libcurl decodes content encodings (`compressed`) */
  int profile;          /* the options a plain request leaves on its handle
                           (SC_PROFILE_*), or -1: the handle is reset after */
  int easy_profile;     /* what the handle taken from the pool was left with,
                           -1: libcurl's defaults */
  int bulk;             /* starts after the other queued attempts (`bulk`) */
  double elapsed;
  sc_timer retry_timer;
  sc_qlink qlink;       /* in the loop's start queue while ST_QUEUED */
  sc_wnode wnode;       /* with the I/O thread: its place in the thread's lists */
  int threaded;         /* this attempt runs in the I/O thread */
  char *final_url;      /* kept from the handle when it goes back to the pool */
  long http_version;
  int retired;          /* the handle went back to the pool: result still readable */
  char errbuf[CURL_ERROR_SIZE];
} sc_request;

static sc_request *check_request(lua_State *L, int idx) {
  return (sc_request *)luaL_checkudata(L, idx, SC_REQUEST_MT);
}

/* ---- libcurl callbacks ---- */

static int same_name(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
    if (x != y) return 0;
  }
  return 1;
}

/* The value (after the ':', as sent) of the first of the `n` names `want`
   (any case) that a header block of `blen` bytes has, and its length; of a
   header sent more than once, its last value; NULL when there is none.  One
   pass over the block: a name is compared only with fields of its length. */
static const char *scan_header(const char *line, size_t blen, const char *const *want,
                               const size_t *wlen, int n, size_t *vlen) {
  const char *end = line + blen, *v = NULL;
  int best = n; /* the names before `best` may still be found */
  while (line < end) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    const char *stop = nl ? nl : end;
    const char *colon = memchr(line, ':', (size_t)(stop - line));
    if (colon != NULL) {
      size_t nlen = (size_t)(colon - line);
      for (int i = 0; i < n && i <= best; i++) {
        if (wlen[i] == nlen && same_name(line, want[i], nlen)) {
          best = i;
          v = colon + 1;
          *vlen = (size_t)(stop - v);
          break;
        }
      }
    }
    line = stop + 1;
  }
  return v;
}

/* The same, of one header of the current response, up to a NUL in the
   block as the `headers` table reads it. */
static const char *find_header(const sc_request *r, const char *name, size_t *vlen) {
  const char *block = r->resp_headers.data;
  size_t nlen = strlen(name);
  return block ? scan_header(block, strlen(block), &name, &nlen, 1, vlen) : NULL;
}

/* Whether the current response's body is content-encoded (gzip...): its
   Content-Length then counts encoded bytes, not what on_write receives. */
static int is_encoded(const sc_request *r) {
  size_t vlen = 0;
  const char *v = find_header(r, "content-encoding", &vlen);
  if (v == NULL) return 0;
  while (vlen > 0 && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
  return !(vlen == 0 || (vlen == 8 && strncasecmp(v, "identity", 8) == 0));
}

/* Whether the 2xx body of this request goes to on_data or output. */
static int streams(const sc_request *r) {
  return r->out_fd >= 0 || r->data_ref != LUA_NOREF;
}

/* Stops the transfer when `len` more bytes would take a body of `have`
   bytes over `cap` (0: no cap).  Returns 0 to go on. */
static int over_cap(sc_request *r, curl_off_t have, curl_off_t len, curl_off_t cap, int what) {
  if (cap <= 0 || have + len <= cap) return 0;
  r->too_large = what;
  r->limit = cap;
  return 1;
}

/* At the end of a response's headers: whether the Content-Length of a body
   to be kept in memory is alone over max_body.  Not for an interim 1xx, a
   redirect about to be followed, a HEAD, 204 or 304 (no body), or a body
   libcurl decodes (its Content-Length does not count what on_write
   receives).  A streamed body is only stopped when its bytes pass
   max_stream: a Content-Length that promises more than comes is a
   truncated answer (a connection error), not an overrun. */
static int announced_over_cap(sc_request *r) {
  long status = 0;
  curl_off_t announced = -1;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || (status >= 300 && status < 400 && r->follow) || r->nobody ||
      status == 204 || status == 304 || (status < 300 && streams(r)))
    return 0;
  curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  if (announced < 0 || (r->decodes && is_encoded(r))) return 0;
  return over_cap(r, 0, announced, r->max_body, TL_BODY);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  sc_request *r = (sc_request *)ud;
  size_t len = size * n;
  if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    sc_buf_reset(&r->resp_headers); /* a new response: after a redirect, a 100 */
    r->headers_done = 0;
  }
  if (r->resp_headers.len + len > SC_MAX_HEADER_BYTES) {
    r->too_large = TL_HEADER;
    r->limit = SC_MAX_HEADER_BYTES;
    return 0;
  }
  if (sc_buf_append(&r->resp_headers, p, len) != 0) return 0;
  if (len <= 2 && (p[0] == '\n' || p[0] == '\r')) {
    r->headers_done = 1;
    if (announced_over_cap(r)) return 0; /* before any byte of the body */
  }
  return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  sc_request *r = (sc_request *)ud;
  size_t len = size * n;
  long status = 0;
  int to_stream;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  to_stream = status >= 200 && status < 300; /* other bodies are kept for the result */
  if (streams(r) && to_stream) {
    if (over_cap(r, r->streamed, (curl_off_t)len, r->max_stream, TL_STREAM)) return 0;
  } else if (over_cap(r, (curl_off_t)r->resp_body.len, (curl_off_t)len, r->max_body, TL_BODY)) {
    return 0;
  }
  if (r->out_fd >= 0 && to_stream) {
    size_t done = 0;
    while (done < len) {
      ssize_t w = write(r->out_fd, p + done, len - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        r->write_errno = w < 0 && errno ? errno : EIO;
        return 0;
      }
      done += (size_t)w;
    }
    SC_STORE(r->streamed, r->streamed + (curl_off_t)len);
    return len;
  }
  if (r->data_ref != LUA_NOREF && to_stream && r->threaded) {
    /* no Lua in the I/O thread: the bytes wait for the next step */
    size_t took = sc_worker_chunk(r->loop->worker, &r->wnode, p, len);
    if (took == len) SC_STORE(r->streamed, r->streamed + (curl_off_t)len);
    return took;
  }
  if (r->data_ref != LUA_NOREF && to_stream) {
    lua_State *L = r->loop->L;
    if (L == NULL || !lua_checkstack(L, 3)) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->data_ref);
    lua_pushlstring(L, p, len);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      r->cb_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
      return 0;
    }
    r->streamed += (curl_off_t)len;
    return len;
  }
  if (sc_buf_append(&r->resp_body, p, len) != 0) return 0;
  return len;
}

/* The file body: up to `size * n` bytes from the current position. */
static size_t on_read(char *p, size_t size, size_t n, void *ud) {
  sc_request *r = (sc_request *)ud;
  size_t want = size * n;
  curl_off_t left = r->upload_length - r->upload_pos;
  if (left <= 0) return 0;
  if ((curl_off_t)want > left) want = (size_t)left;
  for (;;) {
    ssize_t got = pread(r->upload_fd, p, want, (off_t)(r->upload_offset + r->upload_pos));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      r->read_errno = errno ? errno : EIO;
      return CURL_READFUNC_ABORT;
    }
    if (got == 0) { /* the file shrank under us */
      r->read_errno = -1;
      return CURL_READFUNC_ABORT;
    }
    r->upload_pos += (curl_off_t)got;
    return (size_t)got;
  }
}

/* libcurl rewinds the body when it must send it again (a reused connection
   that died, a redirect): only absolute positions inside the range. */
static int on_seek(void *ud, curl_off_t offset, int origin) {
  sc_request *r = (sc_request *)ud;
  if (origin != SEEK_SET || offset < 0 || offset > r->upload_length)
    return CURL_SEEKFUNC_CANTSEEK;
  r->upload_pos = offset;
  return CURL_SEEKFUNC_OK;
}

/* numbers only: no Lua runs inside libcurl for progress */
static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
  sc_request *r = (sc_request *)ud;
  (void)dltotal, (void)dlnow, (void)ultotal;
  SC_STORE(r->up_now, ulnow);
  return 0;
}

/* The descriptors of the file body and of `output`, closed. */
static void close_files(sc_request *r) {
  if (r->upload_fd >= 0) close(r->upload_fd);
  if (r->out_fd >= 0) close(r->out_fd);
  r->upload_fd = r->out_fd = -1;
}

/* ---- attempts ---- */

static long ms_left(double deadline, double cap) {
  double left = deadline > 0 ? deadline - sc_now() : cap;
  if (cap > 0 && left > cap) left = cap;
  if (left <= 0) return 1;
  return (long)(left * 1000.0 + 0.5) > 0 ? (long)(left * 1000.0 + 0.5) : 1;
}

/* The next attempt waits in the loop's start queue until a step admits it
   (sc_request_admit; see loop.c on the start budget). */
static void start_attempt(sc_request *r) {
  sc_buf_reset(&r->resp_body);
  sc_buf_reset(&r->resp_headers);
  r->errbuf[0] = '\0';
  r->status = 0;
  r->upload_pos = 0; /* a retry sends the file body again from its offset */
  r->headers_done = 0;
  r->read_errno = 0;
  SC_STORE(r->up_now, 0);
  r->state = ST_QUEUED;
  sc_queue_push(r->loop, &r->qlink, r->bulk);
}

/* Into the multi handle: the attempt gets what is left of the deadline,
   which counts the time spent queued. */
static int enter_multi(sc_request *r) {
  /* set also when there are none (0: libcurl's defaults), as a pooled
     handle keeps the last request's */
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, r->deadline > 0 ? ms_left(r->deadline, 0) : 0L);
  curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
                   r->connect_timeout > 0 ? ms_left(r->deadline, r->connect_timeout) : 0L);
  r->threaded = r->loop->worker != NULL;
  if (r->threaded) {
    r->wnode.easy = r->easy;
    sc_worker_add(r->loop->worker, &r->wnode);
  } else if (curl_multi_add_handle(r->loop->multi, r->easy) != CURLM_OK) {
    return -1;
  }
  r->loop->transfers++;
  r->attempts++;
  r->state = ST_RUNNING;
  return 0;
}

static int may_have_been_sent(sc_request *r, CURLcode code) {
  curl_off_t pretransfer = 0;
  if (code == CURLE_OK) return 1;
  if (sc_curl_not_sent(code)) return 0;
  curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  return pretransfer > 0;
}

/* How long to wait before the next attempt, or -1 for no retry. */
static double retry_delay(sc_request *r, CURLcode code) {
  double delay, ra = -1;
  int candidate = 0;
  if (r->canceled || r->cb_error_ref != LUA_NOREF || r->streamed > 0) return -1;
  if (r->too_large) return -1; /* the same answer again would be as large */
  if (r->read_errno != 0 || r->write_errno != 0)
    return -1; /* the file is the problem, not the network */
  if (r->attempts > r->max_retries) return -1;
  if (code == CURLE_OK) {
    candidate = sc_status_retryable(r->status) && (!r->unsafe || r->status == 429);
  } else if (!r->sent) {
    /* nothing reached the server: connection refused, DNS, connect timeout,
       TLS handshake failures other than certificate checks */
    candidate = code != CURLE_PEER_FAILED_VERIFICATION &&
                code != CURLE_SSL_CACERT_BADFILE && code != CURLE_SSL_CERTPROBLEM &&
                code != CURLE_OPERATION_TIMEDOUT; /* the deadline passed */
  } else {
    switch (code) {
      case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        candidate = !r->unsafe;
        break;
      default:
        candidate = 0;
    }
  }
  if (!candidate) return -1;
  if (code == CURLE_OK) {
    size_t vlen = 0;
    const char *v = find_header(r, "retry-after", &vlen);
    if (v != NULL) ra = sc_parse_retry_after(v, vlen, sc_wall_now());
  }
  delay = ra > 0 ? ra : sc_backoff(r->attempts - 1, 0.75 + 0.25 * sc_random(r->loop));
  if (r->deadline > 0 && sc_now() + delay >= r->deadline - 0.01) return -1;
  return delay;
}

/* An easy handle for a new request: one a finished request gave back (and
   the options it was left with), or a new one. */
static CURL *take_easy(sc_loop *loop, int *profile) {
  *profile = -1;
  if (loop->easy_pooled == 0) return curl_easy_init();
  loop->easy_pooled--;
  *profile = loop->easy_profiles[loop->easy_pooled];
  return loop->easy_pool[loop->easy_pooled];
}

/* Gives r's handle (not in the multi handle) back to the loop's pool, after
   keeping what req:result() reads from it; frees it when the pool is full or
   the loop is closed.  The handle keeps the connection, DNS and TLS caches
   (they live in the loop's share) and, after a plain request, its options
   (set_handle_options): only the pointers into r are cleared.  After any
   other request it is reset to libcurl's defaults. */
static void retire_easy(sc_request *r) {
  CURL *e = r->easy;
  sc_loop *loop = r->loop;
  char *url = NULL;
  if (e == NULL) return;
  curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
  r->final_url = url ? strdup(url) : NULL;
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &r->http_version);
  r->easy = NULL;
  r->retired = 1;
  if (loop->multi == NULL || loop->easy_pooled == SC_EASY_POOL) {
    curl_easy_cleanup(e);
    return;
  }
  if (r->profile >= 0) {
    /* nothing on an idle handle points into r, which may be freed */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, (char *)NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)NULL);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)NULL);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)NULL);
  } else {
    curl_easy_reset(e);
  }
  loop->easy_profiles[loop->easy_pooled] = r->profile;
  loop->easy_pool[loop->easy_pooled++] = e;
}

static void finish(sc_request *r) {
  r->state = ST_DONE;
  retire_easy(r);
  close_files(r); /* no attempt left: give the descriptor back now */
  r->elapsed = sc_now() - r->started;
  sc_finish(r->loop->L, r);
}

static sc_request *of_node(sc_wnode *n) { return SC_OWNER(n, sc_request, wnode); }

/* An attempt's transfer ended with `code` (its handle out of the multi):
   the request retries or finishes. */
static void attempt_ended(sc_request *r, CURLcode code) {
  sc_loop *loop = r->loop;
  double delay;
  r->code = code;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
  r->sent = may_have_been_sent(r, code);
  if (!r->too_large && r->status > 0 && !r->headers_done &&
      (code == CURLE_OUT_OF_MEMORY || (int)code == SC_CURLE_TOO_LARGE ||
       (code == CURLE_RECV_ERROR && strstr(r->errbuf, "header") != NULL))) {
    /* libcurl refused a header line over its own limit (100 KiB): 7.x says
       "Out of memory", 8.x CURLE_TOO_LARGE; the server's fault either way */
    r->too_large = TL_HEADER;
    r->limit = 0;
  }
  if (code == CURLE_OPERATION_TIMEDOUT && !r->sent && r->deadline > 0 &&
      sc_now() < r->deadline - 0.01) {
    /* the connect timeout fired, not the deadline: a connection failure */
    r->code = CURLE_COULDNT_CONNECT;
  }
  delay = retry_delay(r, r->code);
  if (delay >= 0) {
    r->state = ST_WAITING;
    r->retry_timer.due = sc_now() + delay;
    if (sc_heap_push(&loop->timers, &r->retry_timer) == 0) return;
  }
  finish(r);
}

void sc_request_on_done(sc_loop *loop, CURL *easy, CURLcode code) {
  sc_wnode *n = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&n);
  curl_multi_remove_handle(loop->multi, easy);
  loop->transfers--;
  if (n != NULL) attempt_ended(of_node(n), code);
}

/* Hands the on_data bytes the I/O thread kept for r to its callback.  A
   callback that raises stops the transfer, as on_write does without the
   thread.  Returns 1 when r ended here. */
static int deliver(sc_request *r) {
  sc_loop *loop = r->loop;
  lua_State *L = loop->L;
  int failed;
  sc_worker_take(loop->worker, &r->wnode, &loop->chunk);
  if (loop->chunk.len == 0 || r->state != ST_RUNNING || r->data_ref == LUA_NOREF) return 0;
  lua_checkstack(L, 4);
  /* r's userdata on the stack: the callback may cancel r, unanchoring it */
  lua_getfield(L, LUA_REGISTRYINDEX, SC_ANCHORS_KEY);
  lua_rawgetp(L, -1, r);
  lua_remove(L, -2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->data_ref);
  lua_pushlstring(L, loop->chunk.data, loop->chunk.len);
  loop->in_perform = 1;
  failed = lua_pcall(L, 1, 0, 0) != LUA_OK;
  loop->in_perform = 0;
  if (failed && r->state == ST_RUNNING) {
    r->cb_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    sc_worker_remove(loop->worker, &r->wnode);
    loop->transfers--;
    attempt_ended(r, CURLE_WRITE_ERROR);
  } else if (failed) {
    lua_pop(L, 1); /* r was cancelled or closed by its own callback */
  }
  lua_pop(L, 1);
  return r->state != ST_RUNNING;
}

void sc_request_collect(sc_loop *loop) {
  sc_wnode *n;
  sc_worker_collect(loop->worker, &loop->got_chunks, &loop->got_done);
  while ((n = sc_worker_next(loop->worker, &loop->got_chunks, 0)) != NULL) deliver(of_node(n));
  while ((n = sc_worker_next(loop->worker, &loop->got_done, 1)) != NULL) {
    sc_request *r = of_node(n);
    if (r->state != ST_RUNNING) continue;
    if (r->wnode.pending.len > 0 && deliver(r)) continue;
    loop->transfers--;
    attempt_ended(r, n->code);
  }
}

void sc_request_on_timer(sc_loop *loop, sc_timer *t) {
  sc_request *r = (sc_request *)t->owner;
  (void)loop;
  if (r->state == ST_WAITING) start_attempt(r);
}

/* Admits from one start queue (see sc_request_admit); n: the attempts this
   step has let in so far. Returns the new count. */
static int admit_from(sc_loop *loop, sc_qlink *queue, int max, int n, double now) {
  sc_qlink *link, *next;
  for (link = queue->next; link != queue; link = next) {
    sc_request *r = SC_OWNER(link, sc_request, qlink);
    next = link->next;
    if (r->deadline > 0 && now >= r->deadline) {
      sc_queue_remove(loop, link);
      r->code = CURLE_OPERATION_TIMEDOUT; /* r->sent: what an earlier attempt did */
      snprintf(r->errbuf, sizeof r->errbuf,
               "the deadline passed while the request waited for its turn to start");
      finish(r);
    } else if (max <= 0 || n < max) {
      sc_queue_remove(loop, link);
      if (enter_multi(r) == 0) {
        n++;
      } else {
        r->code = CURLE_OUT_OF_MEMORY;
        finish(r);
      }
    }
  }
  return n;
}

int sc_request_admit(sc_loop *loop, int max) {
  double now = sc_now();
  int n = admit_from(loop, &loop->queue, max, 0, now);
  return admit_from(loop, &loop->bulk_queue, max, n, now);
}

/* ---- Lua interface ---- */

static char *dup_lstring(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static double opt_number(lua_State *L, int opts, const char *key, double def) {
  double v;
  lua_getfield(L, opts, key);
  v = lua_isnil(L, -1) ? def : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, int opts, const char *key) {
  int v;
  lua_getfield(L, opts, key);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* A count of bytes: a whole number from 0 (none, the default) to 2^53. */
static curl_off_t opt_bytes(lua_State *L, int opts, const char *key) {
  double v = opt_number(L, opts, key, 0);
  if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v))
    luaL_error(L, "scenario.core.request: %s must be a whole number of bytes", key);
  return (curl_off_t)v;
}

/* A number as Lua 5.1 to 5.3 print it ("%.14g"): 25165824, not the
   "25165824.0" of Lua 5.4's %f in lua_pushfstring. */
static const char *num_text(char *buf, size_t n, double v) {
  snprintf(buf, n, "%.14g", v);
  return buf;
}

static void add_header(lua_State *L, sc_request *r, const char *line) {
  struct curl_slist *l;
  if (strchr(line, '\r') || strchr(line, '\n'))
    luaL_error(L, "scenario.core.request: header contains a line break");
  l = curl_slist_append(r->headers, line);
  if (l == NULL) luaL_error(L, "scenario.core.request: out of memory");
  r->headers = l;
}

/* headers: an array of "Name: value" strings, or a map name -> value */
static void read_headers(lua_State *L, int opts, sc_request *r) {
  lua_getfield(L, opts, "headers");
  if (lua_istable(L, -1)) {
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      if (lua_type(L, -2) == LUA_TNUMBER) {
        add_header(L, r, luaL_checkstring(L, -1));
      } else {
        const char *k = luaL_checkstring(L, -2);
        const char *v = luaL_checkstring(L, -1);
        lua_pushfstring(L, "%s: %s", k, v);
        add_header(L, r, lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "scenario.core.request: headers must be a table");
  }
  lua_pop(L, 1);
  /* a body never waits for 100-continue: one round trip less (libcurl only
     sends Expect with a body, and each custom header costs every request a
     scan of the list, so a request without one goes without) */
  if (r->body != NULL || r->upload_fd >= 0) add_header(L, r, "Expect:");
}

/* upload_file = path, upload_offset = n (default 0), upload_length = n
   (default: the rest of the file).  Raises when the file cannot be opened or
   the range does not lie inside it. */
static void open_upload(lua_State *L, int opts, sc_request *r) {
  const char *path;
  struct stat st;
  double offset, length;
  char num[32];
  lua_getfield(L, opts, "upload_file");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  path = luaL_checkstring(L, -1);
  if (r->body != NULL)
    luaL_error(L, "scenario.core.request: body and upload_file are exclusive");
  offset = opt_number(L, opts, "upload_offset", 0);
  length = opt_number(L, opts, "upload_length", -1);
  r->upload_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (r->upload_fd < 0)
    luaL_error(L, "scenario.core.request: cannot open %s: %s", path, strerror(errno));
  if (fstat(r->upload_fd, &st) != 0)
    luaL_error(L, "scenario.core.request: cannot stat %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    luaL_error(L, "scenario.core.request: %s is not a regular file", path);
  /* compared as doubles before any conversion: no overflowing cast */
  if (!(offset >= 0 && offset <= (double)st.st_size) || offset != floor(offset))
    luaL_error(L, "scenario.core.request: upload_offset %s is outside %s",
               num_text(num, sizeof num, offset), path);
  r->upload_offset = (curl_off_t)offset;
  if (length < 0) length = (double)(st.st_size - r->upload_offset);
  if (!(length <= (double)(st.st_size - r->upload_offset)) || length != floor(length))
    luaL_error(L, "scenario.core.request: upload_length %s goes past the end of %s",
               num_text(num, sizeof num, length), path);
  r->upload_length = (curl_off_t)length;
  r->has_upload = 1;
  lua_pop(L, 1);
}

/* url, method (default GET) and body, copied: the Lua strings may go. */
static void read_target(lua_State *L, int opts, sc_request *r) {
  const char *s;
  size_t n;
  lua_getfield(L, opts, "url");
  s = luaL_checklstring(L, -1, &n);
  r->url = dup_lstring(s, n);
  lua_pop(L, 1);
  lua_getfield(L, opts, "method");
  s = luaL_optlstring(L, -1, "GET", &n);
  r->method = dup_lstring(s, n);
  lua_pop(L, 1);
  lua_getfield(L, opts, "body");
  if (!lua_isnil(L, -1)) {
    s = luaL_checklstring(L, -1, &n);
    r->body = dup_lstring(s, n);
    r->body_len = n;
  }
  lua_pop(L, 1);
  if (r->url == NULL || r->method == NULL || (r->body_len && r->body == NULL))
    luaL_error(L, "scenario.core.request: out of memory");
}

/* Where a 2xx body goes besides memory: on_data (a function given each
   chunk) or output (an open Lua file), not both. */
static void read_sink(lua_State *L, int opts, sc_request *r) {
  lua_getfield(L, opts, "on_data");
  if (lua_isfunction(L, -1)) r->data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else lua_pop(L, 1);
  lua_getfield(L, opts, "output");
  if (!lua_isnil(L, -1)) {
    FILE *out = sc_tofile(L, -1);
    if (out == NULL)
      luaL_error(L, "scenario.core.request: output must be an open file");
    if (r->data_ref != LUA_NOREF)
      luaL_error(L, "scenario.core.request: give on_data or output, not both");
    fflush(out); /* what Lua wrote to it comes first */
    r->out_fd = dup(fileno(out));
    if (r->out_fd < 0)
      luaL_error(L, "scenario.core.request: output: %s", strerror(errno));
    lua_pop(L, 1);
  } else {
    lua_pop(L, 1);
  }
}

/* Reads the options that make the request into r: what is sent (url,
   method, body or upload_file, headers), the retry policy and timeouts, and
   where the answer goes.  Raises on a bad option. */
static void read_options(lua_State *L, int opts, sc_request *r) {
  double timeout;
  read_target(L, opts, r);
  open_upload(L, opts, r);
  read_headers(L, opts, r);
  r->max_retries = (int)opt_number(L, opts, "max_retries", 0);
  if (r->max_retries < 0) r->max_retries = 0;
  r->unsafe = opt_bool(L, opts, "unsafe");
  r->bulk = opt_bool(L, opts, "bulk");
  r->connect_timeout = opt_number(L, opts, "connect_timeout", 0);
  timeout = opt_number(L, opts, "timeout", 0);
  r->deadline = timeout > 0 ? r->started + timeout : 0;
  r->max_body = opt_bytes(L, opts, "max_body");
  r->max_stream = opt_bytes(L, opts, "max_stream");
  read_sink(L, opts, r);
}

/* What a plain request (a GET without a body or an output file, verbose,
   or a ca_file other than the loop's: the API's reads and the job polls)
   leaves on its handle, as bits of the settings that differ between plain
   requests; -1 for any other.  The loop's ca_file is the first one a request
   gave (a client's, from SSL_CERT_FILE): most programs have one. */
#define SC_PROFILE_DECODES 1
#define SC_PROFILE_FOLLOW 2
#define SC_PROFILE_UNSAFE 4
#define SC_PROFILE_INSECURE 8
#define SC_PROFILE_CA_FILE 16

static int profile_of(sc_request *r, int insecure, int verbose, const char *ca_file) {
  sc_loop *loop = r->loop;
  if (verbose || strcmp(r->method, "GET") != 0 || r->body != NULL || r->has_upload ||
      r->out_fd >= 0)
    return -1;
  if (ca_file != NULL && loop->ca_file == NULL) loop->ca_file = strdup(ca_file);
  if (ca_file != NULL && (loop->ca_file == NULL || strcmp(ca_file, loop->ca_file) != 0))
    return -1;
  return (r->decodes ? SC_PROFILE_DECODES : 0) | (r->follow ? SC_PROFILE_FOLLOW : 0) |
         (r->unsafe ? SC_PROFILE_UNSAFE : 0) | (insecure ? SC_PROFILE_INSECURE : 0) |
         (ca_file ? SC_PROFILE_CA_FILE : 0);
}

/* The options of the easy handle whatever the transfer: callbacks, the
   loop's shared caches, protocols, compression, HTTP/2, keep-alive, and the
   connection options (follow_redirects, ca_file, insecure, verbose).  A
   handle a plain request of the same profile left in the pool has them
   already: only the request's own (URL, headers, the pointers to r) are set,
   without curl_easy_reset and the rest again (7.5k instructions a request:
   README, B1), as a C program reusing one handle does. */
static void set_handle_options(lua_State *L, int opts, sc_request *r) {
  CURL *e = r->easy;
  const char *ca_file;
  int insecure, verbose;
  lua_getfield(L, opts, "compressed");
  r->decodes = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  r->follow = opt_bool(L, opts, "follow_redirects");
  insecure = opt_bool(L, opts, "insecure");
  verbose = opt_bool(L, opts, "verbose");
  lua_getfield(L, opts, "ca_file");
  ca_file = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  r->profile = profile_of(r, insecure, verbose, ca_file);
  if (r->profile < 0 || r->profile != r->easy_profile) {
    if (r->easy_profile >= 0) curl_easy_reset(e);
    r->easy_profile = -1;
  }
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)&r->wnode);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  if (r->easy_profile >= 0) { /* the rest is on the handle already */
    lua_pop(L, 1);
    return;
  }
  /* a streamed body is read 64 KiB at a time instead of libcurl's 16 KiB */
  if (r->out_fd >= 0) curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 64L * 1024L);
  curl_easy_setopt(e, CURLOPT_SHARE, r->loop->share);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* every encoding libcurl decodes, unless `compressed = false`: then the
     body is the bytes as sent (a download byte-exact, bounded by its
     Content-Length) */
  if (r->decodes) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* libcurl silently sends a request again when a reused connection dies
     before any answer; the server may have acted on the first copy, so an
     unsafe request (a paid POST) always goes on a connection of its own */
  if (r->unsafe) curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  if (r->follow) {
    /* libcurl drops a custom Authorization header when a redirect leaves the
       original host, scheme or port (CURLOPT_UNRESTRICTED_AUTH stays off) */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  }
  if (ca_file != NULL) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
  lua_pop(L, 1);
  if (insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (verbose) curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
}

/* The kind of transfer, from what was read: a body from a file (PUT with a
   Content-Length, else a POST or a custom method), a GET, a HEAD, or a
   request with a body in memory (POST, or a custom method). */
static void set_transfer_kind(sc_request *r) {
  CURL *e = r->easy;
  if (r->body != NULL || r->upload_fd >= 0) {
    /* progress of the body, for req:progress(); GETs go without */
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  }
  if (r->upload_fd >= 0) {
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
    /* 256 KiB reads instead of 64 KiB: a quarter of the read callbacks and
       syscalls per part, for 256 KiB of memory per transfer */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024L);
    if (strcmp(r->method, "PUT") == 0) {
      /* Content-Length from the size, not chunked encoding */
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, r->upload_length);
    } else {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, r->upload_length);
      if (strcmp(r->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
  } else if (strcmp(r->method, "GET") == 0 && r->body == NULL) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(r->method, "HEAD") == 0) {
    r->nobody = 1;
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    if (r->body != NULL || strcmp(r->method, "POST") == 0) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
    if (strcmp(r->method, "POST") != 0)
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  }
}

/* The request's options read into r, the handle's options set, then the
   kind of transfer chosen from what was read. */
static void configure(lua_State *L, int opts, sc_request *r) {
  read_options(L, opts, r);
  set_handle_options(L, opts, r);
  set_transfer_kind(r);
}

/* core.request{ url, method, headers, body, timeout, connect_timeout,
                 max_retries, unsafe, follow_redirects, ca_file, insecure,
                 on_data, output, verbose, upload_file, upload_offset, upload_length,
                 max_body, max_stream, compressed, bulk }
   -> request (already started) */
static int l_request(lua_State *L) {
  sc_loop *loop = sc_loop_get(L);
  sc_request *r;
  luaL_checktype(L, 1, LUA_TTABLE);
  r = (sc_request *)lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  r->data_ref = r->cb_error_ref = LUA_NOREF;
  r->upload_fd = r->out_fd = -1;
  r->retry_timer.index = -1;
  r->retry_timer.kind = SC_TIMER_RETRY;
  r->retry_timer.owner = r;
  r->loop = loop;
  r->started = sc_now();
  luaL_setmetatable(L, SC_REQUEST_MT);
  r->profile = -1; /* until configure says otherwise: an error there resets the handle */
  r->easy = take_easy(loop, &r->easy_profile);
  if (r->easy == NULL) return luaL_error(L, "scenario.core.request: curl_easy_init failed");
  configure(L, 1, r);
  start_attempt(r);
  sc_anchor(L, -1, r);
  return 1;
}

/* Takes a running attempt's handle back from libcurl: no callback runs
   for r after this. */
static void take_back(sc_request *r) {
  if (r->threaded) {
    if (r->loop->worker != NULL) sc_worker_remove(r->loop->worker, &r->wnode);
  } else if (r->loop->multi != NULL) {
    curl_multi_remove_handle(r->loop->multi, r->easy);
  }
  r->loop->transfers--;
}

static void release(lua_State *L, sc_request *r) {
  if (r->state == ST_RUNNING && r->loop->multi) take_back(r);
  if (r->state == ST_WAITING) sc_heap_remove(&r->loop->timers, &r->retry_timer);
  if (r->state == ST_QUEUED) sc_queue_remove(r->loop, &r->qlink);
  r->state = ST_DONE;
  close_files(r);
  retire_easy(r);
  free(r->final_url);
  r->final_url = NULL;
  r->retired = 0; /* released: req:result() says closed */
  curl_slist_free_all(r->headers);
  r->headers = NULL;
  free(r->method);
  free(r->url);
  free(r->body);
  r->method = r->url = r->body = NULL;
  sc_buf_free(&r->resp_body);
  sc_buf_free(&r->resp_headers);
  sc_buf_free(&r->wnode.pending);
  luaL_unref(L, LUA_REGISTRYINDEX, r->data_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, r->cb_error_ref);
  r->data_ref = r->cb_error_ref = LUA_NOREF;
}

static int l_gc(lua_State *L) {
  release(L, check_request(L, 1));
  return 0;
}

/* req:cancel(): stops the transfer now; waiters see kind "canceled". */
static int l_cancel(lua_State *L) {
  sc_request *r = check_request(L, 1);
  if (r->state == ST_RUNNING || r->state == ST_WAITING || r->state == ST_QUEUED) {
    if (r->state == ST_RUNNING) {
      take_back(r);
    } else if (r->state == ST_QUEUED) {
      sc_queue_remove(r->loop, &r->qlink); /* never started: the server saw nothing */
    } else {
      sc_heap_remove(&r->loop->timers, &r->retry_timer);
    }
    r->canceled = 1;
    r->code = CURLE_ABORTED_BY_CALLBACK;
    r->state = ST_DONE;
    retire_easy(r);
    close_files(r);
    r->elapsed = sc_now() - r->started;
    sc_finish(L, r);
  }
  return 0;
}

static int l_close(lua_State *L) {
  sc_request *r = check_request(L, 1);
  l_cancel(L);
  release(L, r);
  return 0;
}

static int l_done(lua_State *L) {
  lua_pushboolean(L, check_request(L, 1)->state == ST_DONE);
  return 1;
}

/* The values of a repeated header, gathered by push_headers in a list,
   joined with ", " as RFC 9110 says (in one pass: joining as they come would
   copy the growing value once per line, quadratic in a hostile block). */
static void join_repeated(lua_State *L, int t) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_istable(L, -1)) {
      int list = lua_gettop(L), n = (int)lua_rawlen(L, list);
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addlstring(&b, ", ", 2);
        lua_rawgeti(L, list, i);
        luaL_addvalue(&b);
      }
      luaL_pushresult(&b);
      lua_pushvalue(L, list - 1); /* the name */
      lua_insert(L, -2);
      lua_rawset(L, t);           /* an existing field: allowed while traversing */
    }
    lua_pop(L, 1);
  }
}

/* The number of fields of a header block (its lines but the status line and
   the blank one that ends it): the size of its table, made at once rather
   than grown a field at a time (four rehashes for nginx's 8 fields). */
static int field_count(const char *p) {
  int n = 0;
  while ((p = strchr(p, '\n')) != NULL) n++, p++;
  return n > 2 ? n - 2 : 0;
}

static void push_headers(lua_State *L, const char *p) {
  int t, repeated = 0;
  lua_createtable(L, 0, p == NULL ? 0 : field_count(p));
  t = lua_gettop(L);
  if (p == NULL) return;
  while (*p) {
    const char *end = strchr(p, '\n');
    const char *colon;
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n')) len--;
    colon = memchr(p, ':', len);
    if (colon != NULL && strncmp(p, "HTTP/", 5) != 0) {
      char name[128]; /* lower-cased here: names longer than this go by luaL_Buffer */
      const char *v = colon + 1;
      size_t vlen = len - (size_t)(v - p), nlen = (size_t)(colon - p);
      while (vlen > 0 && (*v == ' ' || *v == '\t')) v++, vlen--;
      if (nlen <= sizeof name) {
        for (size_t i = 0; i < nlen; i++)
          name[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
        lua_pushlstring(L, name, nlen);
      } else {
        luaL_Buffer long_name;
        luaL_buffinit(L, &long_name);
        for (const char *c = p; c < colon; c++)
          luaL_addchar(&long_name, (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c));
        luaL_pushresult(&long_name);
      }
      lua_pushvalue(L, -1);
      lua_rawget(L, t);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, v, vlen);
      } else { /* repeated: a list of the values, joined at the end */
        if (!lua_istable(L, -1)) {
          lua_createtable(L, 2, 0);
          lua_insert(L, -2);
          lua_rawseti(L, -2, 1);
        }
        lua_pushlstring(L, v, vlen);
        lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
        repeated = 1;
      }
      lua_rawset(L, t);
    }
    if (end == NULL) break;
    p = end + 1;
  }
  if (repeated) join_repeated(L, t);
}

static const char *error_kind(const sc_request *r) {
  if (r->canceled) return "canceled";
  if (r->cb_error_ref != LUA_NOREF) return "callback";
  if (r->too_large) return "too_large";
  if (r->read_errno != 0 || r->write_errno != 0) return "io";
  switch (r->code) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_TOO_MANY_REDIRECTS: return "redirect";
    case CURLE_UNSUPPORTED_PROTOCOL: /* a redirect to file:// or another scheme */
      return r->status >= 300 && r->status < 400 ? "redirect" : "connection";
    case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CONNECT_ERROR:
      return "tls";
    case CURLE_OUT_OF_MEMORY: case CURLE_WRITE_ERROR: return "io";
    default: return "connection";
  }
}

static void set_number(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void set_integer(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* The message of a transfer stopped over a limit, and its fields `what`
   ("body": kept in memory, "stream": given to on_data or output, "header")
   and `limit` (bytes; absent for libcurl's own header line limit). */
static void push_too_large(lua_State *L, const sc_request *r) {
  static const char *const what[] = {"", "body", "stream", "header"};
  char limit[32];
  snprintf(limit, sizeof limit, "%" CURL_FORMAT_CURL_OFF_T, r->limit);
  if (r->too_large == TL_HEADER && r->limit == 0)
    lua_pushfstring(L, "a response header line is over libcurl's limit (%s)",
                    r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->code));
  else if (r->too_large == TL_HEADER)
    lua_pushfstring(L, "the response headers are over %s bytes", limit);
  else
    lua_pushfstring(L, "the response body is over %s bytes", limit);
  lua_setfield(L, -2, "message");
  lua_pushstring(L, what[r->too_large]);
  lua_setfield(L, -2, "what");
  if (r->limit > 0) set_integer(L, "limit", (lua_Integer)r->limit);
}

/* The error table of a failed request: kind, code, message, sent,
   attempts, elapsed, [status], [value], [what, limit]. */
static void push_error(lua_State *L, const sc_request *r) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, error_kind(r));
  lua_setfield(L, -2, "kind");
  set_integer(L, "code", (lua_Integer)r->code);
  if (r->too_large && !r->canceled && r->cb_error_ref == LUA_NOREF) {
    push_too_large(L, r);
  } else {
    if (r->canceled) lua_pushliteral(L, "request canceled");
    else if (r->cb_error_ref != LUA_NOREF) lua_pushliteral(L, "a callback raised an error");
    else if (r->write_errno != 0)
      lua_pushfstring(L, "cannot write the output file: %s", strerror(r->write_errno));
    else if (r->read_errno > 0)
      lua_pushfstring(L, "cannot read the file body: %s", strerror(r->read_errno));
    else if (r->read_errno < 0)
      lua_pushliteral(L, "cannot read the file body: the file ended early (was it truncated?)");
    else lua_pushstring(L, r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->code));
    lua_setfield(L, -2, "message");
  }
  lua_pushboolean(L, r->sent);
  lua_setfield(L, -2, "sent");
  set_integer(L, "attempts", r->attempts);
  set_number(L, "elapsed", r->elapsed);
  if (r->status > 0) set_integer(L, "status", r->status);
  if (r->cb_error_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->cb_error_ref);
    lua_setfield(L, -2, "value");
  }
}

/* A response's `headers` (lower-case names; a repeated header's values
   joined with ", "), made from its `raw_headers` when first read and kept
   in it: a request whose caller reads no header, or reads one with
   core.header, never pays for the table (~10k instructions: README, B1). */
static int l_response_index(lua_State *L) {
  size_t n;
  const char *k;
  luaL_checktype(L, 1, LUA_TTABLE); /* it can be called by hand: getmetatable(res).__index */
  k = lua_tolstring(L, 2, &n);
  if (lua_type(L, 2) != LUA_TSTRING || n != 7 || memcmp(k, "headers", 7) != 0) return 0;
  lua_pushliteral(L, "raw_headers");
  lua_rawget(L, 1);
  push_headers(L, lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL);
  lua_pushliteral(L, "headers");
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

#define SC_HEADER_NAMES 8

/* core.header(raw_headers, name, ...) -> the value of the first of the
   named headers (up to 8 names, any case) that the header block has, or
   nil; of a header sent more than once, its last value (scan_header). */
int sc_header(lua_State *L) {
  size_t blen, wlen[SC_HEADER_NAMES], vlen = 0;
  const char *want[SC_HEADER_NAMES], *v;
  const char *block = luaL_checklstring(L, 1, &blen);
  int n = lua_gettop(L) - 1;
  luaL_argcheck(L, n <= SC_HEADER_NAMES, SC_HEADER_NAMES + 2, "at most 8 names");
  for (int i = 0; i < n; i++) want[i] = luaL_checklstring(L, i + 2, &wlen[i]);
  v = scan_header(block, blen, want, wlen, n, &vlen);
  if (v == NULL) {
    lua_pushnil(L);
    return 1;
  }
  while (vlen > 0 && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
  lua_pushlstring(L, v, vlen);
  return 1;
}

/* req:result() -> response | nil, err   (nil, nil while still running)
   response: status, headers, raw_headers, body, attempts, elapsed, url,
   http_version; err: see push_error */
static int l_result(lua_State *L) {
  sc_request *r = check_request(L, 1);
  if (r->state != ST_DONE) {
    lua_pushnil(L);
    lua_pushnil(L);
    return 2;
  }
  if (r->easy == NULL && !r->retired) return luaL_error(L, "scenario.core.request: closed");
  if (r->code == CURLE_OK && !r->canceled) {
    const char *url = r->final_url;
    long version = r->http_version;
    lua_createtable(L, 0, 8);
    set_integer(L, "status", r->status);
    lua_pushlstring(L, r->resp_headers.data ? r->resp_headers.data : "", r->resp_headers.len);
    lua_setfield(L, -2, "raw_headers");
    luaL_setmetatable(L, SC_RESPONSE_MT); /* `headers`, made on first read */
    lua_pushlstring(L, r->resp_body.data ? r->resp_body.data : "", r->resp_body.len);
    lua_setfield(L, -2, "body");
    set_integer(L, "attempts", r->attempts);
    set_number(L, "elapsed", r->elapsed);
    if (url) {
      lua_pushstring(L, url);
      lua_setfield(L, -2, "url");
    }
    lua_pushstring(L, version == CURL_HTTP_VERSION_2_0 ? "2"
                      : version == CURL_HTTP_VERSION_3 ? "3"
                      : version == CURL_HTTP_VERSION_1_0 ? "1.0" : "1.1");
    lua_setfield(L, -2, "http_version");
    return 1;
  }
  lua_pushnil(L);
  push_error(L, r);
  return 2;
}

/* req:progress() -> sent, total, received
   Bytes of the request body sent in the current attempt (a retry starts
   again from 0), the body's size, and bytes of a 2xx body given to on_data
   or written to `output`. */
static int l_progress(lua_State *L) {
  sc_request *r = check_request(L, 1);
  curl_off_t total = r->has_upload ? r->upload_length : (curl_off_t)r->body_len;
  curl_off_t up = SC_LOAD(r->up_now); /* the I/O thread may be writing both */
  curl_off_t sent = up > total ? total : up;
  lua_pushinteger(L, (lua_Integer)sent);
  lua_pushinteger(L, (lua_Integer)total);
  lua_pushinteger(L, (lua_Integer)SC_LOAD(r->streamed));
  return 3;
}

static int l_tostring(lua_State *L) {
  sc_request *r = check_request(L, 1);
  static const char *const states[] = {"new", "running", "waiting to retry", "done", "queued"};
  const char *url = r->url ? r->url : "";
  /* never show a query string or user info: presigned URLs carry secrets */
  const char *scheme_end = strstr(url, "://");
  const char *host = scheme_end ? scheme_end + 3 : url;
  const char *at = strchr(host, '@');
  const char *slash = strchr(host, '/');
  size_t path_len;
  if (at && (!slash || at < slash)) host = at + 1;
  path_len = strcspn(host, "?#");
  lua_pushfstring(L, "scenario.core.request (%s ", r->method ? r->method : "?");
  lua_pushlstring(L, host, path_len);
  lua_pushfstring(L, ": %s, attempt %d)",
                  states[r->state >= 0 && r->state <= ST_QUEUED ? r->state : 0], r->attempts);
  lua_concat(L, 3);
  return 1;
}

int sc_request_open(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"done", l_done}, {"result", l_result}, {"cancel", l_cancel},
    {"progress", l_progress}, {NULL, NULL}};
  static const luaL_Reg meta[] = {
    {"__gc", l_gc}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}};
  if (luaL_newmetatable(L, SC_REQUEST_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SC_RESPONSE_MT)) {
    lua_pushcfunction(L, l_response_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_request);
  return 1;
}
