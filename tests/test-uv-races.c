/*
 * test-uv-races.c -- regression tests for bugs found by reviewing the
 * libuv driver and its awaitables (drivers/uv/), each against the contract
 * in include/exco/uv.h (each failed before its fix):
 *
 *   - a deadline timer that can't be allocated after the request was
 *     submitted makes the call return EXCO_ENOMEM although the request
 *     goes on: exco_uv_work() hands @arg to libuv (abandon is called, the
 *     job touches arg after the call returned) and exco_uv_fs_close()
 *     closes the descriptor, both while reporting EXCO_ENOMEM;
 *   - exco_uv_tcp_accept_timeout() re-arms a full timeout every time
 *     another coroutine takes the connection it was woken for, so its
 *     deadline can be exceeded without bound;
 *   - a connected socket that was read from once stays "reading" (an
 *     active, referenced handle), so uv_run() does not return after every
 *     task finished while the socket is kept open;
 *   - plus contract checks that pass: every awaitable outside a
 *     coroutine returns EXCO_EPERM or EXCO_EINVAL instead of crashing.
 *
 * The EXCO_ENOMEM reproducers need malloc() of the driver to fail on
 * demand: link with -Wl,--wrap=malloc against the static libraries (the
 * test defines __wrap_malloc; tests/local.mk does this); without it they
 * are skipped (see H_WRAPPED_MALLOC below).
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

/* Size of op.c's exco__uv_deadline: a uv_timer_t and a pointer. */
struct review_deadline_shape {
  uv_timer_t timer;
  void *op;
};

/* While set, the next malloc of a deadline's size fails (once). */
static atomic_int fail_deadline;

void *__wrap_malloc(size_t size) {
  if (size == sizeof(struct review_deadline_shape) &&
      atomic_exchange(&fail_deadline, 0))
    return NULL;
  return __real_malloc(size);
}
#endif

/* ---------------------------------------------------------------------- */
/* EXCO_ENOMEM after the request was submitted (op.c:92-96)                */
/* ---------------------------------------------------------------------- */

#ifdef H_WRAPPED_MALLOC
typedef struct work_arg {
  sem_t go;                /* the job waits for it (the caller returned) */
  atomic_int touched;      /* the job ran and wrote here */
  atomic_int abandoned;    /* abandon() was called with this arg */
} work_arg;

static void work_fn(void *p) {
  work_arg *a = p;

  while (sem_wait(&a->go) != 0 && errno == EINTR)
    ;
  atomic_store(&a->touched, 1);
}

static void work_abandon(void *p) {
  work_arg *a = p;

  atomic_fetch_add(&a->abandoned, 1);
}

static int work_result;

static void *work_body(void *p) {
  work_arg *a = p;

  atomic_store(&fail_deadline, 1);
  work_result = exco_uv_work_timeout(work_fn, a, work_abandon, 10000);
  atomic_store(&fail_deadline, 0);
  /* Whatever the call returned, the job may go on now: if it still runs,
   * it touches @a after the caller was told it owns @a again. */
  sem_post(&a->go);
  return NULL;
}

START_TEST(work_enomem_hands_over_arg) {
  work_arg a;
  tloop t;

  sem_init(&a.go, 0, 0);
  atomic_init(&a.touched, 0);
  atomic_init(&a.abandoned, 0);
  work_result = 1;
  tl_init(&t);
  tl_spawn(&t, work_body, &a, NULL);
  tl_run(&t);
  tl_fini(&t);
  /* The header: on EXCO_ENOMEM the caller keeps @arg (ownership passes
   * only on EXCO_ECANCELED / UV_ETIMEDOUT), so libuv must not use it. */
  ck_assert_int_eq(work_result, EXCO_ENOMEM);
  ck_assert_msg(atomic_load(&a.abandoned) == 0,
                "EXCO_ENOMEM returned, yet abandon(arg) was called %d "
                "time(s): a caller freeing arg double-frees",
                atomic_load(&a.abandoned));
  ck_assert_msg(atomic_load(&a.touched) == 0,
                "EXCO_ENOMEM returned, yet the job ran on arg afterwards");
  sem_destroy(&a.go);
}
END_TEST

static int close_result;

static void *close_body(void *p) {
  int fd = (int)(intptr_t)p;

  atomic_store(&fail_deadline, 1);
  close_result = exco_uv_fs_close_timeout(fd, 10000);
  atomic_store(&fail_deadline, 0);
  return NULL;
}

START_TEST(fs_close_enomem_still_closes) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), closed;
  tloop t;

  ck_assert_int_ge(fd, 0);
  close_result = 1;
  tl_init(&t);
  tl_spawn(&t, close_body, (void *)(intptr_t)fd, NULL);
  tl_run(&t);
  closed = fcntl(fd, F_GETFD) == -1 && errno == EBADF;
  tl_fini(&t);
  ck_assert_int_eq(close_result, EXCO_ENOMEM);
  /* A caller told EXCO_ENOMEM believes fd is still open and closes it
   * again (maybe after it was reused by another open). */
  ck_assert_msg(!closed, "EXCO_ENOMEM returned, yet fd %d was closed", fd);
  if (!closed)
    close(fd);
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
  long b_other;            /* B's results other than 0 / EBUSY / timeout */
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
  if (acc.setup_err == 0 &&
      (exco_spawn(NULL, acc_a, NULL, NULL, NULL) != 0 ||
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
  for (i = 0; i < 4; i++)
    uv_run(&t.loop, UV_RUN_NOWAIT);
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
  ck_assert_int_eq(exco_uv_fs_read_file("/dev/null", &data, &len),
                   EXCO_EPERM);
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
  tcase_add_test(tc, work_enomem_hands_over_arg);
  tcase_add_test(tc, fs_close_enomem_still_closes);
#endif
  tcase_add_test(tc, accept_timeout_not_rearmed);
  tcase_add_test(tc, idle_socket_does_not_keep_loop_alive);
  tcase_add_test(tc, awaitables_outside_coroutines);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
