/*
 * test-stack.c -- coroutine stacks (include/exco.h, STACKS): per-spawn
 * sizes, deep use, libc on the default stack, guard pages and
 * vm.max_map_count exhaustion, unguarded slabs with many parked tasks,
 * stack reuse, and the pools' limits (exco_set_stack_pool_limits()):
 * resident memory given back, pooled mappings that never starve a spawn
 * or pthread_create.
 */
#include "harness.h"

#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
/* Pool limits                                                             */
/* ---------------------------------------------------------------------- */

/* vm.max_map_count, or 0 if /proc doesn't say. */
static long max_map_count(void) {
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  long v = 0;

  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld", &v) != 1)
    v = 0;
  fclose(f);
  return v;
}

START_TEST(pool_limits_api) {
  exco_stack_pool_stats st;
  long max_maps = max_map_count();

  ck_assert_int_eq(exco_stack_pool_usage(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, 0), 0);
  ck_assert_int_eq(exco_stack_pool_usage(&st), 0);
  /* The defaults: 1/16 of memory within 64 and 512 MiB; the kernel's
   * map limit less a sixteenth. */
  ck_assert_uint_ge(st.resident_limit, 64 * MIB);
  ck_assert_uint_le(st.resident_limit, 512 * MIB);
  if (max_maps > 0)
    ck_assert_uint_eq(st.maps_limit, (size_t)max_maps - (size_t)max_maps / 16);
  ck_assert_int_eq(exco_set_stack_pool_limits(3 * MIB, 100), 0);
  ck_assert_int_eq(exco_stack_pool_usage(&st), 0);
  ck_assert_uint_eq(st.resident_limit, 3 * MIB);
  ck_assert_uint_eq(st.maps_limit, 100);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, 0), 0);
}
END_TEST

/* A parked task that writes @touch bytes of its stack first and checks
 * them after the gate opens. */
typedef struct deep_parked {
  parked p; /* first: gate_poll() gets a parked * */
  size_t touch;
  uintptr_t lo, hi; /* what it wrote */
} deep_parked;

static void *fn_deep_parked(void *arg) {
  deep_parked *d = arg;
  volatile unsigned char *buf = __builtin_alloca(d->touch);
  size_t i;

  for (i = 0; i < d->touch; i += 512)
    buf[i] = (unsigned char)(d->p.id + i / 512);
  d->lo = (uintptr_t)buf;
  d->hi = (uintptr_t)buf + d->touch;
  if (exco_await(gate_poll, gate_cancel, &d->p) != 0)
    d->p.g->errors++;
  for (i = 0; i < d->touch; i += 512)
    if (buf[i] != (unsigned char)(d->p.id + i / 512))
      d->p.g->corrupt++;
  d->p.g->finished++;
  return NULL;
}

/* Bytes of [lo, hi) that are resident, by mincore(); -1 if it fails. */
static long resident_in(uintptr_t lo, uintptr_t hi) {
  uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
  unsigned char vec[1024];
  size_t pages, i;
  long n = 0;

  lo &= ~(ps - 1);
  hi = (hi + ps - 1) & ~(ps - 1);
  pages = (hi - lo) / ps;
  if (pages > sizeof(vec) || mincore((void *)lo, hi - lo, vec) != 0)
    return -1;
  for (i = 0; i < pages; i++)
    n += vec[i] & 1;
  return n * (long)ps;
}

/* Spawns @n deep_parked tasks from ds[first], first + step, ..., parks
 * them on @g and returns how many spawned. */
static long park_deep(exco_executor *ex, deep_parked *ds, long n, gate *g,
                      size_t touch, const exco_spawn_opts *o) {
  long i;

  for (i = 0; i < n; i++) {
    ds[i].p.g = g;
    ds[i].p.id = i;
    ds[i].touch = touch;
    if (exco_spawn(ex, fn_deep_parked, &ds[i], o, NULL) != 0)
      break;
  }
  return i;
}

/*
 * n tasks each write 192 KiB of their stacks, all live at once, then all
 * finish.  The pool keeps every stack, but with a resident limit of 4 MiB
 * (against the 18 MiB they touched) all but 4 MiB of it is given back:
 * mincore() over what each task wrote says so, not just the counters.
 * A second round on the trimmed stacks works.
 */
static void resident_bounded(unsigned flags) {
  const long n = 96;
  const size_t limit = 4 * MIB, touch = 192 * KIB;
  const long ps = sysconf(_SC_PAGESIZE);
  exco_executor *ex;
  exco_spawn_opts o;
  exco_stack_pool_stats st;
  deep_parked *ds;
  gate g;
  long i, total = 0, round;

  memset(&o, 0, sizeof(o));
  o.flags = flags;
  ds = calloc((size_t)n, sizeof(*ds));
  ck_assert_ptr_nonnull(ds);
  ck_assert_int_eq(exco_set_stack_pool_limits(limit, 0), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (round = 0; round < 2; round++) {
    memset(&g, 0, sizeof(g));
    g.slots = calloc((size_t)n, sizeof(*g.slots));
    ck_assert_ptr_nonnull(g.slots);
    ck_assert_int_eq(park_deep(ex, ds, n, &g, touch, &o), n);
    ck_assert_int_eq(exco_run_until_idle(ex), n);
    gate_open(&g, n);
    ck_assert_int_eq(exco_run(ex), 0);
    ck_assert_int_eq(g.finished, n);
    ck_assert_int_eq(g.corrupt, 0);
    ck_assert_int_eq(g.errors, 0);
    free(g.slots);

    ck_assert_int_eq(exco_stack_pool_usage(&st), 0);
    ck_assert_uint_ge(st.pooled, (size_t)n);
    /* Trimmed unguarded stacks keep their top page (the canary of the
     * stack above), and count it. */
    ck_assert_uint_le(st.resident, flags ? limit + (size_t)(n * ps) : limit);
    total = 0;
    for (i = 0; i < n; i++) {
      long r = resident_in(ds[i].lo, ds[i].hi);
      ck_assert_int_ge(r, 0);
      total += r;
    }
    /* Each trimmed stack keeps its top page, which may hold the top of
     * what the task wrote. */
    ck_assert_msg(total <= (long)limit + n * ps,
                  "round %ld: %ld KiB of the pooled stacks resident, limit "
                  "%zu KiB",
                  round, total / 1024, limit / 1024);
  }
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, 0), 0);
  free(ds);
}

START_TEST(pooled_guarded_resident_is_bounded) {
  resident_bounded(0);
}
END_TEST

START_TEST(pooled_unguarded_resident_is_bounded) {
  resident_bounded(EXCO_SPAWN_NOGUARD);
}
END_TEST

/*
 * Unguarded stacks sit back to back in a slab, each one's canary in the
 * top page of the stack below.  Trimming a pooled stack must leave that
 * page alone: the tasks on the stacks above are live and check their
 * canaries at every switch (a clobbered one aborts the process).
 */
START_TEST(trimmed_unguarded_stacks_keep_canaries_above) {
  const long n = 64;
  exco_executor *ex;
  exco_spawn_opts o;
  deep_parked *ds;
  gate ga, gb;
  long i;

  memset(&o, 0, sizeof(o));
  o.flags = EXCO_SPAWN_NOGUARD;
  ds = calloc((size_t)n * 2, sizeof(*ds));
  ck_assert_ptr_nonnull(ds);
  memset(&ga, 0, sizeof(ga));
  memset(&gb, 0, sizeof(gb));
  ga.slots = calloc((size_t)n, sizeof(*ga.slots));
  gb.slots = calloc((size_t)n, sizeof(*gb.slots));
  ck_assert_ptr_nonnull(ga.slots);
  ck_assert_ptr_nonnull(gb.slots);
  /* Every stack pooled from now on is trimmed. */
  ck_assert_int_eq(exco_set_stack_pool_limits(1, 0), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  /* A and B alternate through the slab, lowest address first. */
  for (i = 0; i < n; i++) {
    ds[2 * i].p.g = &ga;
    ds[2 * i + 1].p.g = &gb;
    ds[2 * i].p.id = ds[2 * i + 1].p.id = i;
    ds[2 * i].touch = ds[2 * i + 1].touch = 32 * KIB;
    ck_assert_int_eq(exco_spawn(ex, fn_deep_parked, &ds[2 * i], &o, NULL), 0);
    ck_assert_int_eq(exco_spawn(ex, fn_deep_parked, &ds[2 * i + 1], &o, NULL),
                     0);
  }
  ck_assert_int_eq(exco_run_until_idle(ex), 2 * n);
  gate_open(&gb, n);
  ck_assert_int_eq(exco_run_until_idle(ex), n);
  ck_assert_int_eq(gb.finished, n);
  /* The B stacks are pooled and trimmed; the A tasks run on. */
  gate_open(&ga, n);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(ga.finished, n);
  ck_assert_int_eq(ga.corrupt + gb.corrupt, 0);
  ck_assert_int_eq(ga.errors + gb.errors, 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, 0), 0);
  free(ga.slots);
  free(gb.slots);
  free(ds);
}
END_TEST

/* Spawns @n guarded tasks of @size parked on one gate, then lets them all
 * finish.  Returns the first spawn error, or 0. */
static int burst(exco_executor *ex, size_t size, long n, parked *ps) {
  exco_spawn_opts o;
  gate g;
  long i, spawned;
  int r = 0;

  memset(&o, 0, sizeof(o));
  o.stack_size = size;
  memset(&g, 0, sizeof(g));
  g.slots = calloc((size_t)n, sizeof(*g.slots));
  ck_assert_ptr_nonnull(g.slots);
  for (i = 0; i < n; i++) {
    ps[i].g = &g;
    ps[i].id = i;
    if ((r = exco_spawn(ex, fn_parked, &ps[i], &o, NULL)) != 0)
      break;
    if (i % 1024 == 1023)
      exco_run_until_idle(ex);
  }
  spawned = i;
  exco_run_until_idle(ex);
  gate_open(&g, spawned);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(g.finished, spawned);
  ck_assert_int_eq(g.corrupt + g.errors, 0);
  free(g.slots);
  return r;
}

static void *thread_nop(void *arg) {
  return arg;
}

/* After the bursts: a spawn that needs a new mapping, and a thread. */
static void spawn_and_thread_still_work(exco_executor *ex) {
  exco_spawn_opts o;
  pthread_t th;
  long ran = 0;

  memset(&o, 0, sizeof(o));
  o.stack_size = 200 * KIB; /* a size no burst used */
  ck_assert_int_eq(exco_spawn(ex, fn_touch, &ran, &o, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(ran, 1);
  ck_assert_int_eq(pthread_create(&th, NULL, thread_nop, NULL), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
}

/*
 * Bursts of guarded tasks of 8 stack sizes, none live between bursts,
 * with a map limit of 400: whatever the bursts leave pooled takes at most
 * 400 mappings (the counters, and without sanitizers /proc/self/maps).
 */
START_TEST(pooled_mappings_stay_within_the_limit) {
  const long n = 300;
  const size_t limit = 400;
  exco_executor *ex;
  exco_stack_pool_stats st;
  parked *ps;
  long k, maps0, maps1;

  ps = calloc((size_t)n, sizeof(*ps));
  ck_assert_ptr_nonnull(ps);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, limit), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  maps0 = h_map_count(0);
  for (k = 0; k < 8; k++) {
    ck_assert_int_eq(burst(ex, (size_t)(k + 1) * 16 * KIB, n, ps), 0);
    ck_assert_int_eq(exco_stack_pool_usage(&st), 0);
    ck_assert_msg(st.maps <= limit, "burst %ld: %zu mappings pooled", k,
                  st.maps);
  }
  maps1 = h_map_count(0);
  if (!H_SANITIZED)
    ck_assert_msg(maps1 - maps0 <= (long)limit + 64,
                  "%ld more mappings after the bursts", maps1 - maps0);
  spawn_and_thread_still_work(ex);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, 0), 0);
  free(ps);
}
END_TEST

/*
 * The same with the default limits and the real vm.max_map_count: bursts
 * of guarded tasks of 8 sizes, each burst max_map_count / 16 + 256 tasks
 * (4,351 with the default 65530), would leave more mappings pooled than
 * the kernel allows the process if the pools kept them all (or kept 4,096
 * per size, as they once did).  Every burst spawns all its tasks, and
 * afterwards a spawn and a pthread_create still get their mappings.
 */
START_TEST(pooled_stacks_never_starve_the_process) {
  const long max_maps = max_map_count();
  long n, k;
  exco_executor *ex;
  parked *ps;

  /* A raised limit would take minutes to fill. */
  if (exhaust_skipped() || max_maps <= 0 || max_maps > 300000)
    return;
  n = max_maps / 16 + 256;
  ps = calloc((size_t)n, sizeof(*ps));
  ck_assert_ptr_nonnull(ps);
  ck_assert_int_eq(exco_set_stack_pool_limits(0, 0), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (k = 0; k < 8; k++) {
    int r = burst(ex, (size_t)(k + 1) * 16 * KIB, n, ps);
    ck_assert_msg(r == 0, "burst %ld (stacks of %ld KiB): spawn failed: %s", k,
                  (k + 1) * 16, exco_strerror(r));
  }
  spawn_and_thread_still_work(ex);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  free(ps);
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

  tc = h_tcase("pool", 120);
  tcase_add_test(tc, pool_limits_api);
  tcase_add_test(tc, pooled_guarded_resident_is_bounded);
  tcase_add_test(tc, pooled_unguarded_resident_is_bounded);
  tcase_add_test(tc, trimmed_unguarded_stacks_keep_canaries_above);
  tcase_add_test(tc, pooled_mappings_stay_within_the_limit);
  tcase_add_test(tc, pooled_stacks_never_starve_the_process);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
