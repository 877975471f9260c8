/*
 * test-stack.c -- coroutine stacks (include/exco.h, STACKS): per-spawn
 * sizes, deep use, libc on the default stack, guard pages and
 * vm.max_map_count exhaustion, unguarded slabs with many parked tasks,
 * stack reuse.
 */
#include "harness.h"

#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

/* ---------------------------------------------------------------------- */
/* Sizes                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct big {
  size_t bytes;
  int ok;
  int r;
} big;

static void *fn_big(void *arg) {
  big *b = arg;
  volatile unsigned char *buf = __builtin_alloca(b->bytes);
  size_t i;

  for (i = 0; i < b->bytes; i++)
    buf[i] = (unsigned char)(i * 7);
  /* The contents survive a suspension. */
  b->r = exco_yield();
  b->ok = 1;
  for (i = 0; i < b->bytes; i++)
    if (buf[i] != (unsigned char)(i * 7))
      b->ok = 0;
  return NULL;
}

START_TEST(large_stack_use) {
  exco_executor *ex;
  exco_spawn_opts o;
  big b = {200 * KIB, 0, 1};

  memset(&o, 0, sizeof(o));
  o.stack_size = MIB;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_big, &b, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(b.r, 0);
  ck_assert_int_eq(b.ok, 1);
  /* Unguarded, same size. */
  b.ok = 0;
  o.flags = EXCO_SPAWN_NOGUARD;
  ck_assert_int_eq(exco_spawn(ex, fn_big, &b, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(b.ok, 1);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct deep {
  int depth;
  long sum;
  int r;
} deep;

static long recurse(deep *d, int n) {
  volatile char frame[512];
  long s;

  frame[0] = (char)n;
  frame[511] = (char)(n >> 3);
  if (n == 0) {
    d->r = exco_yield();
    return 0;
  }
  s = recurse(d, n - 1);
  return s + n + frame[0] - (char)n + frame[511] - (char)(n >> 3);
}

static void *fn_deep(void *arg) {
  deep *d = arg;

  d->sum = recurse(d, d->depth);
  return NULL;
}

START_TEST(deep_recursion) {
  exco_executor *ex;
  exco_spawn_opts o;
  deep d1 = {1000, 0, 1}, d2 = {150, 0, 1};

  memset(&o, 0, sizeof(o));
  o.stack_size = MIB;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  /* ~0.5 MiB of frames on a 1 MiB stack, suspended at the bottom. */
  ck_assert_int_eq(exco_spawn(ex, fn_deep, &d1, &o, NULL), 0);
  /* ~80 KiB on the default stack. */
  ck_assert_int_eq(exco_spawn(ex, fn_deep, &d2, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(d1.r, 0);
  ck_assert_int_eq(d1.sum, 1000L * 1001 / 2);
  ck_assert_int_eq(d2.sum, 150L * 151 / 2);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct small {
  int ok;
} small;

static void *fn_small(void *arg) {
  small *s = arg;
  volatile char buf[6 * 1024];

  memset((char *)buf, 1, sizeof(buf));
  s->ok = buf[0] + buf[sizeof(buf) - 1] == 2;
  return NULL;
}

START_TEST(tiny_stack_size_is_rounded_up) {
  exco_executor *ex;
  exco_spawn_opts o;
  small s = {0};

  memset(&o, 0, sizeof(o));
  o.stack_size = 1;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_small, &s, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(s.ok, 1);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* libc on the default stack                                               */
/* ---------------------------------------------------------------------- */

typedef struct libc_out {
  char fmt[512];
  char wfmt[256];
  char *mem;
  size_t memlen;
  char host[64];
  int gai;
  int r_yield;
} libc_out;

static void format_all(libc_out *o) {
  FILE *f;
  struct addrinfo hints, *res = NULL;
  wchar_t w[64];

  snprintf(o->fmt, sizeof(o->fmt),
           "%d|%ld|%lld|%u|%x|%o|%s|%.20s|%c|%f|%.17g|%e|%La|%Lf|%10.3f|%p|%zu",
           -42, 1234567890L, -123456789012345LL, 4000000000u, 0xbeefu, 0755u,
           "string", "a fairly long string that is cut", 'z', 3.14159265358979,
           1.0 / 3.0, 6.02214076e23, 1.5L, 2.718281828459045L, -0.5,
           (void *)(uintptr_t)0xabcdef, sizeof(*o));
  swprintf(w, 64, L"%ls %d %f", L"wide", 7, 0.25);
  if (wcstombs(o->wfmt, w, sizeof(o->wfmt) - 1) == (size_t)-1)
    o->wfmt[0] = '\0';
  f = open_memstream(&o->mem, &o->memlen);
  if (f != NULL) {
    fprintf(f, "%s %g %Lg\n", o->fmt, 1e300, 1e-300L);
    fclose(f);
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  o->gai = getaddrinfo("127.0.0.1", "80", &hints, &res);
  if (o->gai == 0) {
    getnameinfo(res->ai_addr, res->ai_addrlen, o->host, sizeof(o->host), NULL,
                0, NI_NUMERICHOST);
    freeaddrinfo(res);
  }
}

static void *fn_libc(void *arg) {
  libc_out *o = arg;

  o->r_yield = exco_yield();
  format_all(o);
  return NULL;
}

START_TEST(printf_family_on_default_stack) {
  exco_executor *ex;
  libc_out in, out;

  memset(&in, 0, sizeof(in));
  memset(&out, 0, sizeof(out));
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_libc, &out, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(out.r_yield, 0);
  /* Same results as on the thread's own stack. */
  format_all(&in);
  ck_assert_str_ne(out.fmt, "");
  ck_assert_str_eq(out.fmt, in.fmt);
  ck_assert_str_eq(out.mem, in.mem);
  ck_assert_str_eq(out.wfmt, "wide 7 0.250000");
  ck_assert_ptr_nonnull(out.mem);
  ck_assert_uint_gt(out.memlen, strlen(out.fmt));
  ck_assert_int_eq(out.gai, 0);
  ck_assert_str_eq(out.host, "127.0.0.1");
  free(in.mem);
  free(out.mem);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Many parked tasks                                                       */
/* ---------------------------------------------------------------------- */

/* A gate many tasks park on.  Each task registers its waker in its own
 * slot; opening the gate wakes them all. */
typedef struct gate {
  atomic_int open;
  exco_waker **slots;
  long nslots;
  long finished;
  long corrupt;
  long errors;
} gate;

typedef struct parked {
  gate *g;
  long id;
} parked;

static int gate_poll(void *arg, exco_waker *w) {
  parked *p = arg;
  gate *g = p->g;

  if (atomic_load(&g->open))
    return 1;
  if (g->slots[p->id] == NULL)
    g->slots[p->id] = exco_waker_clone(w);
  return 0;
}

static void gate_cancel(void *arg) {
  parked *p = arg;

  exco_waker_drop(p->g->slots[p->id]);
  p->g->slots[p->id] = NULL;
}

static void *fn_parked(void *arg) {
  parked *p = arg;
  volatile long marks[8];
  int i;

  for (i = 0; i < 8; i++)
    marks[i] = p->id * 8 + i;
  if (exco_await(gate_poll, gate_cancel, p) != 0)
    p->g->errors++;
  for (i = 0; i < 8; i++)
    if (marks[i] != p->id * 8 + i)
      p->g->corrupt++;
  p->g->finished++;
  return NULL;
}

static void gate_open(gate *g, long n) {
  long i;

  atomic_store(&g->open, 1);
  for (i = 0; i < n; i++) {
    exco_waker_wake(g->slots[i]);
    exco_waker_drop(g->slots[i]);
    g->slots[i] = NULL;
  }
}

/* ThreadSanitizer gives each coroutine a fiber: at most 8128 can be live
 * ("Thread limit exceeded. Dying."), and each costs ~0.4 ms to make. */
#ifdef H_TSAN
#define TSAN_CAP(n, cap) ((n) < (cap) ? (n) : (cap))
#else
#define TSAN_CAP(n, cap) (n)
#endif

/* Valgrind and ASan need mappings of their own and abort when they can't
 * have them ("Failed to mmap"); TSan can't hold ~32k fibers.  None of them
 * can run this. */
static int exhaust_skipped(void) {
  const char *v = getenv("EXCO_TEST_SKIP_EXHAUST");

#if defined(H_ASAN) || defined(H_TSAN)
  return 1;
#endif
  return h_under_valgrind() || (v != NULL && *v != '\0' && *v != '0');
}

START_TEST(guarded_stacks_exhaust_with_enomem) {
  const long limit = 200000;
  exco_executor *ex;
  parked *ps;
  gate g;
  exco_spawn_opts o;
  long n = 0, extra = 0;
  int r = 0;

  if (exhaust_skipped())
    return;
  memset(&g, 0, sizeof(g));
  ps = calloc((size_t)limit + 16, sizeof(*ps));
  g.slots = calloc((size_t)limit + 16, sizeof(*g.slots));
  ck_assert_ptr_nonnull(ps);
  ck_assert_ptr_nonnull(g.slots);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  while (n < limit) {
    ps[n].g = &g;
    ps[n].id = n;
    r = exco_spawn(ex, fn_parked, &ps[n], NULL, NULL);
    if (r != 0)
      break;
    n++;
    /* Park them as we go, so each has run on its stack. */
    if (n % 1024 == 0)
      exco_run_until_idle(ex);
  }
  ck_assert_msg(n < limit, "spawned %ld guarded stacks without failing", n);
  ck_assert_int_eq(r, EXCO_ENOMEM);
  if (getenv("EXCO_TEST_STACK_VERBOSE") != NULL)
    fprintf(stderr, "guarded stacks before ENOMEM: %ld\n", n);
  /* Each guarded stack splits a mapping: ~max_map_count / 2 fit. */
  ck_assert_int_gt(n, 1000);
  ck_assert_int_eq(exco_executor_live(ex), n);
  ck_assert_int_eq(exco_run_until_idle(ex), n);

  /* Unguarded stacks come from shared slabs and still work. */
  memset(&o, 0, sizeof(o));
  o.flags = EXCO_SPAWN_NOGUARD;
  for (extra = 0; extra < 8; extra++) {
    ps[n + extra].g = &g;
    ps[n + extra].id = n + extra;
    ck_assert_int_eq(exco_spawn(ex, fn_parked, &ps[n + extra], &o, NULL), 0);
  }
  ck_assert_int_eq(exco_run_until_idle(ex), n + extra);

  gate_open(&g, n + extra);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(g.finished, n + extra);
  ck_assert_int_eq(g.corrupt, 0);
  ck_assert_int_eq(g.errors, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  free(ps);
  free(g.slots);
}
END_TEST

START_TEST(many_unguarded_parked_tasks) {
  const long n = TSAN_CAP(h_scale(200000), 4000);
  exco_executor *ex;
  exco_spawn_opts o;
  parked *ps;
  gate g;
  long i, maps0, maps1;

  memset(&g, 0, sizeof(g));
  ps = calloc((size_t)n, sizeof(*ps));
  g.slots = calloc((size_t)n, sizeof(*g.slots));
  ck_assert_ptr_nonnull(ps);
  ck_assert_ptr_nonnull(g.slots);
  memset(&o, 0, sizeof(o));
  o.flags = EXCO_SPAWN_NOGUARD;
  maps0 = h_map_count(0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < n; i++) {
    ps[i].g = &g;
    ps[i].id = i;
    ck_assert_int_eq(exco_spawn(ex, fn_parked, &ps[i], &o, NULL), 0);
  }
  ck_assert_int_eq(exco_run_until_idle(ex), n);
  /* Slabs, not a mapping per stack.  (TSan maps memory per fiber, so
   * only count without sanitizers.) */
  maps1 = h_map_count(0);
  if (!H_SANITIZED)
    ck_assert_msg(maps1 - maps0 < 2000, "%ld mappings for %ld stacks",
                  maps1 - maps0, n);
  gate_open(&g, n);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(g.finished, n);
  ck_assert_int_eq(g.corrupt, 0);
  ck_assert_int_eq(g.errors, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  free(ps);
  free(g.slots);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Reuse                                                                   */
/* ---------------------------------------------------------------------- */

static void *fn_touch(void *arg) {
  volatile char buf[2048];

  buf[0] = 1;
  buf[2047] = 2;
  *(long *)arg += 1 + buf[0] + buf[2047] - 3;
  return NULL;
}

static void reuse_loop(unsigned flags) {
  const long n = TSAN_CAP(h_scale(100000), 2000);
  exco_executor *ex;
  exco_spawn_opts o;
  long ran = 0, i, maps0, maps1, guards0, guards1;
  double t0, dt;

  memset(&o, 0, sizeof(o));
  o.flags = flags;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  /* Warm the pool. */
  ck_assert_int_eq(exco_spawn(ex, fn_touch, &ran, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  maps0 = h_map_count(0);
  guards0 = h_map_count(1);
  t0 = h_now();
  for (i = 0; i < n; i++) {
    ck_assert_int_eq(exco_spawn(ex, fn_touch, &ran, &o, NULL), 0);
    ck_assert_int_eq(exco_run_until_idle(ex), 0);
  }
  dt = h_now() - t0;
  maps1 = h_map_count(0);
  guards1 = h_map_count(1);
  ck_assert_int_eq(ran, n + 1);
  ck_assert_msg(guards1 - guards0 < 4, "guard pages grew by %ld",
                guards1 - guards0);
  /* Sanitizer allocators map memory as they go; count all mappings only
   * without them. */
  if (!H_SANITIZED)
    ck_assert_msg(maps1 - maps0 < 16, "mappings grew by %ld", maps1 - maps0);
  /* With reuse this is about a microsecond a task; mapping a fresh stack
   * every time costs ~10 us (more under sanitizers). */
  ck_assert_msg(dt < 10.0, "%ld spawn/finish/drop took %.2f s", n, dt);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}

START_TEST(guarded_stacks_are_reused) {
  reuse_loop(0);
}
END_TEST

START_TEST(unguarded_stacks_are_reused) {
  reuse_loop(EXCO_SPAWN_NOGUARD);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Guard page                                                              */
/* ---------------------------------------------------------------------- */

static long overflow(long n) {
  volatile char frame[1024];

  frame[0] = (char)n;
  frame[1023] = (char)n;
  if (n > 100000000L)
    return 0;
  return overflow(n + 1) + frame[0] + frame[1023];
}

static void *fn_overflow(void *arg) {
  *(long *)arg = overflow(0);
  return NULL;
}

START_TEST(guard_page_stops_overflow) {
  pid_t pid;
  int status = 0;

  if (h_under_valgrind())
    return;
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    exco_executor *ex;
    long sink = 0;
    int devnull = open("/dev/null", O_WRONLY);

    /* Keep a sanitizer's overflow report out of the test log. */
    if (devnull >= 0)
      dup2(devnull, 2);

    if (exco_executor_new_local(&ex) != 0)
      _exit(3);
    if (exco_spawn(ex, fn_overflow, &sink, NULL, NULL) != 0)
      _exit(4);
    exco_run(ex);
    /* Getting here means 100 GB of stack went unnoticed. */
    _exit(0);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  /* Killed by SIGSEGV, or a sanitizer reported the overflow and exited
   * non-zero; not a normal exit, and not a setup failure. */
  if (WIFEXITED(status)) {
    ck_assert_int_ne(WEXITSTATUS(status), 0);
    ck_assert_int_ne(WEXITSTATUS(status), 3);
    ck_assert_int_ne(WEXITSTATUS(status), 4);
  } else {
    ck_assert(WIFSIGNALED(status));
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("stack");
  TCase *tc = h_tcase("size", 30);

  tcase_add_test(tc, large_stack_use);
  tcase_add_test(tc, deep_recursion);
  tcase_add_test(tc, tiny_stack_size_is_rounded_up);
  tcase_add_test(tc, printf_family_on_default_stack);
  tcase_add_test(tc, guard_page_stops_overflow);
  suite_add_tcase(s, tc);

  tc = h_tcase("many", 120);
  tcase_add_test(tc, guarded_stacks_exhaust_with_enomem);
  tcase_add_test(tc, many_unguarded_parked_tasks);
  tcase_add_test(tc, guarded_stacks_are_reused);
  tcase_add_test(tc, unguarded_stacks_are_reused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
