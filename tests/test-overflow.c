/*
 * test-overflow.c -- stack overflows end in a report that names the task,
 * not in a silent SIGSEGV or in another coroutine's frames.
 *
 * Each case runs in a child process (fork) whose stderr goes to a pipe;
 * the parent checks how the child ended and what it wrote:
 *
 *   - without exco_overflow_report_install(): the default SIGSEGV, and
 *     nothing from exco;
 *   - with it: unbounded recursion with the default stack and with a
 *     16 KiB one, a 264 KiB local array in a 256 KiB coroutine (it lands
 *     in the 1 MiB guard instead of the next coroutine's frames), and a
 *     coroutine on another thread: "exco: stack overflow in task ..." with
 *     the name and the stack size, then SIGABRT;
 *   - an unguarded stack: the canary check at the next switch, or the
 *     fault below it, reports it;
 *   - faults that are not overflows go to the handler installed before
 *     exco's, or get the default action;
 *   - exco_set_stack_guard() limits and a second install.
 *
 * Sanitizer builds skip the suite: ASan and TSan own SIGSEGV and report
 * stack overflows themselves; so does check-valgrind, for valgrind.
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKIP_ALL 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SKIP_ALL 1
#endif
#endif

typedef struct outcome {
  int signaled; /* the child died of a signal */
  int sig;
  int status; /* else its exit status */
  char err[4096];
} outcome;

/* Runs @fn in a child process; collects its stderr and its end. */
static void run_child(void (*fn)(void), outcome *o) {
  int fds[2], st;
  ssize_t n;
  size_t len = 0;
  pid_t pid;

  memset(o, 0, sizeof(*o));
  ck_assert_int_eq(pipe(fds), 0);
  fflush(NULL);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct rlimit rl = {0, 0};

    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    /* No core files from the deliberate crashes. */
    setrlimit(RLIMIT_CORE, &rl);
    fn();
    _exit(0);
  }
  close(fds[1]);
  while ((n = read(fds[0], o->err + len, sizeof(o->err) - 1 - len)) > 0)
    len += (size_t)n;
  o->err[len] = '\0';
  close(fds[0]);
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  o->signaled = WIFSIGNALED(st);
  o->sig = o->signaled ? WTERMSIG(st) : 0;
  o->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---------------------------------------------------------------------- */
/* Overflowing coroutines                                                  */
/* ---------------------------------------------------------------------- */

static volatile int depth_limit = 1 << 30;

static int recurse(int n) {
  volatile char frame[256];

  frame[0] = (char)n;
  if (n >= depth_limit)
    return frame[0];
  return recurse(n + 1) + frame[0];
}

static void *fn_recurse(void *arg) {
  (void)arg;
  return (void *)(intptr_t)recurse(0);
}

/* One frame bigger than the whole stack. */
static void *fn_big_frame(void *arg) {
  volatile char big[264 * 1024];
  size_t i;

  (void)arg;
  memset((char *)big, 1, sizeof(big));
  for (i = 0; i < sizeof(big); i += 4096)
    big[0] = (char)(big[0] + big[i]);
  return (void *)(intptr_t)big[0];
}

/* Recursion that switches at every level, on an unguarded stack. */
static int recurse_yield(int n) {
  volatile char frame[512];

  frame[0] = (char)n;
  exco_yield();
  if (n >= depth_limit)
    return frame[0];
  return recurse_yield(n + 1) + frame[0];
}

static void *fn_recurse_yield(void *arg) {
  (void)arg;
  return (void *)(intptr_t)recurse_yield(0);
}

static void run_task(exco_fn fn, const char *name, size_t size,
                     unsigned flags) {
  exco_spawn_opts o = {size, name, flags};
  exco_executor *ex;

  if (exco_executor_new_local(&ex) != 0 ||
      exco_spawn(ex, fn, NULL, &o, NULL) != 0)
    _exit(100);
  exco_run(ex);
  _exit(101); /* not reached */
}

static void child_no_handler(void) {
  run_task(fn_recurse, "deep", 0, 0);
}

static void child_recursion(void) {
  if (exco_overflow_report_install() != 0)
    _exit(102);
  run_task(fn_recurse, "deep", 0, 0);
}

static void child_small_stack(void) {
  if (exco_overflow_report_install() != 0)
    _exit(102);
  run_task(fn_recurse, "small", 16 * 1024, 0);
}

static void child_big_frame(void) {
  if (exco_overflow_report_install() != 0)
    _exit(102);
  run_task(fn_big_frame, "big-frame", 256 * 1024, 0);
}

static void child_noguard(void) {
  if (exco_overflow_report_install() != 0)
    _exit(102);
  run_task(fn_recurse_yield, "unguarded", 16 * 1024, EXCO_SPAWN_NOGUARD);
}

static void *thread_main(void *arg) {
  (void)arg;
  run_task(fn_recurse, "on-a-thread", 64 * 1024, 0);
  return NULL;
}

static void child_other_thread(void) {
  pthread_t th;

  if (exco_overflow_report_install() != 0)
    _exit(102);
  if (pthread_create(&th, NULL, thread_main, NULL) != 0)
    _exit(103);
  pthread_join(th, NULL);
  _exit(104);
}

START_TEST(without_the_handler_the_default_stays) {
  outcome o;

  run_child(child_no_handler, &o);
  ck_assert_int_eq(o.signaled, 1);
  ck_assert_int_eq(o.sig, SIGSEGV);
  ck_assert_ptr_null(strstr(o.err, "exco:"));
}
END_TEST

START_TEST(recursion_is_reported) {
  outcome o;

  run_child(child_recursion, &o);
  ck_assert_msg(o.signaled && o.sig == SIGABRT, "ended %d/%d: %s", o.signaled,
                o.sig, o.err);
  ck_assert_msg(strstr(o.err,
                       "exco: stack overflow in task \"deep\": stack "
                       "262144 bytes, guard 1048576 bytes; fault ") != NULL,
                "stderr: %s", o.err);
  ck_assert_ptr_nonnull(strstr(o.err, " bytes deep\n"));
}
END_TEST

START_TEST(small_stack_is_reported) {
  outcome o;

  run_child(child_small_stack, &o);
  ck_assert_int_eq(o.sig, SIGABRT);
  ck_assert_msg(strstr(o.err, "task \"small\": stack 16384 bytes") != NULL,
                "stderr: %s", o.err);
}
END_TEST

START_TEST(big_frame_hits_the_guard_not_a_neighbour) {
  outcome o;

  run_child(child_big_frame, &o);
  ck_assert_int_eq(o.sig, SIGABRT);
  ck_assert_msg(strstr(o.err, "task \"big-frame\": stack 262144 bytes") != NULL,
                "stderr: %s", o.err);
}
END_TEST

START_TEST(unguarded_overflow_is_reported) {
  outcome o;

  /* Either the canary check at the next switch or, when the stack is the
   * lowest of its slab, the fault below it reports it first. */
  run_child(child_noguard, &o);
  ck_assert_int_eq(o.sig, SIGABRT);
  ck_assert_msg(strstr(o.err, "exco: stack overflow in unguarded task "
                              "\"unguarded\" (stack ") != NULL ||
                    strstr(o.err, "exco: stack overflow in task "
                                  "\"unguarded\": stack ") != NULL,
                "stderr: %s", o.err);
}
END_TEST

START_TEST(coroutine_on_another_thread_is_reported) {
  outcome o;

  run_child(child_other_thread, &o);
  ck_assert_int_eq(o.sig, SIGABRT);
  ck_assert_msg(strstr(o.err, "task \"on-a-thread\": stack 65536 bytes") !=
                    NULL,
                "stderr: %s", o.err);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Faults that are not overflows                                           */
/* ---------------------------------------------------------------------- */

static void user_handler(int sig, siginfo_t *si, void *uc) {
  static const char msg[] = "user handler\n";

  (void)sig;
  (void)si;
  (void)uc;
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
  _exit(42);
}

static volatile int *volatile null_ptr;

static void child_chain(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = user_handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  if (exco_overflow_report_install() != 0)
    _exit(102);
  *null_ptr = 1;
}

static void *fn_null(void *arg) {
  (void)arg;
  *null_ptr = 1;
  return NULL;
}

static void child_null_in_coroutine(void) {
  if (exco_overflow_report_install() != 0)
    _exit(102);
  run_task(fn_null, "null", 0, 0);
}

START_TEST(other_faults_go_to_the_previous_handler) {
  outcome o;

  run_child(child_chain, &o);
  ck_assert_int_eq(o.signaled, 0);
  ck_assert_int_eq(o.status, 42);
  ck_assert_str_eq(o.err, "user handler\n");
}
END_TEST

START_TEST(other_faults_in_coroutines_get_the_default) {
  outcome o;

  run_child(child_null_in_coroutine, &o);
  ck_assert_int_eq(o.sig, SIGSEGV);
  ck_assert_ptr_null(strstr(o.err, "exco:"));
}
END_TEST

static void child_install_twice(void) {
  if (exco_overflow_report_install() != 0)
    _exit(1);
  if (exco_overflow_report_install() != EXCO_EALREADY)
    _exit(2);
  _exit(0);
}

START_TEST(install_twice_and_guard_limits) {
  outcome o;

  run_child(child_install_twice, &o);
  ck_assert_int_eq(o.signaled, 0);
  ck_assert_int_eq(o.status, 0);
  ck_assert_uint_eq(exco_stack_guard(), (size_t)1024 * 1024);
  ck_assert_int_eq(exco_set_stack_guard((size_t)2 * 1024 * 1024 * 1024),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_set_stack_guard(5000), 0);
  ck_assert_uint_eq(exco_stack_guard() % 4096, 0);
  ck_assert_uint_ge(exco_stack_guard(), 5000);
  ck_assert_int_eq(exco_set_stack_guard(0), 0);
  ck_assert_uint_eq(exco_stack_guard(), (size_t)1024 * 1024);
}
END_TEST

int main(void) {
  Suite *s;
  TCase *tc;

#ifdef SKIP_ALL
  puts("skipped: sanitizers own SIGSEGV and report overflows themselves");
  return 77;
#endif
  /* Under check-valgrind the children's faults are valgrind's to handle
   * (it reports them and ends the child its own way). */
  if (h_under_valgrind()) {
    puts("skipped under valgrind");
    return 0;
  }
  s = suite_create("overflow");
  tc = h_tcase("report", 60);
  tcase_add_test(tc, without_the_handler_the_default_stays);
  tcase_add_test(tc, recursion_is_reported);
  tcase_add_test(tc, small_stack_is_reported);
  tcase_add_test(tc, big_frame_hits_the_guard_not_a_neighbour);
  tcase_add_test(tc, unguarded_overflow_is_reported);
  tcase_add_test(tc, coroutine_on_another_thread_is_reported);
  tcase_add_test(tc, other_faults_go_to_the_previous_handler);
  tcase_add_test(tc, other_faults_in_coroutines_get_the_default);
  tcase_add_test(tc, install_twice_and_guard_limits);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
