/*
 * uv-internal.h -- what the modules of libexco-uv share: the driver
 * (driver.c) and the awaitable operation and heap request helpers (op.c)
 * that every awaitable family (timer.c, fs.c, dns.c, stream.c, tcp.c,
 * udp.c, work.c, signal.c) is built on.
 *
 * Threading: everything below runs on the loop thread only (libuv
 * callbacks and the coroutines the driver polls there), so the operation
 * records need no atomics.
 */
#ifndef EXCO_UV_INTERNAL_H
#define EXCO_UV_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "exco/uv.h"

/* uv_signal_start_oneshot() is 1.12; uv_translate_sys_error() 1.10. */
#if UV_VERSION_HEX < 0x010c00
#error "libexco-uv needs libuv 1.12.0 or later"
#endif

#include <exco/driver.h>

typedef struct exco__uv_driver exco__uv_driver;

#define exco__uv_container_of(ptr, type, member)                               \
  ((type *)((char *)(ptr)-offsetof(type, member)))

#if defined(__GNUC__)
#define EXCO__UV_NOINLINE __attribute__((noinline))
#else
#define EXCO__UV_NOINLINE
#endif

/* "No deadline" for the internal functions behind the _timeout forms. */
#define EXCO__UV_NO_TIMEOUT EXCO_UV_NO_TIMEOUT

/* ---------------------------------------------------------------------- */
/* op.c: one awaitable operation                                           */
/* ---------------------------------------------------------------------- */

/*
 * The coroutine's side of one pending libuv operation.  The libuv callback
 * calls exco__uv_op_complete(); the coroutine waits in exco__uv_op_wait().
 * Where the record lives depends on the family: on the coroutine's stack
 * when libuv never sees its address (stream reads, accepts), inside the
 * heap record of a request (exco__uv_req below) or handle otherwise.
 */
typedef struct exco__uv_op {
  exco_waker *waker; /* a clone, taken when the first poll finds it pending */
  ssize_t result;    /* set with done */
  int done;          /* the operation completed: result is valid */
} exco__uv_op;

/*
 * Entry check of every awaitable: in a coroutine (EXCO_EPERM), not
 * cancelled (EXCO_ECANCELED), on an executor with a loop (EXCO_ENOTSUP).
 * On 0, *loop is the loop.
 */
int exco__uv_enter(uv_loop_t **loop);

/*
 * The loop of the running coroutine's executor (NULL if it has none).
 * *@driven is 1 when that executor is this driver's own (made by
 * exco_uv_init() or exco_uv_executor_new()): its live tasks keep the loop
 * running by themselves (the keepalive op), so a handle a task waits on
 * need not be referenced too.  0 for an executor attached with
 * exco_uv_attach().
 */
uv_loop_t *exco__uv_current_loop(int *driven);

/*
 * exco__uv_current_loop() for @ex, the running coroutine's executor.
 */
uv_loop_t *exco__uv_executor_loop(exco_executor *ex, int *driven);

/*
 * Counts the closes of this driver's executors (and the replacements of
 * the default executor's driver, which close the old one).  An executor
 * of this driver runs on one loop for its whole life, so a socket may
 * remember the last one it found on its loop (exco__uv_tcp_usable()) for
 * as long as this count has not moved: the address could otherwise be
 * reused by another executor.
 */
extern atomic_uint exco__uv_epoch;

/*
 * exco__uv_enter(), then malloc(@size) for the operation's record.
 * Returns the record, or NULL with the error in *@err (exco__uv_enter()'s
 * or EXCO_ENOMEM).
 */
void *exco__uv_enter_alloc(uv_loop_t **loop, size_t size, int *err);

static inline void exco__uv_op_init(exco__uv_op *op) {
  op->waker = NULL;
  op->result = 0;
  op->done = 0;
}

/* From a libuv callback: records @result and wakes the waiting coroutine.
 * A second completion is ignored. */
void exco__uv_op_complete(exco__uv_op *op, ssize_t result);

/*
 * Waits until @op completes, the task's deadline or @timeout_ms (unless
 * EXCO__UV_NO_TIMEOUT) passes, or the task is cancelled.  The timeout is
 * the core's deadline mechanism (exco_deadline_after() for the wait), so
 * it allocates nothing and can't fail once a request is submitted.
 * Returns 0 when done (the result is in op->result; done wins over a
 * cancellation or deadline seen at the same time); otherwise
 * EXCO_ETIMEDOUT (UV_ETIMEDOUT) or EXCO_ECANCELED, and the caller must
 * withdraw the operation (its callback may still come).  The waker is
 * dropped before returning.
 */
int exco__uv_op_wait(exco__uv_op *op, uint64_t timeout_ms);

/* A uv_close_cb that free()s the handle (for handles allocated alone). */
void exco__uv_free_on_close(uv_handle_t *handle);

/* ---------------------------------------------------------------------- */
/* op.c: heap requests                                                     */
/* ---------------------------------------------------------------------- */

/*
 * The header of the heap record of every awaitable whose libuv request
 * may outlive the call (thread-pool jobs, connects, writes, shutdowns,
 * sends): the first member of each such record, which also holds the
 * libuv request and whatever the family needs.  Its life:
 *
 *   1. exco__uv_req_alloc() mallocs the record and sets up the header;
 *   2. the family submits the libuv request and hands the submit call's
 *      return to exco__uv_req_submitted(), which waits;
 *   3. the request's callback calls exco__uv_req_done() (or
 *      exco__uv_req_finish());
 *   4. whoever is left with the record releases it: the caller once the
 *      wait succeeded and it has taken the result, exco__uv_req_submitted()
 *      if the submit failed, the callback if the caller abandoned the
 *      record (MEMORY RULE in exco/uv.h: the cancelled coroutine never
 *      frees what libuv may still use).
 */
typedef struct exco__uv_req exco__uv_req;

struct exco__uv_req {
  exco__uv_op op;
  int abandoned; /* the wait failed: the callback owns the record */
  /* Frees the record (free() when NULL), e.g. after a cleanup of the
   * libuv request. */
  void (*release)(exco__uv_req *r);
};

/*
 * Allocates a record of @size bytes whose first member is an exco__uv_req
 * and sets up that header (release NULL: plain free()).  When @loop is not
 * NULL the awaitable's entry check comes first (exco__uv_enter_alloc()
 * then); NULL is for callers that have done it already.  Returns the
 * record, or NULL with the error in *@err.
 */
void *exco__uv_req_alloc(size_t size, uv_loop_t **loop, int *err);

/* Frees the record of @r through its release function. */
void exco__uv_req_release(exco__uv_req *r);

/*
 * Waits for the request of @r, which was just submitted with the result
 * @submitted (the libuv call's return).  If that is an error, releases @r
 * and returns it.  Otherwise waits (exco__uv_op_wait()); 0: done, the
 * result is in r->op.result and the caller releases @r.  Else the wait's
 * error, and @r is abandoned to the request's callback: @cancel, unless
 * NULL, is uv_cancel()ed (a thread-pool job still queued then ends at once
 * with UV_ECANCELED; other requests end by themselves or when their handle
 * is closed).
 */
int exco__uv_req_submitted(exco__uv_req *r, int submitted, uint64_t timeout_ms,
                           uv_req_t *cancel);

/*
 * exco__uv_req_submitted() for requests whose result is all the caller
 * needs: returns the wait's error or the request's result, and @r is
 * released or abandoned either way.
 */
ssize_t exco__uv_req_result(exco__uv_req *r, int submitted, uint64_t timeout_ms,
                            uv_req_t *cancel);

/*
 * From the request's callback: completes the operation with @result and
 * returns 0 while the caller waits.  Returns 1 if the caller abandoned
 * @r: the callback then undoes what the late result holds (a file that
 * was opened, memory that was allocated) and calls
 * exco__uv_req_release().
 */
int exco__uv_req_done(exco__uv_req *r, ssize_t result);

/* exco__uv_req_done() for requests whose late result holds nothing:
 * releases @r itself when it was abandoned. */
void exco__uv_req_finish(exco__uv_req *r, ssize_t result);

/* ---------------------------------------------------------------------- */
/* tcp.c / stream.c: the TCP object                                        */
/* ---------------------------------------------------------------------- */

/* A read, on its coroutine's stack (see stream.c). */
typedef struct exco__uv_read_op {
  exco__uv_op op; /* done only by a close: the socket may be gone then */
  exco_uv_tcp *t;
  char *buf;
  size_t len;
  int waiting; /* hooked to t as its reader: the first poll found nothing */
} exco__uv_read_op;

/* The most a read hands libuv at once (rd_len, rd_result). */
#define EXCO__UV_READ_MAX 0x40000000u

/*
 * The object is allocated 64-byte aligned, and what every read and write
 * of a connected socket touches besides libuv's handle is in its first
 * cache line (hot), the rest after the handle (cold).
 */
struct exco_uv_tcp {
  /* Hot. */
  exco_executor *ok_ex;     /* see exco__uv_tcp_usable() */
  exco__uv_read_op *reader; /* the waiting read, on its coroutine's stack */
  char *rd_buf;             /* the waiting read's buffer */
  exco_waker *rd_waker;     /* its waker (the read drops it) */
  uint32_t rd_len;          /* its length, at most EXCO__UV_READ_MAX */
  int32_t rd_result;        /* the read's result, once rd_done */
  uint32_t rstart, rend;    /* the bytes buffered: rbuf[rstart, rend) */
  int32_t read_err;         /* UV_EOF or a read error libuv reported, to be
                               returned once rbuf is drained, else 0 */
  unsigned ok_epoch;        /* see exco__uv_tcp_usable() */
  unsigned char closing;    /* exco_uv_tcp_close() was called */
  unsigned char listening;
  unsigned char reading;    /* uv_read_start() is in effect */
  unsigned char rd_done;    /* the waiting read has its result */
  unsigned char rd_ref;     /* the handle is referenced for that read */
  unsigned char rd_filled;  /* a read just filled the reader's buffer */
  unsigned char rd_skipped; /* so libuv's next read was given no buffer */
  /* Cold. */
  uv_tcp_t handle; /* handle.data points back here */
  uv_loop_t *loop;
  char *rbuf; /* EXCO_UV_TCP_READ_BUFFER bytes, or NULL */
  /* Listening sockets (see tcp.c). */
  int conn_ready;        /* libuv holds a connection for uv_accept */
  int conn_err;          /* an accept error to report, else 0 */
  exco__uv_op *acceptor; /* the waiting accept, on its stack */
  exco_uv_tcp *aq_head;  /* connections accepted, not handed out yet */
  exco_uv_tcp *aq_tail;
  unsigned aq_len;
  /* An accepted connection: the next one in its listener's queue. */
  exco_uv_tcp *aq_next;
};

/* exco__uv_tcp_usable() when the socket's cache doesn't answer. */
int exco__uv_tcp_usable_slow(exco_uv_tcp *t, int listener, int *driven,
                             exco_executor *ex);

/*
 * The checks of a call on an existing socket that come after exco_await()'s
 * own (in a coroutine, not cancelled): the running executor has a loop
 * (else EXCO_ENOTSUP), @t is of that loop, is not being closed, and is a
 * listening socket when @listener is 1, a connected one when 0 (else
 * EXCO_EINVAL).  On 0, *@driven is as exco__uv_current_loop() says.  The
 * executor is looked up once per socket and executor (tcp.c).
 */
static inline int exco__uv_tcp_usable(exco_uv_tcp *t, int listener,
                                      int *driven) {
  exco_executor *ex = exco_current_executor();

  if (ex != t->ok_ex ||
      t->ok_epoch !=
          atomic_load_explicit(&exco__uv_epoch, memory_order_acquire))
    return exco__uv_tcp_usable_slow(t, listener, driven, ex);
  *driven = 1;
  if (t->closing || t->listening != listener)
    return EXCO_EINVAL;
  return 0;
}

/* stream.c */
int exco__uv_stream_shutdown(uv_stream_t *s, uint64_t timeout_ms);
/* Ends a waiting read with @result (close). */
void exco__uv_stream_abort_read(exco_uv_tcp *t, ssize_t result);
/* Frees the read buffer (the socket's close callback). */
void exco__uv_stream_free(exco_uv_tcp *t);

#endif
