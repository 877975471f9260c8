/*
 * test-uv-read.c -- the read buffer of connected exco_uv_tcp sockets
 * (drivers/uv/stream.c, "Buffering" at exco_uv_tcp_read() in
 * include/exco/uv.h), on real sockets over 127.0.0.1:
 *
 *   - bytes that arrive while no read waits are taken out of the kernel,
 *     kept, and returned in order by reads that don't suspend;
 *   - a read whose buffer the bytes fill exactly leaves the rest for the
 *     next poll, which still takes it (nothing stalls in the kernel);
 *   - a full buffer stops reading (the rest waits in the kernel and the
 *     writer blocks), and reading starts again once reads drained it to
 *     half;
 *   - end of stream and a read error come after the buffered bytes;
 *   - a read that timed out or was cancelled loses nothing that arrives
 *     afterwards;
 *   - closing a socket that holds buffered bytes (or a full buffer) frees
 *     everything (the loop closes with no handle left; valgrind sees no
 *     leak).
 *
 * White-box where the contract says "in the kernel" or "buffered": the
 * test looks at the socket's buffer fields (uv-internal.h) and the
 * kernel's receive queue (FIONREAD).  Waiting for the loop to move bytes
 * is a bounded loop of yields (each lets the loop poll for I/O once), not
 * a sleep.
 *
 * Coroutines record results in plain variables; asserts come after
 * uv_run() returns.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"
#include "uv-internal.h"

/* Yields before a condition of the loop's counts as never met. */
#define SPINS 100000

#define RBUF ((size_t)EXCO_UV_TCP_READ_BUFFER)

/* A connected pair: client -> conn (the side under test). */
typedef struct pair {
  exco_uv_tcp *server, *client, *conn;
} pair;

static int pair_open(pair *p) {
  struct sockaddr_in addr;
  int err;

  memset(p, 0, sizeof(*p));
  err = h_uv_listen_any(&p->server, &addr, 16);
  if (err == 0)
    err = exco_uv_tcp_connect((struct sockaddr *)&addr, &p->client);
  if (err == 0)
    err = exco_uv_tcp_accept(p->server, &p->conn);
  if (p->server != NULL)
    exco_uv_tcp_close(p->server);
  p->server = NULL;
  return err;
}

static void pair_close(pair *p) {
  if (p->client != NULL)
    exco_uv_tcp_close(p->client);
  if (p->conn != NULL)
    exco_uv_tcp_close(p->conn);
  p->client = p->conn = NULL;
}

static size_t buffered(const exco_uv_tcp *t) {
  return t->rend - t->rstart;
}

/* Bytes of @t in the kernel's receive queue, or -1. */
static int in_kernel(exco_uv_tcp *t) {
  uv_os_fd_t fd;
  int n = -1;

  if (uv_fileno((uv_handle_t *)exco_uv_tcp_handle(t), &fd) != 0 ||
      ioctl(fd, FIONREAD, &n) != 0)
    return -1;
  return n;
}

/* Attaches a reader to @p->conn: one byte written and read back. */
static int attach(pair *p) {
  char c;
  ssize_t n;
  int err = exco_uv_tcp_write(p->client, "!", 1);

  if (err != 0)
    return err;
  n = exco_uv_tcp_read(p->conn, &c, 1);
  return n == 1 && c == '!' ? 0 : n < 0 ? (int)n : -9999;
}

/* The test pattern: byte @i of a stream. */
static char pat(size_t i) {
  return (char)(i % 251);
}

static void fill(char *buf, size_t from, size_t len) {
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = pat(from + i);
}

/* 1 if @buf holds bytes @from.. of the pattern. */
static int matches(const char *buf, size_t from, size_t len) {
  size_t i;

  for (i = 0; i < len; i++)
    if (buf[i] != pat(from + i))
      return 0;
  return 1;
}

/* Counts its polls until told to stop: a read that never suspends does
 * not let it run. */
static long ticks;
static int ticker_stop;

static void *ticker(void *arg) {
  (void)arg;
  while (!ticker_stop) {
    ticks++;
    if (exco_yield() != 0)
      break;
  }
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Bytes that arrive between reads are kept, in order                     */
/* ---------------------------------------------------------------------- */

#define A_TOTAL 3000

static struct {
  int setup;
  int moved;           /* the bytes left the kernel with no read waiting */
  int kernel_after;    /* FIONREAD then */
  long buffered_after; /* our buffer then */
  int in_order;        /* the small reads returned them in order */
  long total;
  long ticks_during; /* polls of the ticker during the small reads */
  ssize_t direct;    /* a large read that waits, then gets "direct" */
  int direct_ok;
} ra;

/* Writes @s to @p->client once a read waits on @p->conn (so that the
 * bytes go straight into the reader's buffer). */
static void write_when_read(pair *p, const char *s) {
  int i;

  for (i = 0; i < SPINS && p->conn->reader == NULL; i++)
    exco_yield();
  (void)exco_uv_tcp_write(p->client, s, strlen(s));
}

static void *late_writer(void *arg) {
  write_when_read(arg, "direct");
  return NULL;
}

static void *ra_main(void *arg) {
  static char big[65536];
  char chunk[A_TOTAL], small[7];
  exco_task *tick, *late;
  size_t got = 0;
  long t0;
  ssize_t n;
  pair p;
  int i;

  (void)arg;
  if (pair_open(&p) != 0 || attach(&p) != 0)
    goto out;
  ra.setup = 1;
  /* Three writes while nobody reads. */
  fill(chunk, 0, A_TOTAL);
  if (exco_uv_tcp_write(p.client, chunk, 1000) != 0 ||
      exco_uv_tcp_write(p.client, chunk + 1000, 1500) != 0 ||
      exco_uv_tcp_write(p.client, chunk + 2500, 500) != 0)
    goto out;
  for (i = 0; i < SPINS && buffered(p.conn) < A_TOTAL; i++)
    exco_yield();
  ra.moved = buffered(p.conn) == A_TOTAL;
  ra.kernel_after = in_kernel(p.conn);
  ra.buffered_after = (long)buffered(p.conn);
  /* Reads of 7 bytes take them from the buffer without suspending. */
  ticker_stop = 0;
  ticks = 0;
  if (exco_spawn(NULL, ticker, NULL, NULL, &tick) != 0)
    goto out;
  exco_yield(); /* the ticker starts */
  t0 = ticks;
  ra.in_order = 1;
  while (got < A_TOTAL) {
    n = exco_uv_tcp_read(p.conn, small, sizeof(small));
    if (n <= 0 || !matches(small, got, (size_t)n)) {
      ra.in_order = 0;
      break;
    }
    got += (size_t)n;
  }
  ra.ticks_during = ticks - t0;
  ra.total = (long)got;
  ticker_stop = 1;
  exco_join(tick, NULL);
  exco_task_release(tick);
  /* A large read that waits on an empty buffer. */
  if (exco_spawn(NULL, late_writer, &p, NULL, &late) == 0) {
    ra.direct = exco_uv_tcp_read(p.conn, big, sizeof(big));
    ra.direct_ok = ra.direct == 6 && memcmp(big, "direct", 6) == 0;
    exco_join(late, NULL);
    exco_task_release(late);
  }
out:
  pair_close(&p);
  return NULL;
}

START_TEST(read_keeps_bytes_between_reads) {
  memset(&ra, 0, sizeof(ra));
  tl_run_one(ra_main, NULL);
  ck_assert_int_eq(ra.setup, 1);
  ck_assert_msg(ra.moved,
                "bytes that arrived with no read waiting stayed "
                "in the kernel (%ld of %d buffered)",
                ra.buffered_after, A_TOTAL);
  ck_assert_int_eq(ra.kernel_after, 0);
  ck_assert_int_eq(ra.in_order, 1);
  ck_assert_int_eq(ra.total, A_TOTAL);
  ck_assert_int_eq(ra.ticks_during, 0);
  ck_assert_int_eq(ra.direct, 6);
  ck_assert_int_eq(ra.direct_ok, 1);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A read filled exactly: the rest is taken at the next poll               */
/* ---------------------------------------------------------------------- */

static struct {
  int setup;
  ssize_t first; /* a 4-byte read of "0123456789" */
  int first_ok;
  long rest;  /* buffered afterwards, with no read waiting */
  int kernel; /* left in the kernel then */
  ssize_t second;
  int second_ok;
} rx;

static void *rx_writer(void *arg) {
  write_when_read(arg, "0123456789");
  return NULL;
}

static void *rx_main(void *arg) {
  exco_task *wt;
  char buf[16];
  pair p;
  int i;

  (void)arg;
  if (pair_open(&p) != 0 || attach(&p) != 0 ||
      exco_spawn(NULL, rx_writer, &p, NULL, &wt) != 0)
    goto out;
  rx.setup = 1;
  rx.first = exco_uv_tcp_read(p.conn, buf, 4);
  rx.first_ok = rx.first == 4 && memcmp(buf, "0123", 4) == 0;
  exco_join(wt, NULL);
  exco_task_release(wt);
  for (i = 0; i < SPINS && buffered(p.conn) < 6; i++)
    exco_yield();
  rx.rest = (long)buffered(p.conn);
  rx.kernel = in_kernel(p.conn);
  rx.second = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
  rx.second_ok = rx.second == 6 && memcmp(buf, "456789", 6) == 0;
out:
  pair_close(&p);
  return NULL;
}

START_TEST(read_filled_exactly_leaves_rest) {
  memset(&rx, 0, sizeof(rx));
  tl_run_one(rx_main, NULL);
  ck_assert_int_eq(rx.setup, 1);
  ck_assert_int_eq(rx.first, 4);
  ck_assert_int_eq(rx.first_ok, 1);
  ck_assert_int_eq(rx.rest, 6);
  ck_assert_int_eq(rx.kernel, 0);
  ck_assert_int_eq(rx.second, 6);
  ck_assert_int_eq(rx.second_ok, 1);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Backpressure: a full buffer stops reading; half drained resumes it     */
/* ---------------------------------------------------------------------- */

/* More than the kernel's buffers on both sides can hold. */
#define B_TOTAL (16 * 1024 * 1024)

typedef struct bwriter {
  exco_uv_tcp *client;
  int err;
  int done;
} bwriter;

static void *b_write(void *arg) {
  bwriter *w = arg;
  char *data = malloc(B_TOTAL);

  if (data == NULL) {
    w->err = EXCO_ENOMEM;
  } else {
    fill(data, 0, B_TOTAL);
    w->err = exco_uv_tcp_write(w->client, data, B_TOTAL);
    free(data);
  }
  w->done = 1;
  return NULL;
}

static struct {
  int setup;
  int stopped;     /* reading stopped */
  long full;       /* bytes buffered then */
  int kernel_full; /* bytes in the kernel then (> 0) */
  int writer_done; /* the writer had finished then (must not) */
  long still_full; /* buffered after more loop iterations */
  int still_stop;  /* reading still stopped then */
  int resumed;     /* reading resumed, at half */
  long resumed_at; /* bytes buffered after that read */
  int in_order;
  long total;
  int werr;
} rb;

static void *rb_main(void *arg) {
  static char buf[4096];
  bwriter w = {NULL, 1, 0};
  exco_task *wt;
  size_t got = 0;
  ssize_t n;
  pair p;
  int i;

  (void)arg;
  if (pair_open(&p) != 0 || attach(&p) != 0)
    goto out;
  w.client = p.client;
  if (exco_spawn(NULL, b_write, &w, NULL, &wt) != 0)
    goto out;
  rb.setup = 1;
  for (i = 0; i < SPINS && p.conn->reading; i++)
    exco_yield();
  rb.stopped = !p.conn->reading;
  rb.full = (long)buffered(p.conn);
  rb.kernel_full = in_kernel(p.conn);
  rb.writer_done = w.done;
  /* More loop iterations change nothing while nobody reads. */
  for (i = 0; i < 100; i++)
    exco_yield();
  rb.still_full = (long)buffered(p.conn);
  rb.still_stop = !p.conn->reading;
  /* Read in 4 KiB pieces: reading stays stopped down to half. */
  rb.in_order = 1;
  while (got < B_TOTAL) {
    n = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
    if (n <= 0 || !matches(buf, got, (size_t)n)) {
      rb.in_order = 0;
      break;
    }
    got += (size_t)n;
    if (!rb.resumed && p.conn->reading) {
      rb.resumed = 1;
      rb.resumed_at = (long)buffered(p.conn);
    }
  }
  rb.total = (long)got;
  exco_join(wt, NULL);
  exco_task_release(wt);
  rb.werr = w.err;
out:
  pair_close(&p);
  return NULL;
}

START_TEST(read_backpressure) {
  memset(&rb, 0, sizeof(rb));
  tl_run_one(rb_main, NULL);
  ck_assert_int_eq(rb.setup, 1);
  ck_assert_int_eq(rb.stopped, 1);
  ck_assert_int_eq(rb.full, (long)RBUF);
  ck_assert_int_gt(rb.kernel_full, 0);
  ck_assert_int_eq(rb.writer_done, 0);
  ck_assert_int_eq(rb.still_full, (long)RBUF);
  ck_assert_int_eq(rb.still_stop, 1);
  ck_assert_int_eq(rb.resumed, 1);
  ck_assert_int_le(rb.resumed_at, (long)(RBUF / 2));
  ck_assert_int_gt(rb.resumed_at, (long)(RBUF / 2) - 4096);
  ck_assert_int_eq(rb.in_order, 1);
  ck_assert_int_eq(rb.total, B_TOTAL);
  ck_assert_int_eq(rb.werr, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* End of stream and errors come after the buffered bytes                 */
/* ---------------------------------------------------------------------- */

static struct {
  int setup;
  long held;        /* bytes buffered when the end was seen */
  ssize_t end_seen; /* what libuv reported (recorded, not returned yet) */
  ssize_t r1, r2, r3, r4;
  int data_ok;
} re;

/* @rst: end with a reset instead of a shutdown. */
static void *re_main(void *arg) {
  int rst = *(int *)arg;
  struct linger lg = {1, 0};
  char buf[64];
  uv_os_fd_t fd;
  pair p;
  int i;

  if (pair_open(&p) != 0 || attach(&p) != 0 ||
      exco_uv_tcp_write(p.client, "abc", 3) != 0)
    goto out;
  /* The bytes are ours before the end comes. */
  for (i = 0; i < SPINS && buffered(p.conn) < 3; i++)
    exco_yield();
  if (rst) {
    if (uv_fileno((uv_handle_t *)exco_uv_tcp_handle(p.client), &fd) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
      goto out;
    exco_uv_tcp_close(p.client);
    p.client = NULL;
  } else if (exco_uv_tcp_shutdown(p.client) != 0) {
    goto out;
  }
  re.setup = 1;
  for (i = 0; i < SPINS && p.conn->read_err == 0; i++)
    exco_yield();
  re.held = (long)buffered(p.conn);
  re.end_seen = p.conn->read_err;
  re.r1 = exco_uv_tcp_read(p.conn, buf, 2);
  re.data_ok = re.r1 == 2 && memcmp(buf, "ab", 2) == 0;
  re.r2 = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
  re.data_ok = re.data_ok && re.r2 == 1 && buf[0] == 'c';
  re.r3 = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
  re.r4 = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
out:
  pair_close(&p);
  return NULL;
}

START_TEST(read_eof_after_buffered) {
  int rst = 0;

  memset(&re, 0, sizeof(re));
  tl_run_one(re_main, &rst);
  ck_assert_int_eq(re.setup, 1);
  ck_assert_int_eq(re.end_seen, UV_EOF);
  ck_assert_int_eq(re.held, 3);
  ck_assert_int_eq(re.r1, 2);
  ck_assert_int_eq(re.r2, 1);
  ck_assert_int_eq(re.data_ok, 1);
  ck_assert_int_eq(re.r3, UV_EOF);
  ck_assert_int_eq(re.r4, UV_EOF);
}
END_TEST

START_TEST(read_error_after_buffered) {
  int rst = 1;

  memset(&re, 0, sizeof(re));
  tl_run_one(re_main, &rst);
  ck_assert_int_eq(re.setup, 1);
  ck_assert_int_eq(re.end_seen, UV_ECONNRESET);
  ck_assert_int_eq(re.held, 3);
  ck_assert_int_eq(re.r1, 2);
  ck_assert_int_eq(re.r2, 1);
  ck_assert_int_eq(re.data_ok, 1);
  ck_assert_int_eq(re.r3, UV_ECONNRESET);
  ck_assert_int_eq(re.r4, UV_ECONNRESET);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A read that gave up loses nothing                                       */
/* ---------------------------------------------------------------------- */

static struct {
  int setup;
  ssize_t timed_out;
  long after_timeout; /* buffered once "late" was written */
  ssize_t late;
  int late_ok;
  ssize_t cancelled;
  long after_cancel;
  ssize_t later;
  int later_ok;
} rg;

static void *rg_reader(void *arg) {
  pair *p = arg;
  char buf[16];

  rg.cancelled = exco_uv_tcp_read(p->conn, buf, sizeof(buf));
  return NULL;
}

static void *rg_main(void *arg) {
  exco_task *rt;
  char buf[16];
  pair p;
  int i;

  (void)arg;
  if (pair_open(&p) != 0 || attach(&p) != 0)
    goto out;
  rg.setup = 1;
  rg.timed_out = exco_uv_tcp_read_timeout(p.conn, buf, sizeof(buf), 5);
  if (exco_uv_tcp_write(p.client, "late", 4) != 0)
    goto out;
  for (i = 0; i < SPINS && buffered(p.conn) < 4; i++)
    exco_yield();
  rg.after_timeout = (long)buffered(p.conn);
  rg.late = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
  rg.late_ok = rg.late == 4 && memcmp(buf, "late", 4) == 0;
  /* The same after a cancelled read. */
  if (exco_spawn(NULL, rg_reader, &p, NULL, &rt) != 0)
    goto out;
  for (i = 0; i < SPINS && p.conn->reader == NULL; i++)
    exco_yield();
  exco_task_cancel(rt);
  exco_join(rt, NULL);
  exco_task_release(rt);
  if (exco_uv_tcp_write(p.client, "later", 5) != 0)
    goto out;
  for (i = 0; i < SPINS && buffered(p.conn) < 5; i++)
    exco_yield();
  rg.after_cancel = (long)buffered(p.conn);
  rg.later = exco_uv_tcp_read(p.conn, buf, sizeof(buf));
  rg.later_ok = rg.later == 5 && memcmp(buf, "later", 5) == 0;
out:
  pair_close(&p);
  return NULL;
}

START_TEST(read_given_up_loses_nothing) {
  memset(&rg, 0, sizeof(rg));
  tl_run_one(rg_main, NULL);
  ck_assert_int_eq(rg.setup, 1);
  ck_assert_int_eq(rg.timed_out, UV_ETIMEDOUT);
  ck_assert_int_eq(rg.after_timeout, 4);
  ck_assert_int_eq(rg.late, 4);
  ck_assert_int_eq(rg.late_ok, 1);
  ck_assert_int_eq(rg.cancelled, EXCO_ECANCELED);
  ck_assert_int_eq(rg.after_cancel, 5);
  ck_assert_int_eq(rg.later, 5);
  ck_assert_int_eq(rg.later_ok, 1);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Closing with bytes buffered frees them                                  */
/* ---------------------------------------------------------------------- */

static struct {
  int setup;
  long held;    /* a partly filled buffer */
  int full;     /* a full buffer, reading stopped */
  int werr;     /* the blocked writer's result once both ends closed */
  int handles0; /* handles on the loop before the sockets */
  int handles;  /* and after they were closed */
  int wdone;
} rc;

static void *rc_main(void *arg) {
  bwriter w = {NULL, 1, 0};
  exco_task *wt;
  char data[1000];
  pair p, q;
  int i;

  (void)arg;
  memset(&q, 0, sizeof(q));
  rc.handles0 = h_uv_handles(exco_uv_loop());
  if (pair_open(&p) != 0 || attach(&p) != 0)
    goto out;
  fill(data, 0, sizeof(data));
  if (exco_uv_tcp_write(p.client, data, sizeof(data)) != 0)
    goto out;
  for (i = 0; i < SPINS && buffered(p.conn) < sizeof(data); i++)
    exco_yield();
  rc.held = (long)buffered(p.conn);
  pair_close(&p);
  /* A full buffer with a writer blocked behind it. */
  if (pair_open(&q) != 0 || attach(&q) != 0)
    goto out;
  w.client = q.client;
  if (exco_spawn(NULL, b_write, &w, NULL, &wt) != 0) {
    pair_close(&q);
    goto out;
  }
  for (i = 0; i < SPINS && q.conn->reading; i++)
    exco_yield();
  rc.full = !q.conn->reading && buffered(q.conn) == RBUF;
  rc.setup = 1;
  pair_close(&q);
  exco_join(wt, NULL);
  exco_task_release(wt);
  rc.werr = w.err;
  rc.wdone = w.done;
  /* The close callbacks run as the loop turns. */
  for (i = 0; i < SPINS && h_uv_handles(exco_uv_loop()) > rc.handles0; i++)
    exco_yield();
  rc.handles = h_uv_handles(exco_uv_loop());
out:
  pair_close(&p);
  pair_close(&q);
  return NULL;
}

START_TEST(read_close_with_buffered) {
  memset(&rc, 0, sizeof(rc));
  tl_run_one(rc_main, NULL);
  ck_assert_int_eq(rc.setup, 1);
  ck_assert_int_eq(rc.held, 1000);
  ck_assert_int_eq(rc.full, 1);
  ck_assert_int_eq(rc.wdone, 1);
  /* Closed under the pending write: libuv cancels it. */
  ck_assert_int_eq(rc.werr, UV_ECANCELED);
  ck_assert_int_gt(rc.handles0, 0);
  ck_assert_int_eq(rc.handles, rc.handles0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-read");
  TCase *tc = h_tcase("read", 120);

  tcase_add_test(tc, read_keeps_bytes_between_reads);
  tcase_add_test(tc, read_filled_exactly_leaves_rest);
  tcase_add_test(tc, read_backpressure);
  tcase_add_test(tc, read_eof_after_buffered);
  tcase_add_test(tc, read_error_after_buffered);
  tcase_add_test(tc, read_given_up_loses_nothing);
  tcase_add_test(tc, read_close_with_buffered);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
