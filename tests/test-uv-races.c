/*
 * test-uv-races.c -- regression tests for bugs found by reviewing the
 * libuv driver and its awaitables (drivers/uv/), each against the contract
 * in include/exco/uv.h (each failed before its fix):
 *
 *   - a deadline timer that can't be allocated after the request was
 *     submitted made the call return EXCO_ENOMEM although the request
 *     went on.  Deadlines are now the core's timers, which allocate
 *     nothing, and the test checks exactly that: a _timeout form
 *     allocates what its plain form does;
 *   - exco_uv_tcp_accept_timeout() re-arms a full timeout every time
 *     another coroutine takes the connection it was woken for, so its
 *     deadline can be exceeded without bound;
 *   - a connected socket that was read from once stays "reading" (an
 *     active, referenced handle), so uv_run() does not return after every
 *     task finished while the socket is kept open;
 *   - plus contract checks that pass: every awaitable outside a
 *     coroutine returns EXCO_EPERM or EXCO_EINVAL instead of crashing.
 *
 * The allocation count needs the driver's malloc() wrapped: link with
 * -Wl,--wrap=malloc against the static libraries (the test defines
 * __wrap_malloc; tests/local.mk does this); without it the test is
 * skipped (see H_WRAPPED_MALLOC below).
 *
 * Coroutines record results in plain variables; asserts come after
 * uv_run() returns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"

/* ---------------------------------------------------------------------- */
/* A malloc that fails on demand (with -Wl,--wrap=malloc)                   */
/* ---------------------------------------------------------------------- */

#ifdef H_WRAPPED_MALLOC
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

/* While set, every malloc is counted. */
static atomic_int count_mallocs;
static atomic_long mallocs;

void *__wrap_malloc(size_t size) {
  if (atomic_load(&count_mallocs))
    atomic_fetch_add(&mallocs, 1);
  return __real_malloc(size);
}
#endif

/* ---------------------------------------------------------------------- */
/* No EXCO_ENOMEM after a request was submitted                            */
/* ---------------------------------------------------------------------- */

/*
 * A call must not fail for want of memory once it has handed work to
 * libuv (the work would go on while the caller is told it still owns its
 * arguments).  The one allocation that used to come after submission was
 * the deadline's timer; deadlines are now the core's timers, which live
 * in the waiting frame.  So a _timeout form allocates exactly what its
 * plain form does: counted here for a thread-pool job and an fs request.
 */
#ifdef H_WRAPPED_MALLOC
static void work_fn(void *p) {
  atomic_fetch_add((atomic_int *)p, 1);
}

static long counted[4];
static int counted_err[4];

static void *count_body(void *p) {
  atomic_int *ran = p;
  int fd, i;

  (void)p;
  for (i = 0; i < 4; i++) {
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    atomic_store(&mallocs, 0);
    atomic_store(&count_mallocs, 1);
    switch (i) {
    case 0:
      counted_err[i] = exco_uv_work(work_fn, ran, NULL);
      break;
    case 1:
      counted_err[i] = exco_uv_work_timeout(work_fn, ran, NULL, 10000);
      break;
    case 2:
      counted_err[i] = exco_uv_fs_close(fd);
      break;
    default:
      counted_err[i] = exco_uv_fs_close_timeout(fd, 10000);
      break;
    }
    atomic_store(&count_mallocs, 0);
    counted[i] = atomic_load(&mallocs);
    if (i < 2)
      close(fd);
  }
  return NULL;
}

START_TEST(timeout_allocates_nothing_more) {
  atomic_int ran;
  tloop t;
  int i;

  atomic_init(&ran, 0);
  tl_init(&t);
  tl_spawn(&t, count_body, &ran, NULL);
  tl_run(&t);
  tl_fini(&t);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(counted_err[i], 0);
  ck_assert_int_eq(atomic_load(&ran), 2);
  ck_assert_int_gt(counted[0], 0);
  ck_assert_int_eq(counted[1], counted[0]);
  ck_assert_int_gt(counted[2], 0);
  ck_assert_int_eq(counted[3], counted[2]);
}
END_TEST
#endif

/* ---------------------------------------------------------------------- */
/* Accept's timeout is re-armed when another coroutine takes the connection*/
/* (tcp.c:414-421)                                                         */
/* ---------------------------------------------------------------------- */

static struct {
  exco_uv_tcp *server;
  struct sockaddr_in addr;
  int setup_err;
  int a_result;
  uint64_t a_elapsed;
  int a_done;
  int stop_b;
  long stolen;
  long b_other; /* B's results other than 0 / EBUSY / timeout */
  int c_err;
  long c_connects;
} acc;

#define ACC_TIMEOUT 150u
#define ACC_PERIOD 60u
#define ACC_CONNECTS 8

/* A: one accept with a deadline. */
static void *acc_a(void *arg) {
  uv_loop_t *loop = exco_uv_loop();
  exco_uv_tcp *c;
  uint64_t t0;

  (void)arg;
  uv_update_time(loop);
  t0 = uv_now(loop);
  acc.a_result = exco_uv_tcp_accept_timeout(acc.server, &c, ACC_TIMEOUT);
  uv_update_time(loop);
  acc.a_elapsed = uv_now(loop) - t0;
  acc.a_done = 1;
  if (acc.a_result == 0)
    exco_uv_tcp_close(c);
  return NULL;
}

/* B: another coroutine polling the same listener without waiting: it gets
 * EXCO_EBUSY while A waits, and the connection when it is ready. */
static void *acc_b(void *arg) {
  exco_uv_tcp *c;
  int r;

  (void)arg;
  while (!acc.stop_b) {
    r = exco_uv_tcp_accept_timeout(acc.server, &c, 0);
    if (r == 0) {
      acc.stolen++;
      exco_uv_tcp_close(c);
    } else if (r != EXCO_EBUSY && r != UV_ETIMEDOUT) {
      acc.b_other++;
    }
    if (exco_yield() != 0)
      break;
  }
  return NULL;
}

/* C: a client connecting every ACC_PERIOD ms; then closes the listener. */
static void *acc_c(void *arg) {
  exco_uv_tcp *cl;
  int i, err;

  (void)arg;
  for (i = 0; i < ACC_CONNECTS; i++) {
    if (exco_uv_sleep(ACC_PERIOD) != 0)
      break;
    err = exco_uv_tcp_connect((struct sockaddr *)&acc.addr, &cl);
    if (err != 0) {
      acc.c_err = err;
      break;
    }
    acc.c_connects++;
    exco_uv_tcp_close(cl);
  }
  /* Let A's deadline pass whatever happened, then end B. */
  while (!acc.a_done)
    if (exco_uv_sleep(10) != 0)
      break;
  acc.stop_b = 1;
  exco_yield();
  exco_uv_tcp_close(acc.server);
  return NULL;
}

/* Listens, then starts A, B and C in that order (A first, so it is the
 * waiting acceptor when B starts polling). */
static void *acc_setup(void *arg) {
  (void)arg;
  acc.setup_err = h_uv_listen_any(&acc.server, &acc.addr, 64);
  if (acc.setup_err == 0 && (exco_spawn(NULL, acc_a, NULL, NULL, NULL) != 0 ||
                             exco_spawn(NULL, acc_b, NULL, NULL, NULL) != 0 ||
                             exco_spawn(NULL, acc_c, NULL, NULL, NULL) != 0))
    acc.setup_err = EXCO_ENOMEM; /* the loop would not end: abort below */
  return NULL;
}

START_TEST(accept_timeout_not_rearmed) {
  tloop t;

  memset(&acc, 0, sizeof(acc));
  tl_init(&t);
  tl_spawn(&t, acc_setup, NULL, NULL);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_int_eq(acc.setup_err, 0);
  ck_assert_int_eq(acc.c_err, 0);
  ck_assert_int_eq(acc.b_other, 0);
  ck_assert_int_eq(acc.a_result, UV_ETIMEDOUT);
  /* "If the operation has not completed timeout_ms milliseconds (of loop
   * time) after the call, ... the call returns UV_ETIMEDOUT." */
  ck_assert_msg(acc.a_elapsed < 2 * ACC_TIMEOUT,
                "accept_timeout(%u ms) returned after %llu ms (%ld "
                "connections taken by another coroutine meanwhile)",
                ACC_TIMEOUT, (unsigned long long)acc.a_elapsed, acc.stolen);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A socket read once keeps the loop alive (stream.c:89-97)                */
/* ---------------------------------------------------------------------- */

static struct {
  exco_uv_tcp *server, *conn, *client;
  int err;
  ssize_t got;
  int done;
} keep;

static void *keep_body(void *arg) {
  struct sockaddr_in addr;
  char buf[64];
  int err;

  (void)arg;
  err = h_uv_listen_any(&keep.server, &addr, 16);
  if (err == 0)
    err = exco_uv_tcp_connect((struct sockaddr *)&addr, &keep.client);
  if (err == 0)
    err = exco_uv_tcp_accept(keep.server, &keep.conn);
  if (err == 0)
    err = exco_uv_tcp_write(keep.client, "x", 1);
  if (err == 0)
    keep.got = exco_uv_tcp_read(keep.conn, buf, sizeof(buf));
  keep.err = err;
  /* The listener goes; the connection is kept for later tasks (a
   * connection pool, say).  Nothing waits on it now. */
  if (keep.server != NULL)
    exco_uv_tcp_close(keep.server);
  keep.server = NULL;
  keep.done = 1;
  return NULL;
}

/* Lets the loop run the callbacks that are due (closes, a read just
 * made possible) without waiting. */
static void keep_settle(tloop *t) {
  int i;

  for (i = 0; i < 4; i++)
    uv_run(&t->loop, UV_RUN_NOWAIT);
}

START_TEST(idle_socket_does_not_keep_loop_alive) {
  int i, alive;
  tloop t;

  memset(&keep, 0, sizeof(keep));
  tl_init(&t);
  tl_spawn(&t, keep_body, NULL, NULL);
  /* Not uv_run(UV_RUN_DEFAULT): with the bug it never returns. */
  for (i = 0; i < 100000 && !keep.done; i++)
    uv_run(&t.loop, UV_RUN_ONCE);
  ck_assert_int_eq(keep.done, 1);
  keep_settle(&t);
  alive = uv_loop_alive(&t.loop);
  /* Clean up from outside coroutines (allowed on the loop thread). */
  if (keep.conn != NULL)
    exco_uv_tcp_close(keep.conn);
  if (keep.client != NULL)
    exco_uv_tcp_close(keep.client);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_int_eq(keep.err, 0);
  ck_assert_int_eq(keep.got, 1);
  /* Every task has finished and no call is pending on the socket: "uv_run
   * returns by itself when every task of the executor has finished". A
   * socket that was never read from does not keep the loop alive; one
   * that was read once does, until data arrives on it. */
  ck_assert_msg(!alive, "all tasks finished, nothing pending, yet the "
                        "loop is alive: uv_run() would block on the idle "
                        "connection");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A read waiting for a task of an attached executor keeps the loop alive  */
/* ---------------------------------------------------------------------- */

/* The uv driver's own tasks keep its loop alive (keepalive), so a read of
 * theirs leaves the handle unreferenced.  A task of an executor attached
 * with exco_uv_attach() has nothing else keeping the loop running while it
 * waits: its read references the handle, and only while it waits. */

static struct {
  ssize_t got;
  int reading, read_done;
} att;

static void *att_reader(void *arg) {
  char buf[64];

  (void)arg;
  att.reading = 1;
  att.got = exco_uv_tcp_read(keep.conn, buf, sizeof(buf));
  att.read_done = 1;
  return NULL;
}

/* A connected pair (keep.conn, keep.client), made by a task of @t's uv
 * executor that then ends. */
static void att_pair(tloop *t) {
  int i;

  memset(&keep, 0, sizeof(keep));
  memset(&att, 0, sizeof(att));
  tl_init(t);
  tl_spawn(t, keep_body, NULL, NULL);
  for (i = 0; i < 100000 && !keep.done; i++)
    uv_run(&t->loop, UV_RUN_ONCE);
  ck_assert_int_eq(keep.done, 1);
  ck_assert_int_eq(keep.err, 0);
}

/* A reader of keep.conn on a new local executor attached to @t's loop,
 * run until it waits. */
static void att_start_reader(tloop *t, exco_executor **local,
                             exco_task **reader) {
  ck_assert_int_eq(exco_executor_new_local(local), 0);
  ck_assert_int_eq(exco_uv_attach(*local, &t->loop), 0);
  ck_assert_int_eq(exco_spawn(*local, att_reader, NULL, NULL, reader), 0);
  ck_assert_int_eq(exco_run_until_idle(*local), 1);
  ck_assert_int_eq(att.reading, 1);
}

START_TEST(attached_read_keeps_loop_alive) {
  int i, alive_idle, alive_waiting, alive_after;
  exco_executor *local;
  uv_buf_t b = uv_buf_init((char *)"y", 1);
  tloop t;

  att_pair(&t);
  keep_settle(&t);
  alive_idle = uv_loop_alive(&t.loop);
  /* A reader on a local executor attached to the loop. */
  att_start_reader(&t, &local, NULL);
  ck_assert_int_eq(att.read_done, 0);
  alive_waiting = uv_loop_alive(&t.loop);
  /* The peer writes (from the loop thread, outside coroutines); the loop
   * runs until the read has it. */
  ck_assert_int_eq(
      uv_try_write((uv_stream_t *)exco_uv_tcp_handle(keep.client), &b, 1), 1);
  for (i = 0; i < 100000 && !att.read_done; i++) {
    uv_run(&t.loop, UV_RUN_ONCE);
    ck_assert_int_ge(exco_run_until_idle(local), 0);
  }
  keep_settle(&t);
  alive_after = uv_loop_alive(&t.loop);
  /* A read still waiting ends with the close (EXCO_ECANCELED). */
  exco_uv_tcp_close(keep.conn);
  exco_uv_tcp_close(keep.client);
  ck_assert_int_eq(exco_run_until_idle(local), 0);
  ck_assert_int_eq(exco_uv_detach(local), 0);
  ck_assert_int_eq(exco_executor_free(local), 0);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_int_eq(att.read_done, 1);
  ck_assert_int_eq(att.got, 1);
  ck_assert_msg(!alive_idle, "an idle connection keeps the loop alive");
  ck_assert_msg(alive_waiting, "a read waiting for a task of an attached "
                               "executor does not keep the loop alive");
  ck_assert_msg(!alive_after, "the connection keeps the loop alive after "
                              "the attached executor's read returned");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A read completed, then its socket closed and freed before it runs       */
/* ---------------------------------------------------------------------- */

/* The read's result waits in the socket until its coroutine runs; a close
 * in between hands it over to the coroutine's record, so the coroutine
 * gets its bytes and never looks at the freed socket (run under valgrind
 * or ASan).  The reader is a task of an attached local executor, which
 * this test polls when it chooses. */
START_TEST(read_done_then_closed_keeps_bytes) {
  exco_task_info info;
  exco_executor *local;
  exco_task *reader;
  uv_buf_t b = uv_buf_init((char *)"y", 1);
  int i, woken = 0;
  tloop t;

  att_pair(&t);
  att_start_reader(&t, &local, &reader);
  ck_assert_int_eq(
      uv_try_write((uv_stream_t *)exco_uv_tcp_handle(keep.client), &b, 1), 1);
  /* The loop runs until the read callback has woken the reader, which
   * does not run yet. */
  for (i = 0; i < 100000 && !woken; i++) {
    uv_run(&t.loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(exco_task_get_info(reader, &info), 0);
    woken = info.state == EXCO_TASK_READY;
  }
  /* Closed, and freed by the close callback, before the reader runs. */
  exco_uv_tcp_close(keep.conn);
  keep_settle(&t);
  ck_assert_int_eq(exco_run_until_idle(local), 0);
  exco_task_release(reader);
  exco_uv_tcp_close(keep.client);
  ck_assert_int_eq(exco_uv_detach(local), 0);
  ck_assert_int_eq(exco_executor_free(local), 0);
  tl_run(&t);
  tl_fini(&t);
  ck_assert_int_eq(woken, 1);
  ck_assert_int_eq(att.read_done, 1);
  ck_assert_msg(att.got == 1,
                "a read completed before its socket was closed returned %zd",
                att.got);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A socket remembers its executor only while that executor lives         */
/* ---------------------------------------------------------------------- */

/* A socket caches the last executor of the driver it found on its loop.
 * An executor freed and another made on a second loop usually gets the
 * same address: the socket must see it is not the one it remembers. */

static struct { int first, second; } reuse;

static void *reuse_write_first(void *arg) {
  (void)arg;
  reuse.first = exco_uv_tcp_write(keep.client, "z", 1);
  return NULL;
}

static void *reuse_write_second(void *arg) {
  (void)arg;
  reuse.second = exco_uv_tcp_write(keep.client, "z", 1);
  return NULL;
}

START_TEST(socket_forgets_freed_executor) {
  exco_executor *first;
  uv_loop_t other;
  tloop t;

  memset(&keep, 0, sizeof(keep));
  memset(&reuse, 0, sizeof(reuse));
  reuse.second = 1;
  tl_init(&t);
  tl_spawn(&t, keep_body, NULL, NULL);
  tl_run(&t);
  ck_assert_int_eq(keep.err, 0);
  tl_spawn(&t, reuse_write_first, NULL, NULL);
  tl_run(&t);
  /* The executor goes; the loop and its sockets stay. */
  first = t.ex;
  ck_assert_int_eq(exco_uv_executor_free(t.ex), 0);
  keep_settle(&t);
  /* Another one on another loop, likely at the same address. */
  ck_assert_int_eq(uv_loop_init(&other), 0);
  ck_assert_int_eq(exco_uv_executor_new(&t.ex, &other), 0);
  tl_spawn(&t, reuse_write_second, NULL, NULL);
  ck_assert_int_eq(uv_run(&other, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exco_uv_executor_free(t.ex), 0);
  ck_assert_int_eq(uv_run(&other, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&other), 0);
  exco_uv_tcp_close(keep.conn);
  exco_uv_tcp_close(keep.client);
  ck_assert_int_eq(uv_run(&t.loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&t.loop), 0);
  ck_assert_int_eq(reuse.first, 0);
  ck_assert_msg(reuse.second == EXCO_EINVAL,
                "a write from a task on another loop returned %d, not "
                "EXCO_EINVAL (executor %s the freed one's address)",
                reuse.second, t.ex == first ? "at" : "not at");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Outside coroutines: error codes, no crash                               */
/* ---------------------------------------------------------------------- */

static void noop_work(void *p) {
  (void)p;
}

START_TEST(awaitables_outside_coroutines) {
  struct sockaddr_in addr;
  struct addrinfo *res = NULL;
  exco_uv_tcp *tcp = NULL;
  exco_uv_udp *udp = NULL;
  uv_stat_t st;
  char buf[4], *data = NULL;
  size_t len;

  uv_ip4_addr("127.0.0.1", 9, &addr);
  ck_assert_int_eq(exco_uv_sleep(1), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_open("/dev/null", O_RDONLY, 0), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_close(0x7fff), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_read(0, buf, 1, -1), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_write(1, "", 0, -1), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_stat("/", &st), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_unlink("/nonexistent-exco"), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_fs_read_file("/dev/null", &data, &len), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_getaddrinfo("localhost", NULL, NULL, &res),
                   EXCO_EPERM);
  ck_assert_int_eq(exco_uv_tcp_connect((struct sockaddr *)&addr, &tcp),
                   EXCO_EPERM);
  ck_assert_int_eq(exco_uv_tcp_listen((struct sockaddr *)&addr, 0, &tcp),
                   EXCO_EPERM);
  ck_assert_int_eq(exco_uv_udp_open(NULL, &udp), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_work(noop_work, NULL, NULL), EXCO_EPERM);
  ck_assert_int_eq(exco_uv_signal(SIGUSR1), EXCO_EPERM);
  ck_assert_ptr_null(tcp);
  ck_assert_ptr_null(udp);
  ck_assert_ptr_null(data);
  ck_assert_ptr_null(res);
  /* NULL handles. */
  ck_assert_int_eq(exco_uv_tcp_read(NULL, buf, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_tcp_write(NULL, buf, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_tcp_shutdown(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_tcp_accept(NULL, &tcp), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_tcp_close(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_udp_recv(NULL, buf, 1, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_udp_send(NULL, buf, 1, (struct sockaddr *)&addr),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_udp_close(NULL), EXCO_EINVAL);
  ck_assert_ptr_null(exco_uv_tcp_handle(NULL));
  ck_assert_ptr_null(exco_uv_udp_handle(NULL));
  ck_assert_ptr_null(exco_uv_loop());
  ck_assert_ptr_null(exco_uv_executor_loop(NULL));
  ck_assert_int_eq(exco_uv_executor_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_set_budget(NULL, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_uv_executor_cancel_all(NULL), EXCO_EINVAL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-review");
  TCase *tc = h_tcase("review", 60);

#ifdef H_WRAPPED_MALLOC
  tcase_add_test(tc, timeout_allocates_nothing_more);
#endif
  tcase_add_test(tc, accept_timeout_not_rearmed);
  tcase_add_test(tc, idle_socket_does_not_keep_loop_alive);
  tcase_add_test(tc, attached_read_keeps_loop_alive);
  tcase_add_test(tc, socket_forgets_freed_executor);
  tcase_add_test(tc, read_done_then_closed_keeps_bytes);
  tcase_add_test(tc, awaitables_outside_coroutines);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
