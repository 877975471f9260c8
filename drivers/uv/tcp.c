/*
 * tcp.c -- the exco_uv_tcp object: connect, listen, accept, close, and
 * the public read / write / shutdown calls (done in stream.c).
 *
 * The object is on the heap, owned by the caller until
 * exco_uv_tcp_close(), which closes the descriptor at once and frees the
 * object from libuv's close callback.  A read or accept waiting on a
 * socket that is closed meanwhile is ended with EXCO_ECANCELED first, so
 * no coroutine is left waiting on a freed object.
 *
 * Accepts.  libuv accepts one connection, calls the connection callback,
 * and stops watching the listening socket until uv_accept() takes that
 * connection; watching it again costs epoll_ctl calls.  So the callback
 * takes every connection at once (uv_accept into a new exco_uv_tcp) into
 * a queue of up to EXCO_UV_TCP_ACCEPT_QUEUE per listener, from which
 * exco_uv_tcp_accept() hands them out; libuv then keeps watching and
 * accepts a burst in one go.  When the queue is full (or memory for the
 * object is short), the connection is left in libuv: that is the
 * backpressure while no coroutine accepts, and the next accept moves it
 * over.  Closing the listener closes the connections still queued.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "uv-internal.h"

static void exco__uv_tcp_close_cb(uv_handle_t *handle) {
  exco__uv_stream_free(handle->data);
  free(handle->data);
}

/* The hot fields fit in the object's first cache line. */
_Static_assert(offsetof(exco_uv_tcp, handle) <= 64,
               "exco_uv_tcp: hot fields over one cache line");

static exco_uv_tcp *exco__uv_tcp_new(uv_loop_t *loop) {
  exco_uv_tcp *t;

  /* Aligned, so that the hot fields share one cache line. */
  if (posix_memalign((void **)&t, 64, sizeof(*t)) != 0)
    return NULL;
  memset(t, 0, sizeof(*t));
  /* Without a family no socket is made yet: this can't fail. */
  uv_tcp_init(loop, &t->handle);
  t->handle.data = t;
  /* A connected socket keeps the loop alive only while a read waits on it
   * for a task whose executor doesn't (see stream.c); a listening one
   * gets its reference back in exco_uv_tcp_listen(). */
  uv_unref((uv_handle_t *)&t->handle);
  t->loop = loop;
  return t;
}

int exco_uv_tcp_close(exco_uv_tcp *t) {
  if (t == NULL)
    return EXCO_EINVAL;
  if (t->closing)
    return EXCO_EALREADY;
  t->closing = 1;
  exco__uv_stream_abort_read(t, EXCO_ECANCELED);
  /* Connections accepted that nobody took. */
  while (t->aq_head != NULL) {
    exco_uv_tcp *c = t->aq_head;

    t->aq_head = c->aq_next;
    exco_uv_tcp_close(c);
  }
  t->aq_tail = NULL;
  t->aq_len = 0;
  if (t->acceptor != NULL) {
    exco__uv_op *a = t->acceptor;

    t->acceptor = NULL;
    exco__uv_op_complete(a, EXCO_ECANCELED);
  }
  /* Pending writes and shutdowns get UV_ECANCELED from libuv. */
  uv_close((uv_handle_t *)&t->handle, exco__uv_tcp_close_cb);
  return 0;
}

uv_tcp_t *exco_uv_tcp_handle(exco_uv_tcp *t) {
  return t != NULL ? &t->handle : NULL;
}

int exco__uv_tcp_usable_slow(exco_uv_tcp *t, int listener, int *driven,
                             exco_executor *ex) {
  unsigned epoch = atomic_load_explicit(&exco__uv_epoch, memory_order_acquire);
  uv_loop_t *loop = exco__uv_executor_loop(ex, driven);

  if (loop == NULL)
    return EXCO_ENOTSUP;
  if (t->loop != loop)
    return EXCO_EINVAL;
  /* Only this driver's executors: their loop is theirs for life, and their
   * close moves the epoch.  An attached executor may be detached (or freed
   * without a word to us) and its address reused. */
  if (*driven) {
    t->ok_ex = ex;
    t->ok_epoch = epoch;
  }
  if (t->closing || t->listening != listener)
    return EXCO_EINVAL;
  return 0;
}

/* Common entry of the calls on an existing socket: a listening one when
 * @listener is 1 (accept), a connected one when 0. */
static int exco__uv_tcp_enter(exco_uv_tcp *t, uv_loop_t **loop, int listener) {
  int err;

  if (t == NULL)
    return EXCO_EINVAL;
  err = exco__uv_enter(loop);
  if (err != 0)
    return err;
  if (t->loop != *loop || t->closing || t->listening != listener)
    return EXCO_EINVAL;
  return 0;
}

/* Common entry of the calls that make a socket (connect, listen): checks
 * the arguments, then makes the object on the coroutine's loop. */
static int exco__uv_tcp_start(const struct sockaddr *addr, exco_uv_tcp **out,
                              exco_uv_tcp **t) {
  uv_loop_t *loop;
  int err;

  if (addr == NULL || out == NULL)
    return EXCO_EINVAL;
  err = exco__uv_enter(&loop);
  if (err != 0)
    return err;
  *t = exco__uv_tcp_new(loop);
  return *t != NULL ? 0 : EXCO_ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* Connect                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct exco__uv_connect {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_connect_t req;
} exco__uv_connect;

static void exco__uv_connect_cb(uv_connect_t *req, int status) {
  exco__uv_connect *c = exco__uv_container_of(req, exco__uv_connect, req);

  exco__uv_req_finish(&c->hdr, status);
}

int exco_uv_tcp_connect_timeout(const struct sockaddr *addr, exco_uv_tcp **out,
                                uint64_t timeout_ms) {
  exco__uv_connect *c;
  exco_uv_tcp *t;
  int err;

  err = exco__uv_tcp_start(addr, out, &t);
  if (err != 0)
    return err;
  c = exco__uv_req_alloc(sizeof(*c), NULL, &err);
  if (c != NULL)
    err = (int)exco__uv_req_result(
        &c->hdr, uv_tcp_connect(&c->req, &t->handle, addr, exco__uv_connect_cb),
        timeout_ms, NULL);
  if (err != 0) {
    /* After a failed wait, closing the socket makes libuv call the
     * connect callback with UV_ECANCELED, which frees the request. */
    exco_uv_tcp_close(t);
    return err;
  }
  *out = t;
  return 0;
}

int exco_uv_tcp_connect(const struct sockaddr *addr, exco_uv_tcp **out) {
  return exco_uv_tcp_connect_timeout(addr, out, EXCO__UV_NO_TIMEOUT);
}

/* ---------------------------------------------------------------------- */
/* Listen and accept                                                       */
/* ---------------------------------------------------------------------- */

/*
 * Takes the connection libuv holds for @server into the queue.  Returns 0;
 * EXCO_ENOMEM (the connection stays in libuv); or uv_accept()'s error
 * (recorded for the next accept).
 */
static int exco__uv_take_conn(exco_uv_tcp *server) {
  exco_uv_tcp *c = exco__uv_tcp_new(server->loop);
  int err;

  if (c == NULL)
    return EXCO_ENOMEM;
  err = uv_accept((uv_stream_t *)&server->handle, (uv_stream_t *)&c->handle);
  if (err != 0) {
    exco_uv_tcp_close(c);
    server->conn_err = err;
    return err;
  }
  if (server->aq_tail != NULL)
    server->aq_tail->aq_next = c;
  else
    server->aq_head = c;
  server->aq_tail = c;
  server->aq_len++;
  return 0;
}

/* Takes the first queued connection, and moves the one libuv holds (if
 * any) into the queue. */
static exco_uv_tcp *exco__uv_pop_conn(exco_uv_tcp *server) {
  exco_uv_tcp *c = server->aq_head;

  server->aq_head = c->aq_next;
  if (server->aq_head == NULL)
    server->aq_tail = NULL;
  server->aq_len--;
  c->aq_next = NULL;
  if (server->conn_ready) {
    server->conn_ready = 0;
    if (exco__uv_take_conn(server) == EXCO_ENOMEM)
      server->conn_ready = 1;
  }
  return c;
}

/* libuv has accepted a connection (or failed to). */
static void exco__uv_connection_cb(uv_stream_t *server, int status) {
  exco_uv_tcp *t = server->data;

  if (status < 0)
    t->conn_err = status;
  else if (t->aq_len >= EXCO_UV_TCP_ACCEPT_QUEUE ||
           exco__uv_take_conn(t) == EXCO_ENOMEM)
    t->conn_ready = 1; /* libuv stops watching until uv_accept() */
  if (t->acceptor != NULL) {
    exco__uv_op *a = t->acceptor;

    t->acceptor = NULL;
    exco__uv_op_complete(a, 0);
  }
}

int exco_uv_tcp_listen(const struct sockaddr *addr, int backlog,
                       exco_uv_tcp **out) {
  exco_uv_tcp *t;
  int err;

  err = exco__uv_tcp_start(addr, out, &t);
  if (err != 0)
    return err;
  err = uv_tcp_bind(&t->handle, addr, 0);
  if (err == 0)
    err = uv_listen((uv_stream_t *)&t->handle,
                    backlog > 0 ? backlog : SOMAXCONN, exco__uv_connection_cb);
  if (err != 0) {
    exco_uv_tcp_close(t);
    return err;
  }
  t->listening = 1;
  uv_ref((uv_handle_t *)&t->handle);
  *out = t;
  return 0;
}

/*
 * Waits until @server has a connection or an accept error to hand out.
 * A loop: another coroutine may take the connection we were woken for
 * before we run again.  The caller's deadline covers the whole loop, not
 * each wait.
 */
static int exco__uv_accept_wait(exco_uv_tcp *server) {
  while (server->aq_head == NULL && !server->conn_ready &&
         server->conn_err == 0) {
    exco__uv_op op;
    int err;

    if (server->acceptor != NULL)
      return EXCO_EBUSY;
    exco__uv_op_init(&op);
    server->acceptor = &op;
    err = exco__uv_op_wait(&op, EXCO__UV_NO_TIMEOUT);
    if (err != 0) {
      server->acceptor = NULL;
      return err;
    }
    if (op.result < 0)
      return (int)op.result; /* closed meanwhile: server is gone */
  }
  return 0;
}

int exco_uv_tcp_accept_timeout(exco_uv_tcp *server, exco_uv_tcp **out,
                               uint64_t timeout_ms) {
  exco_uv_tcp *c;
  uv_loop_t *loop;
  int64_t prev = EXCO_NO_DEADLINE;
  int err;

  if (out == NULL)
    return EXCO_EINVAL;
  err = exco__uv_tcp_enter(server, &loop, 1);
  if (err != 0)
    return err;
  /* One deadline for the call, however many waits it takes (0 still lets
   * a connection of this loop iteration through). */
  if (timeout_ms != EXCO__UV_NO_TIMEOUT)
    exco_deadline_after(timeout_ms, &prev);
  err = exco__uv_accept_wait(server);
  if (timeout_ms != EXCO__UV_NO_TIMEOUT)
    exco_deadline_set(prev, NULL);
  if (err != 0)
    return err;
  if (server->aq_head != NULL) {
    *out = exco__uv_pop_conn(server);
    return 0;
  }
  if (server->conn_err != 0) {
    err = server->conn_err;
    server->conn_err = 0;
    return err;
  }
  c = exco__uv_tcp_new(loop);
  if (c == NULL)
    return EXCO_ENOMEM; /* the connection stays queued in libuv */
  server->conn_ready = 0;
  err = uv_accept((uv_stream_t *)&server->handle, (uv_stream_t *)&c->handle);
  if (err != 0) {
    exco_uv_tcp_close(c);
    return err;
  }
  *out = c;
  return 0;
}

int exco_uv_tcp_accept(exco_uv_tcp *server, exco_uv_tcp **out) {
  return exco_uv_tcp_accept_timeout(server, out, EXCO__UV_NO_TIMEOUT);
}

/* ---------------------------------------------------------------------- */
/* Shutdown (read and write: stream.c)                                     */
/* ---------------------------------------------------------------------- */

int exco_uv_tcp_shutdown_timeout(exco_uv_tcp *t, uint64_t timeout_ms) {
  uv_loop_t *loop;
  int err;

  err = exco__uv_tcp_enter(t, &loop, 0);
  if (err != 0)
    return err;
  return exco__uv_stream_shutdown((uv_stream_t *)&t->handle, timeout_ms);
}

int exco_uv_tcp_shutdown(exco_uv_tcp *t) {
  return exco_uv_tcp_shutdown_timeout(t, EXCO__UV_NO_TIMEOUT);
}
