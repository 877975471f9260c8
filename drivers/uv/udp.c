/*
 * udp.c -- the exco_uv_udp object: open, send, receive, close.
 *
 * Same shape as TCP (see stream.c): receiving stays started between calls
 * and gets the waiting receiver's own buffer; with no receiver waiting
 * libuv gets no buffer, reports UV_ENOBUFS and receiving is stopped until
 * the next call, so datagrams wait in the kernel.  Sends try
 * uv_udp_try_send() first and copy the datagram only when the socket
 * can't take it at once.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "uv-internal.h"

typedef struct exco__uv_recv_op {
  exco__uv_op op;
  char *buf;
  size_t len;
  struct sockaddr_storage *from;
} exco__uv_recv_op;

struct exco_uv_udp {
  uv_udp_t handle; /* handle.data points back here */
  uv_loop_t *loop;
  int closing;
  int receiving;            /* uv_udp_recv_start() is in effect */
  exco__uv_recv_op *reader; /* the waiting receive, on its stack */
};

static void exco__uv_udp_close_cb(uv_handle_t *handle) {
  free(handle->data);
}

int exco_uv_udp_close(exco_uv_udp *u) {
  exco__uv_recv_op *r;

  if (u == NULL)
    return EXCO_EINVAL;
  if (u->closing)
    return EXCO_EALREADY;
  u->closing = 1;
  r = u->reader;
  if (r != NULL) {
    u->reader = NULL;
    uv_unref((uv_handle_t *)&u->handle);
    exco__uv_op_complete(&r->op, EXCO_ECANCELED);
  }
  uv_close((uv_handle_t *)&u->handle, exco__uv_udp_close_cb);
  return 0;
}

uv_udp_t *exco_uv_udp_handle(exco_uv_udp *u) {
  return u != NULL ? &u->handle : NULL;
}

int exco_uv_udp_open(const struct sockaddr *addr, exco_uv_udp **out) {
  exco_uv_udp *u;
  uv_loop_t *loop;
  int err;

  if (out == NULL)
    return EXCO_EINVAL;
  err = exco__uv_enter(&loop);
  if (err != 0)
    return err;
  u = calloc(1, sizeof(*u));
  if (u == NULL)
    return EXCO_ENOMEM;
  err = uv_udp_init(loop, &u->handle);
  if (err != 0) {
    free(u);
    return err;
  }
  u->handle.data = u;
  u->loop = loop;
  if (addr != NULL) {
    err = uv_udp_bind(&u->handle, addr, 0);
    if (err != 0) {
      exco_uv_udp_close(u);
      return err;
    }
  }
  *out = u;
  return 0;
}

static int exco__uv_udp_enter(exco_uv_udp *u, uv_loop_t **loop) {
  int err;

  if (u == NULL)
    return EXCO_EINVAL;
  err = exco__uv_enter(loop);
  if (err != 0)
    return err;
  if (u->loop != *loop || u->closing)
    return EXCO_EINVAL;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Receive                                                                 */
/* ---------------------------------------------------------------------- */

static void exco__uv_udp_alloc_cb(uv_handle_t *handle, size_t suggested,
                                  uv_buf_t *buf) {
  exco_uv_udp *u = handle->data;

  (void)suggested;
  if (u->reader != NULL) {
    buf->base = u->reader->buf;
    buf->len = u->reader->len;
  } else {
    buf->base = NULL;
    buf->len = 0;
  }
}

static void exco__uv_udp_recv_cb(uv_udp_t *handle, ssize_t nread,
                                 const uv_buf_t *buf,
                                 const struct sockaddr *addr, unsigned flags) {
  exco_uv_udp *u = handle->data;
  exco__uv_recv_op *r = u->reader;

  (void)buf;
  (void)flags;
  if (nread == 0 && addr == NULL)
    return; /* nothing more to read this time */
  if (nread == UV_ENOBUFS && r == NULL) {
    uv_udp_recv_stop(handle);
    u->receiving = 0;
    return;
  }
  if (r == NULL)
    return;
  u->reader = NULL;
  uv_unref((uv_handle_t *)handle);
  if (nread >= 0 && r->from != NULL && addr != NULL) {
    memset(r->from, 0, sizeof(*r->from));
    memcpy(r->from, addr,
           addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in));
  }
  exco__uv_op_complete(&r->op, nread);
}

ssize_t exco_uv_udp_recv_timeout(exco_uv_udp *u, void *buf, size_t len,
                                 struct sockaddr_storage *from,
                                 uint64_t timeout_ms) {
  exco__uv_recv_op r;
  uv_loop_t *loop;
  char dummy;
  int err;

  if (buf == NULL && len != 0)
    return EXCO_EINVAL;
  err = exco__uv_udp_enter(u, &loop);
  if (err != 0)
    return err;
  if (u->reader != NULL)
    return EXCO_EBUSY;
  exco__uv_op_init(&r.op);
  r.buf = buf;
  r.len = len;
  r.from = from;
  if (len == 0) {
    /* A zero-length buffer reads as "no buffer" to libuv; one byte still
     * receives (and truncates) the datagram. */
    r.buf = &dummy;
    r.len = 1;
  }
  /* Referenced only while a receiver waits: an idle socket must not keep
   * uv_run() from returning once every task has finished. */
  u->reader = &r;
  uv_ref((uv_handle_t *)&u->handle);
  if (!u->receiving) {
    err = uv_udp_recv_start(&u->handle, exco__uv_udp_alloc_cb,
                            exco__uv_udp_recv_cb);
    if (err != 0) {
      u->reader = NULL;
      uv_unref((uv_handle_t *)&u->handle);
      return err;
    }
    u->receiving = 1;
  }
  err = exco__uv_op_wait(&r.op, timeout_ms);
  if (err != 0) {
    u->reader = NULL;
    uv_unref((uv_handle_t *)&u->handle);
    return err;
  }
  if (len == 0 && r.op.result > 0)
    return 0;
  return r.op.result;
}

ssize_t exco_uv_udp_recv(exco_uv_udp *u, void *buf, size_t len,
                         struct sockaddr_storage *from) {
  return exco_uv_udp_recv_timeout(u, buf, len, from, EXCO__UV_NO_TIMEOUT);
}

/* ---------------------------------------------------------------------- */
/* Send                                                                    */
/* ---------------------------------------------------------------------- */

typedef struct exco__uv_send {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_udp_send_t req;
  char data[];
} exco__uv_send;

static void exco__uv_send_cb(uv_udp_send_t *req, int status) {
  exco__uv_send *s = exco__uv_container_of(req, exco__uv_send, req);

  exco__uv_req_finish(&s->hdr, status);
}

int exco_uv_udp_send_timeout(exco_uv_udp *u, const void *buf, size_t len,
                             const struct sockaddr *to, uint64_t timeout_ms) {
  exco__uv_send *s;
  uv_loop_t *loop;
  uv_buf_t b;
  int err;

  if ((buf == NULL && len != 0) || to == NULL || len > 0xffffffffu)
    return EXCO_EINVAL;
  err = exco__uv_udp_enter(u, &loop);
  if (err != 0)
    return err;
  b = uv_buf_init((char *)buf, (unsigned int)len);
  err = uv_udp_try_send(&u->handle, &b, 1, to);
  if (err >= 0)
    return 0;
  if (err != UV_EAGAIN)
    return err;
  s = exco__uv_req_alloc(sizeof(*s) + len, NULL, &err);
  if (s == NULL)
    return err;
  if (len > 0)
    memcpy(s->data, buf, len);
  b = uv_buf_init(s->data, (unsigned int)len);
  return (int)exco__uv_req_result(
      &s->hdr, uv_udp_send(&s->req, &u->handle, &b, 1, to, exco__uv_send_cb),
      timeout_ms, NULL);
}

int exco_uv_udp_send(exco_uv_udp *u, const void *buf, size_t len,
                     const struct sockaddr *to) {
  return exco_uv_udp_send_timeout(u, buf, len, to, EXCO__UV_NO_TIMEOUT);
}
