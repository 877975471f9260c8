/*
 * stream.c -- reads, writes and shutdowns on a connected exco_uv_tcp:
 * exco_uv_tcp_read() and exco_uv_tcp_write() themselves, the shutdown's
 * request for tcp.c.
 *
 * Reads.  The first read call starts libuv reading (uv_read_start), and
 * reading then stays started until the socket is closed, libuv reports
 * end of stream or an error, or the stream's buffer is full: starting and
 * stopping it around every call would cost epoll_ctl calls each time.
 * What arrives while no coroutine waits in a read goes into a buffer of
 * EXCO_UV_TCP_READ_BUFFER bytes per socket (malloc'd when first needed,
 * freed with the socket), and the next read takes it from there at once,
 * without waiting.  A full buffer stops reading (backpressure: the rest
 * waits in the kernel, and TCP slows the peer down); reading starts again
 * once reads have drained it to half.  End of stream and read errors are
 * recorded and returned once the buffered bytes are gone, so nothing
 * arrives out of order.
 *
 * libuv's alloc callback hands out the waiting reader's own buffer (the
 * socket's buffer is empty then: a reader only waits on an empty one), so
 * the usual read costs no copy and touches no memory but the reader's;
 * the socket's buffer is handed out only when no reader waits.  libuv
 * reads again, in the same callback, after a read that filled the buffer
 * it was given; after one that filled the reader's, that second read
 * gets no buffer (libuv reports UV_ENOBUFS, which then does not stop
 * reading): it would usually find nothing (a wasted read(2)), and what
 * it could find is still reported by the next poll, since libuv's epoll
 * is level-triggered.
 *
 * A connected socket's handle is not referenced (exco__uv_tcp_new()): a
 * socket kept open with nobody reading must not keep uv_run() from
 * returning once every task has finished.  A waiting read of a task of
 * this driver's own executor needs no reference either, since live tasks
 * keep the loop alive through the keepalive op; one of a task of an
 * executor attached with exco_uv_attach() references the handle while it
 * waits.  The reader's record is on its coroutine's stack: libuv never
 * sees its address (its buffer is handed out only from the alloc callback
 * to the read callback of one read, with no coroutine running in between),
 * a cancelled read unhooks it synchronously, and a close moves the result
 * into it (exco__uv_stream_abort_read()) before the socket is freed.
 *
 * A read is one exco_await() whose first poll does the work: that await
 * is the entry check (in a coroutine, not cancelled) the other awaitables
 * make with exco__uv_enter(), so a read that finds bytes buffered costs one
 * await and no suspension, and one that waits costs no second await.  The
 * waiting read's buffer, length, waker and result are kept in the socket's
 * first cache line, so libuv's callbacks touch no coroutine's stack.
 *
 * Writes.  The entry check is an exco_await() whose poll is always
 * ready, then uv_try_write() from the write's own frame: usually the
 * kernel takes everything and the call returns without waiting or
 * copying.  What it did not take is copied into a heap request for
 * uv_write(), so the caller's buffer is free once the call returns, even
 * when it was cancelled and libuv still has the rest to write.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "uv-internal.h"

/* ---------------------------------------------------------------------- */
/* Reads                                                                   */
/* ---------------------------------------------------------------------- */

#define EXCO__UV_RBUF ((size_t)EXCO_UV_TCP_READ_BUFFER)

/* The bytes buffered. */
static size_t exco__uv_rbuf_used(const exco_uv_tcp *t) {
  return t->rend - t->rstart;
}

/*
 * The free end of the buffer, allocated if needed and compacted when its
 * data has moved far enough from the start (or reached the end while the
 * start is free).  Returns its length: 0 if the buffer is full or could
 * not be allocated.
 */
static size_t exco__uv_rbuf_room(exco_uv_tcp *t) {
  if (t->rbuf == NULL && (t->rbuf = malloc(EXCO__UV_RBUF)) == NULL)
    return 0;
  if (t->rstart == t->rend) {
    t->rstart = t->rend = 0;
  } else if (t->rstart > 0 &&
             (t->rstart >= EXCO__UV_RBUF / 2 || t->rend == EXCO__UV_RBUF)) {
    memmove(t->rbuf, t->rbuf + t->rstart, exco__uv_rbuf_used(t));
    t->rend -= t->rstart;
    t->rstart = 0;
  }
  return EXCO__UV_RBUF - t->rend;
}

/* Moves up to @len buffered bytes to @dst; returns how many. */
static size_t exco__uv_rbuf_take(exco_uv_tcp *t, char *dst, size_t len) {
  size_t n = exco__uv_rbuf_used(t);

  if (n > len)
    n = len;
  if (n > 0) {
    memcpy(dst, t->rbuf + t->rstart, n);
    t->rstart += (uint32_t)n;
  }
  return n;
}

/* A read waits for libuv's next one: hooked, without its result yet. */
static int exco__uv_reader_waits(const exco_uv_tcp *t) {
  return t->reader != NULL && !t->rd_done;
}

static void exco__uv_alloc_cb(uv_handle_t *handle, size_t suggested,
                              uv_buf_t *buf) {
  exco_uv_tcp *t = handle->data;
  size_t room;

  (void)suggested;
  /* A reader waits only while the buffer is empty. */
  if (exco__uv_reader_waits(t)) {
    t->rd_filled = 0;
    buf->base = t->rd_buf;
    buf->len = t->rd_len;
    return;
  }
  if (t->rd_filled) {
    /* libuv's second read after one that filled the reader's buffer. */
    t->rd_filled = 0;
    t->rd_skipped = 1;
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  room = exco__uv_rbuf_room(t);
  if (room > 0) {
    buf->base = t->rbuf + t->rend;
    buf->len = room;
  } else {
    /* Full, or out of memory: libuv reports UV_ENOBUFS. */
    buf->base = NULL;
    buf->len = 0;
  }
}

/*
 * Gives the waiting read its result @result and wakes it.  The read stays
 * hooked until its coroutine takes the result (or a close hands it over,
 * exco__uv_stream_abort_read()): until then the result is in the socket,
 * so the callbacks touch no coroutine's stack.
 */
static void exco__uv_reader_done(exco_uv_tcp *t, ssize_t result) {
  t->rd_result = (int32_t)result;
  t->rd_done = 1;
  if (t->rd_ref)
    uv_unref((uv_handle_t *)&t->handle);
  exco_waker_wake(t->rd_waker);
}

static void exco__uv_read_cb(uv_stream_t *stream, ssize_t nread,
                             const uv_buf_t *buf) {
  exco_uv_tcp *t = stream->data;

  (void)buf;
  if (nread == 0)
    return; /* EAGAIN: nothing this time */
  if (nread == UV_ENOBUFS && t->rd_skipped) {
    t->rd_skipped = 0;
    return; /* not a full buffer: see exco__uv_alloc_cb() */
  }
  if (nread < 0) {
    /* UV_ENOBUFS: the buffer is full (or could not be allocated) and no
     * reader waits; a read resumes.  UV_EOF or an error: libuv has
     * stopped reading already, for good. */
    uv_read_stop(stream);
    t->reading = 0;
    if (nread != UV_ENOBUFS) {
      t->read_err = (int32_t)nread;
      if (exco__uv_reader_waits(t))
        exco__uv_reader_done(t, nread);
    }
    return;
  }
  if (exco__uv_reader_waits(t)) {
    t->rd_filled = (size_t)nread == t->rd_len;
    exco__uv_reader_done(t, nread);
    return;
  }
  t->rend += (uint32_t)nread;
}

void exco__uv_stream_abort_read(exco_uv_tcp *t, ssize_t result) {
  exco__uv_read_op *r = t->reader;

  if (r == NULL)
    return;
  /* The socket goes away before its reader may run: the result moves to
   * the reader's record.  Bytes read already win over the close. */
  if (!t->rd_done)
    exco__uv_reader_done(t, result);
  r->op.result = t->rd_result;
  r->op.done = 1;
  t->reader = NULL;
}

void exco__uv_stream_free(exco_uv_tcp *t) {
  free(t->rbuf);
  t->rbuf = NULL;
  t->rstart = t->rend = 0;
}

/* Starts reading unless it is on or over for good. */
static int exco__uv_read_resume(exco_uv_tcp *t) {
  int err;

  if (t->reading || t->read_err != 0)
    return 0;
  err = uv_read_start((uv_stream_t *)&t->handle, exco__uv_alloc_cb,
                      exco__uv_read_cb);
  if (err == 0)
    t->reading = 1;
  return err;
}

/*
 * The first poll of a read: it comes once exco_await() has found the task
 * in a coroutine and not cancelled, makes the rest of the entry check, and
 * either ends the read at once (buffered bytes, a recorded end or error,
 * @len 0, a failed check) or hooks it to the socket as its reader to wait.
 * Out of line, so that the later polls (exco__uv_read_poll()) cost a few
 * instructions.
 */
static EXCO__UV_NOINLINE int exco__uv_read_start(exco__uv_read_op *r,
                                                 exco_waker *waker) {
  exco_uv_tcp *t = r->t;
  ssize_t res;
  int driven;

  res = exco__uv_tcp_usable(t, 0, &driven);
  if (res != 0) {
    /* Failed check: res is the error. */
  } else if (t->reader != NULL) {
    res = EXCO_EBUSY;
  } else if (t->rstart != t->rend) {
    res = (ssize_t)exco__uv_rbuf_take(t, r->buf, r->len);
    /* Stopped by a full buffer: resume at half.  A failure shows at the
     * read that finds the buffer empty. */
    if (exco__uv_rbuf_used(t) <= EXCO__UV_RBUF / 2)
      (void)exco__uv_read_resume(t);
  } else if (t->read_err != 0) {
    res = t->read_err;
  } else if (r->len > 0 && (res = exco__uv_read_resume(t)) == 0) {
    /* Wait.  A task of this driver's executor keeps the loop alive by
     * itself; one of an attached executor needs the handle referenced. */
    t->reader = r;
    t->rd_buf = r->buf;
    t->rd_len =
        r->len > EXCO__UV_READ_MAX ? EXCO__UV_READ_MAX : (uint32_t)r->len;
    t->rd_done = 0;
    t->rd_ref = !driven;
    if (t->rd_ref)
      uv_ref((uv_handle_t *)&t->handle);
    r->waiting = 1;
    r->op.waker = t->rd_waker = exco_waker_clone(waker);
    exco_await_label("uv");
    return 0;
  }
  r->op.result = res;
  r->op.done = 1;
  return 1;
}

/* The read's poll function: the first poll starts the read, the later
 * ones look whether the read callback or a close has completed it. */
static int exco__uv_read_poll(void *arg, exco_waker *waker) {
  exco__uv_read_op *r = arg;

  if (!r->waiting)
    return exco__uv_read_start(r, waker);
  /* Done by a close first: the socket may be gone then. */
  return r->op.done || r->t->rd_done;
}

/* exco_uv_tcp_read_timeout(), inlined into both public forms: the plain
 * one then has no deadline code, and neither has a frame more on the
 * coroutine's stack while it waits. */
static inline ssize_t exco__uv_read_call(exco_uv_tcp *t, void *buf, size_t len,
                                         uint64_t timeout_ms) {
  exco__uv_read_op r;
  int64_t prev = EXCO_NO_DEADLINE;
  int err;

  if (t == NULL || (buf == NULL && len != 0))
    return EXCO_EINVAL;
  exco__uv_op_init(&r.op);
  r.t = t;
  r.buf = buf;
  r.len = len;
  r.waiting = 0;
  /* Outside a coroutine this fails, and so does exco_await(). */
  if (timeout_ms != EXCO__UV_NO_TIMEOUT)
    exco_deadline_after(timeout_ms, &prev);
  err = exco_await(exco__uv_read_poll, NULL, &r);
  if (timeout_ms != EXCO__UV_NO_TIMEOUT)
    exco_deadline_set(prev, NULL);
  if (!r.waiting)
    return err != 0 ? err : r.op.result;
  exco_waker_drop(r.op.waker);
  /* A close has unhooked us (the socket may be gone). */
  if (r.op.done)
    return r.op.result;
  /* Still hooked, and the socket is still there. */
  t->reader = NULL;
  /* Done wins over a cancellation or deadline seen at the same time: the
   * bytes are in @buf already. */
  if (t->rd_done)
    return t->rd_result;
  /* Reading goes on: what arrives now is buffered for the next read. */
  if (t->rd_ref)
    uv_unref((uv_handle_t *)&t->handle);
  return err;
}

ssize_t exco_uv_tcp_read(exco_uv_tcp *t, void *buf, size_t len) {
  return exco__uv_read_call(t, buf, len, EXCO__UV_NO_TIMEOUT);
}

ssize_t exco_uv_tcp_read_timeout(exco_uv_tcp *t, void *buf, size_t len,
                                 uint64_t timeout_ms) {
  return exco__uv_read_call(t, buf, len, timeout_ms);
}

/* ---------------------------------------------------------------------- */
/* Writes and shutdown                                                     */
/* ---------------------------------------------------------------------- */

typedef struct exco__uv_write {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_write_t req;
  char data[];
} exco__uv_write;

static void exco__uv_write_cb(uv_write_t *req, int status) {
  exco__uv_write *w = exco__uv_container_of(req, exco__uv_write, req);

  exco__uv_req_finish(&w->hdr, status);
}

/* The entry check of a write, on its coroutine's stack. */
typedef struct exco__uv_write_check {
  exco_uv_tcp *t;
  int result;
} exco__uv_write_check;

/*
 * The poll of the write's entry check: exco_await() has found the task in
 * a coroutine and not cancelled; the rest of the check is here.  It is
 * always ready: the write itself is done after exco_await() has returned,
 * so libuv's write path runs right below the write's own frame, not below
 * exco_await()'s and this one's too (fewer cold stack lines per write).
 */
static int exco__uv_write_check_poll(void *arg, exco_waker *waker) {
  exco__uv_write_check *c = arg;
  int driven;

  (void)waker;
  c->result = exco__uv_tcp_usable(c->t, 0, &driven);
  return 1;
}

/* What uv_try_write() left of a write (@n bytes of @len went out): a
 * copy of the rest is written with uv_write() and waited for. */
static EXCO__UV_NOINLINE int exco__uv_write_rest(exco_uv_tcp *t,
                                                 const char *buf, size_t len,
                                                 int n, uint64_t timeout_ms) {
  exco__uv_write *w;
  uv_buf_t b;
  int err;

  if (n < 0)
    n = 0;
  len -= (size_t)n;
  w = exco__uv_req_alloc(sizeof(*w) + len, NULL, &err);
  if (w == NULL)
    return err;
  memcpy(w->data, buf + n, len);
  b.base = w->data;
  b.len = len;
  return (int)exco__uv_req_result(
      &w->hdr,
      uv_write(&w->req, (uv_stream_t *)&t->handle, &b, 1, exco__uv_write_cb),
      timeout_ms, NULL);
}

/* exco_uv_tcp_write_timeout(), inlined into both public forms. */
static inline int exco__uv_write_call(exco_uv_tcp *t, const void *buf,
                                      size_t len, uint64_t timeout_ms) {
  exco__uv_write_check c;
  uv_buf_t b;
  int n;

  if (t == NULL || (buf == NULL && len != 0))
    return EXCO_EINVAL;
  c.t = t;
  c.result = 0;
  n = exco_await(exco__uv_write_check_poll, NULL, &c);
  if (n != 0)
    return n;
  if (c.result != 0 || len == 0)
    return c.result;
  b.base = (char *)buf;
  b.len = len > 0x40000000u ? 0x40000000u : len;
  n = uv_try_write((uv_stream_t *)&t->handle, &b, 1);
  if (n >= 0 && (size_t)n == len)
    return 0;
  if (n < 0 && n != UV_EAGAIN)
    return n;
  return exco__uv_write_rest(t, buf, len, n, timeout_ms);
}

int exco_uv_tcp_write(exco_uv_tcp *t, const void *buf, size_t len) {
  return exco__uv_write_call(t, buf, len, EXCO__UV_NO_TIMEOUT);
}

int exco_uv_tcp_write_timeout(exco_uv_tcp *t, const void *buf, size_t len,
                              uint64_t timeout_ms) {
  return exco__uv_write_call(t, buf, len, timeout_ms);
}

typedef struct exco__uv_shutdown {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_shutdown_t req;
} exco__uv_shutdown;

static void exco__uv_shutdown_cb(uv_shutdown_t *req, int status) {
  exco__uv_shutdown *q = exco__uv_container_of(req, exco__uv_shutdown, req);

  exco__uv_req_finish(&q->hdr, status);
}

int exco__uv_stream_shutdown(uv_stream_t *s, uint64_t timeout_ms) {
  exco__uv_shutdown *q;
  int err;

  q = exco__uv_req_alloc(sizeof(*q), NULL, &err);
  if (q == NULL)
    return err;
  return (int)exco__uv_req_result(
      &q->hdr, uv_shutdown(&q->req, s, exco__uv_shutdown_cb), timeout_ms, NULL);
}
