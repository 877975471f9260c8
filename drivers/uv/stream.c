/*
 * stream.c -- reads, writes and shutdowns on a connected exco_uv_tcp.
 *
 * Reads.  Reading stays started between calls (restarting it for every
 * read would cost epoll_ctl calls), but the handle is referenced only
 * while a reader waits: a socket kept open with nobody reading must not
 * keep uv_run() from returning once every task has finished.  libuv's
 * alloc callback hands out the waiting reader's own buffer; when no
 * reader waits it hands out nothing, libuv reports UV_ENOBUFS, and
 * reading is stopped until the next read call, so data waits in the
 * kernel rather than spinning the loop.  The reader's record is on its
 * coroutine's stack: libuv never sees its address, and a cancelled read
 * unhooks it synchronously.
 *
 * Writes.  uv_try_write() first: usually the kernel takes everything and
 * the call returns without waiting or copying.  What it did not take is
 * copied into a heap request for uv_write(), so the caller's buffer is free
 * once the call returns, even when it was cancelled and libuv still has
 * the rest to write.
 */
#include "config.h"

#include <string.h>

#include "uv-internal.h"

/* ---------------------------------------------------------------------- */
/* Reads                                                                   */
/* ---------------------------------------------------------------------- */

static void exco__uv_alloc_cb(uv_handle_t *handle, size_t suggested,
                              uv_buf_t *buf) {
  exco_uv_tcp *t = handle->data;

  (void)suggested;
  if (t->reader != NULL) {
    buf->base = t->reader->buf;
    buf->len = t->reader->len;
  } else {
    buf->base = NULL;
    buf->len = 0;
  }
}

static void exco__uv_read_cb(uv_stream_t *stream, ssize_t nread,
                             const uv_buf_t *buf) {
  exco_uv_tcp *t = stream->data;
  exco__uv_read_op *r = t->reader;

  (void)buf;
  if (nread == 0)
    return; /* EAGAIN: nothing this time */
  if (nread < 0 && (nread != UV_ENOBUFS || r == NULL)) {
    /* No reader waits (UV_ENOBUFS), or end of stream or an error (libuv
     * has stopped reading for those already): stop until asked again. */
    uv_read_stop(stream);
    t->reading = 0;
    if (nread != UV_ENOBUFS)
      t->read_err = nread;
  }
  if (r != NULL) {
    t->reader = NULL;
    uv_unref((uv_handle_t *)stream);
    exco__uv_op_complete(&r->op, nread);
  }
}

void exco__uv_stream_abort_read(exco_uv_tcp *t, ssize_t result) {
  exco__uv_read_op *r = t->reader;

  if (r != NULL) {
    t->reader = NULL;
    uv_unref((uv_handle_t *)&t->handle);
    exco__uv_op_complete(&r->op, result);
  }
}

ssize_t exco__uv_stream_read(exco_uv_tcp *t, void *buf, size_t len,
                             uint64_t timeout_ms) {
  exco__uv_read_op r;
  int err;

  if (t->read_err != 0)
    return t->read_err;
  if (t->reader != NULL)
    return EXCO_EBUSY;
  if (len == 0)
    return 0;
  exco__uv_op_init(&r.op);
  r.buf = buf;
  r.len = len;
  t->reader = &r;
  uv_ref((uv_handle_t *)&t->handle);
  if (!t->reading) {
    err = uv_read_start((uv_stream_t *)&t->handle, exco__uv_alloc_cb,
                        exco__uv_read_cb);
    if (err != 0) {
      t->reader = NULL;
      uv_unref((uv_handle_t *)&t->handle);
      return err;
    }
    t->reading = 1;
  }
  err = exco__uv_op_wait(&r.op, timeout_ms);
  if (err != 0) {
    /* Not completed, so neither the read callback nor a close has
     * unhooked us, and the socket is still there. */
    t->reader = NULL;
    uv_unref((uv_handle_t *)&t->handle);
    return err;
  }
  return r.op.result;
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

int exco__uv_stream_write(uv_stream_t *s, const void *buf, size_t len,
                          uint64_t timeout_ms) {
  exco__uv_write *w;
  uv_buf_t b;
  int n, err;

  if (len == 0)
    return 0;
  b = uv_buf_init((char *)buf,
                  len > 0x40000000u ? 0x40000000u : (unsigned int)len);
  n = uv_try_write(s, &b, 1);
  if (n >= 0 && (size_t)n == len)
    return 0;
  if (n < 0 && n != UV_EAGAIN)
    return n;
  if (n < 0)
    n = 0;
  len -= (size_t)n;
  w = exco__uv_req_alloc(sizeof(*w) + len, NULL, &err);
  if (w == NULL)
    return err;
  memcpy(w->data, (const char *)buf + n, len);
  b.base = w->data;
  b.len = len;
  return (int)exco__uv_req_result(
      &w->hdr, uv_write(&w->req, s, &b, 1, exco__uv_write_cb), timeout_ms,
      NULL);
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
