/*
 * test-debug.c -- task listings and the stall watchdog.
 *
 *   - exco_task_get_info() for each state (spawned, ready, pending,
 *     cancelling, finished), what a task waits on ("promise", "yield",
 *     "sleep", "join", a driver's label) and where (EXCO_SITE(), and the
 *     EXCO_TRACE_AWAITS macros this file is compiled with), polls, age
 *     and the stack's high-water mark;
 *   - exco_executor_dump()'s lines;
 *   - the watchdog reports a poll that spins past its threshold once,
 *     from its own thread, with the task's name, and not a task that
 *     yields; its default report goes to stderr.
 */
#define EXCO_TRACE_AWAITS
#include "harness.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Listings                                                                */
/* ---------------------------------------------------------------------- */

typedef struct lst {
  exco_promise *p;
  int site_line; /* the line of the promise await below */
  int touched;   /* bytes of stack the deep task touched */
  exco_task *join_target;
} lst;

static void *fn_promise(void *arg) {
  lst *l = arg;

  l->site_line = __LINE__ + 1;
  exco_promise_await(l->p, NULL);
  return NULL;
}

static void *fn_labelled(void *arg) {
  (void)arg;
  EXCO_SITE();
  exco_await_label("test.never");
  exco_await(h_never_poll, NULL, NULL);
  return NULL;
}

static void *fn_deep(void *arg) {
  lst *l = arg;
  volatile char buf[40000];
  size_t i;

  for (i = 0; i < sizeof(buf); i += 256)
    buf[i] = 1;
  l->touched = (int)sizeof(buf);
  exco_sleep(3600 * 1000);
  return NULL;
}

static void *fn_joiner(void *arg) {
  lst *l = arg;

  exco_join(l->join_target, NULL);
  return NULL;
}

static void *fn_quick(void *arg) {
  (void)arg;
  return NULL;
}

static exco_task *spawn_named(exco_executor *ex, exco_fn fn, void *arg,
                              const char *name) {
  exco_spawn_opts o = {0, name, 0};
  exco_task *t;

  ck_assert_int_eq(exco_spawn(ex, fn, arg, &o, &t), 0);
  return t;
}

START_TEST(info_for_each_state) {
  exco_executor *ex;
  exco_task *tp, *tl, *td, *tq, *tj;
  exco_task_info i;
  lst l;

  memset(&l, 0, sizeof(l));
  ck_assert_int_eq(exco_promise_new(&l.p), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  tp = spawn_named(ex, fn_promise, &l, "promise");
  tl = spawn_named(ex, fn_labelled, &l, "labelled");
  td = spawn_named(ex, fn_deep, &l, "deep");
  tq = spawn_named(ex, fn_quick, &l, "quick");
  l.join_target = tp;
  tj = spawn_named(ex, fn_joiner, &l, "joiner");
  /* Not polled yet. */
  ck_assert_int_eq(exco_task_get_info(tp, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_SPAWNED);
  ck_assert_uint_eq(i.polls, 0);
  ck_assert_str_eq(i.name, "promise");
  ck_assert_int_eq(exco_run_until_idle(ex), 4);

  ck_assert_int_eq(exco_task_get_info(tp, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_PENDING);
  ck_assert_str_eq(i.waiting_on, "promise");
  ck_assert_ptr_nonnull(i.file);
  ck_assert_ptr_nonnull(strstr(i.file, "test-debug.c"));
  ck_assert_int_eq(i.line, l.site_line);
  ck_assert_uint_eq(i.polls, 1);
  ck_assert_uint_eq(i.stack_size, EXCO_STACK_DEFAULT);
  ck_assert_uint_gt(i.stack_used, 0);
  ck_assert_uint_le(i.stack_used, i.stack_size);

  ck_assert_int_eq(exco_task_get_info(tl, &i), 0);
  ck_assert_str_eq(i.waiting_on, "test.never");

  ck_assert_int_eq(exco_task_get_info(td, &i), 0);
  ck_assert_str_eq(i.waiting_on, "sleep");
  ck_assert_uint_ge(i.stack_used, (size_t)l.touched);

  ck_assert_int_eq(exco_task_get_info(tj, &i), 0);
  ck_assert_str_eq(i.waiting_on, "join");

  ck_assert_int_eq(exco_task_get_info(tq, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_FINISHED);
  ck_assert_ptr_null(i.waiting_on);

  /* Cancelled while pending: cancelling until it has run. */
  ck_assert_int_eq(exco_task_cancel(tl), 0);
  ck_assert_int_eq(exco_task_get_info(tl, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_CANCELLING);

  ck_assert_int_eq(exco_task_get_info(NULL, &i), EXCO_EINVAL);
  ck_assert_int_eq(exco_task_get_info(tp, NULL), EXCO_EINVAL);
  ck_assert_str_eq(exco_task_state_name(EXCO_TASK_PENDING), "pending");
  ck_assert_str_eq(exco_task_state_name((exco_task_state)99), "unknown");

  /* Woken, not polled yet: ready. */
  exco_promise_resolve(l.p, NULL);
  ck_assert_int_eq(exco_task_get_info(tp, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_READY);

  /* Let everything end. */
  exco_executor_cancel_all(ex);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_task_get_info(tp, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_FINISHED);
  ck_assert_uint_eq(i.stack_used, 0);
  exco_task_release(tp);
  exco_task_release(tl);
  exco_task_release(td);
  exco_task_release(tq);
  exco_task_release(tj);
  exco_promise_unref(l.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/*
 * A task that yields is queued again still claimed (the executor keeps
 * its poll; src/task.c): seen from another task meanwhile it is ready and
 * waiting on "yield", not running; the observer sees itself running.
 * Then the yielder awaits a future that is never ready, and is listed as
 * waiting on "await": its yields' label was cleared when they returned.
 */
typedef struct yinfo {
  exco_task *yielder;
  int yields;
  int r_self, r_other, r_await;
  exco_task_info self, other;
} yinfo;

static int poll_never(void *arg, exco_waker *waker) {
  (void)arg;
  (void)waker;
  return 0;
}

static void *fn_yield_3(void *arg) {
  yinfo *y = arg;

  for (int k = 0; k < 3; k++)
    if (exco_yield() == 0)
      y->yields++;
  y->r_await = exco_await(poll_never, NULL, NULL);
  return NULL;
}

static void *fn_observe(void *arg) {
  yinfo *y = arg;

  y->r_self = exco_task_get_info(exco_current(), &y->self);
  y->r_other = exco_task_get_info(y->yielder, &y->other);
  return NULL;
}

START_TEST(info_of_a_yielded_task) {
  exco_executor *ex;
  exco_task_info i;
  yinfo y;

  memset(&y, 0, sizeof(y));
  y.r_self = y.r_other = y.r_await = 1;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  y.yielder = spawn_named(ex, fn_yield_3, &y, "yielder");
  exco_task_release(spawn_named(ex, fn_observe, &y, "observer"));
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  ck_assert_int_eq(y.yields, 3);
  ck_assert_int_eq(exco_task_get_info(y.yielder, &i), 0);
  ck_assert_int_eq(i.state, EXCO_TASK_PENDING);
  ck_assert_str_eq(i.waiting_on, "await");
  ck_assert_int_eq(exco_task_cancel(y.yielder), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(y.r_await, EXCO_ECANCELED);
  ck_assert_int_eq(y.r_self, 0);
  ck_assert_int_eq(y.self.state, EXCO_TASK_RUNNING);
  ck_assert_int_eq(y.r_other, 0);
  ck_assert_int_eq(y.other.state, EXCO_TASK_READY);
  ck_assert_str_eq(y.other.waiting_on, "yield");
  ck_assert_uint_eq(y.other.polls, 1);
  exco_task_release(y.yielder);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(dump_lines) {
  exco_executor *ex;
  char *buf = NULL, want[128];
  size_t len = 0;
  FILE *f;
  lst l;
  int n;

  memset(&l, 0, sizeof(l));
  ck_assert_int_eq(exco_promise_new(&l.p), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  exco_task_release(spawn_named(ex, fn_promise, &l, "reader 3"));
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  n = exco_executor_dump(ex, f);
  fclose(f);
  ck_assert_int_eq(n, 1);
  ck_assert_ptr_nonnull(strstr(buf, "(local): 1 live tasks\n"));
  ck_assert_msg(strstr(buf, "  \"reader 3\"  pending  age ") != NULL, "%s",
                buf);
  ck_assert_ptr_nonnull(strstr(buf, "  polls 1  stack "));
  snprintf(want, sizeof(want), "      waiting on promise at %s:%d\n", __FILE__,
           l.site_line);
  ck_assert_msg(strstr(buf, want) != NULL, "%s", buf);
  free(buf);
  ck_assert_int_eq(exco_executor_dump(NULL, stderr), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_dump(ex, NULL), EXCO_EINVAL);
  exco_promise_resolve(l.p, NULL);
  ck_assert_int_eq(exco_run(ex), 0);
  exco_promise_unref(l.p);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The watchdog                                                            */
/* ---------------------------------------------------------------------- */

typedef struct wd {
  atomic_int reports;
  atomic_int release; /* the spinner may stop */
  char name[32];
  uint64_t ms;
  exco_executor *ex_seen;
} wd;

static void on_stall(exco_executor *ex, exco_task *task, uint64_t ms,
                     void *arg) {
  wd *w = arg;

  if (atomic_fetch_add(&w->reports, 1) == 0) {
    snprintf(w->name, sizeof(w->name), "%s", exco_task_name(task));
    w->ms = ms;
    w->ex_seen = ex;
  }
  atomic_store(&w->release, 1);
}

static void *fn_spin(void *arg) {
  wd *w = arg;
  double end = h_now() + h_wait_timeout();

  /* Spins in one poll until the watchdog has reported it (bounded). */
  while (!atomic_load(&w->release) && h_now() < end)
    ;
  return NULL;
}

static void *fn_polite(void *arg) {
  wd *w = arg;

  while (!atomic_load(&w->release))
    if (exco_yield() != 0)
      break;
  return NULL;
}

START_TEST(watchdog_reports_a_stalled_poll_once) {
  exco_executor *ex;
  wd w;

  memset(&w, 0, sizeof(w));
  atomic_init(&w.reports, 0);
  atomic_init(&w.release, 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_watchdog(ex, 50, on_stall, &w), 0);
  exco_task_release(spawn_named(ex, fn_polite, &w, "polite"));
  exco_task_release(spawn_named(ex, fn_spin, &w, "spinner"));
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(atomic_load(&w.reports), 1);
  ck_assert_str_eq(w.name, "spinner");
  ck_assert_uint_ge(w.ms, 50);
  ck_assert_ptr_eq(w.ex_seen, ex);
  ck_assert_int_eq(exco_executor_watchdog(ex, 0, NULL, NULL), 0);
  ck_assert_int_eq(exco_executor_watchdog(NULL, 10, NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* The default report, on stderr (redirected to a file here).  The hog
 * spins until the report is in the file (bounded), so that a slow run
 * (valgrind runs one thread at a time) still gives the watchdog its turn. */
static void *fn_spin_until_reported(void *arg) {
  int fd = *(int *)arg;
  double end = h_now() + h_wait_timeout();
  struct stat st;

  while (h_now() < end && (fstat(fd, &st) != 0 || st.st_size == 0))
    ;
  return NULL;
}

START_TEST(watchdog_default_report) {
  char path[] = "/tmp/exco-wd-XXXXXX", buf[512];
  exco_executor *ex;
  int fd, saved;
  ssize_t n;

  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_watchdog(ex, 50, NULL, NULL), 0);
  exco_task_release(spawn_named(ex, fn_spin_until_reported, &fd, "hog"));
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  n = pread(fd, buf, sizeof(buf) - 1, 0);
  close(fd);
  unlink(path);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  ck_assert_msg(strstr(buf, "exco: task \"hog\" (executor local) has run ") !=
                    NULL,
                "%s", buf);
  ck_assert_ptr_nonnull(strstr(buf, " ms in one poll without suspending\n"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("debug");
  TCase *tc = h_tcase("listing", 60);

  tcase_add_test(tc, info_for_each_state);
  tcase_add_test(tc, info_of_a_yielded_task);
  tcase_add_test(tc, dump_lines);
  tcase_add_test(tc, watchdog_reports_a_stalled_poll_once);
  tcase_add_test(tc, watchdog_default_report);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
