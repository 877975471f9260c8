/*
 * floor-ladder.c -- bench/floor-ring.c grown towards exco one step at a
 * time, for gap-report.md: N coroutines on exco's assembly switch and
 * exco's stack geometry (256 KiB usable, a guard below each, first frames
 * coloured by a multiple of 64 B under 2 KiB), each with a 256-byte
 * record laid out as exco_task's first line, resumed round robin with the
 * run queue's prefetch (the record two ahead, the stack lines of the next
 * one).  Each variant is a set of steps:
 *
 *   D  deep: the coroutine yields through a function shaped as
 *      exco_yield() (its own frame, the current task from a call that
 *      can't be inlined, the cancel bit checked before and after, the
 *      wait label set and cleared, errno kept across the switch through
 *      two calls), so its stack holds exco's frames, not one switch frame
 *   Q  queue: the poller takes the next record from a linked FIFO (head,
 *      tail pointer) and appends it again after the resume, as
 *      exco_driver_run() does, instead of following a fixed ring
 *   G  glue: the poller's side of a kept yield as exco's
 *      (exco__task_run_claimed()): the kept flag cleared and set, the poll
 *      counter, the thread's current task set and restored around the
 *      switch, the finished / yielded / host_fn checks, the caller's
 *      context saved in the record
 *   H  heap: records from malloc() one by one (exco__task_alloc()'s 320-B
 *      chunks) instead of one array
 *   N  no prefetch at all
 *   I  as D, but the yield function inlined into the coroutine's loop:
 *      the same work without the call and the return
 *   2  (with Q) prefetch one step further: the stack lines of the task
 *      after next, the record three ahead
 *
 * Variants run interleaved (A, B, C, A, B, C, ...) on one set of stacks
 * (H and plain use separate records), min and median of R measurements
 * of K rounds of N resumes each; wall clock and thread CPU time.  Not
 * built by make; from the top of the tree:
 *
 *   gcc -O2 -c -Dexco__ctx_switch=b_switch -Dexco__ctx_make=b_make \
 *       -Dexco__ctx_start=b_start -Dexco__ctx_backend=b_be \
 *       src/context-x86_64.S -o /tmp/b.o
 *   gcc -O2 bench/floor-ladder.c /tmp/b.o -o /tmp/floor-ladder
 *   /tmp/floor-ladder N K R GUARD VARIANT...   # e.g. 10000 20 9 1048576 - D DQG
 *
 * VARIANT "-" is the plain floor (bench/floor-ring.c's prefetch case).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef struct {
  void *sp;
} ctx;
void b_switch(ctx *, ctx *);
int b_make(ctx *, void *, size_t, void (*)(void *), void *);

/* exco_task's line 0, field for field (offsets as in src/exco-internal.h
 * on x86-64). */
typedef struct rec {
  _Atomic unsigned state;
  _Atomic unsigned flags;
  unsigned char started, finished, yielded, noguard;
  atomic_uchar kept;
  unsigned char site_set;
  struct rec *rq_next; /* 0x10 */
  ctx c;               /* 0x18 */
  ctx caller;          /* 0x20 */
  void (*host_fn)(void *);
  atomic_ulong polls;
  _Atomic(const char *) wait_kind; /* 0x38 */
  struct rec *ring;                /* line 1: the fixed ring's link */
  char pad[256 - 72];
} rec;

static int deep;     /* D, read by the coroutines */
static int use_heap; /* which record set a variant runs on */

static __thread rec *tls_current;

__attribute__((noinline)) static rec *current(void) {
  rec *r = tls_current;
  __asm__ volatile("" ::: "memory");
  return r;
}

__attribute__((noinline)) static int *errno_ptr(void) {
  __asm__ volatile("" ::: "memory");
  return &errno;
}

/* exco_yield()'s shape. */
#define DEEP_YIELD_BODY                                                        \
  rec *t = current();                                                          \
  int saved;                                                                   \
                                                                               \
  if (t == NULL)                                                               \
    return -1;                                                                 \
  if (atomic_load_explicit(&t->flags, memory_order_relaxed) & 1)               \
    return -125;                                                               \
  t->yielded = 1;                                                              \
  atomic_store_explicit(&t->wait_kind, "yield", memory_order_relaxed);         \
  saved = errno;                                                               \
  if (t->noguard)                                                              \
    abort();                                                                   \
  b_switch(&t->c, &t->caller);                                                 \
  *errno_ptr() = saved;                                                        \
  atomic_store_explicit(&t->wait_kind, NULL, memory_order_relaxed);            \
  if (t->site_set)                                                             \
    t->site_set = 0;                                                           \
  return atomic_load_explicit(&t->flags, memory_order_relaxed) & 1 ? -125 : 0;

/* The same, inlined into its caller: no return after the switch. */
static inline __attribute__((always_inline)) int inline_yield(void) {
  DEEP_YIELD_BODY
}

__attribute__((noinline)) static int deep_yield(void) {
  DEEP_YIELD_BODY
}

static volatile long sink;

static void body(void *arg) {
  (void)arg;
  for (;;) {
    if (deep == 1) {
      if (deep_yield() != 0)
        abort();
      sink++;
    } else if (deep == 2) {
      if (inline_yield() != 0)
        abort();
      sink++;
    } else {
      rec *t = tls_current;
      b_switch(&t->c, &t->caller);
    }
  }
}

static double now(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static size_t ss = 256 * 1024;
/* Bytes taken off each stack's top (SHIFT): moves every frame by as much
 * against the cache lines. */
static size_t shift;

static rec **make(long n, int heap) {
  rec **v = malloc(n * sizeof(*v));
  rec *arr = NULL;

  if (!heap) {
    arr = aligned_alloc(64, n * sizeof(rec));
    memset(arr, 0, n * sizeof(rec));
  }
  for (long i = 0; i < n; i++) {
    if (heap) {
      /* A 320-byte chunk, the record on its first line boundary. */
      char *p = malloc(320);
      v[i] = (rec *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
      memset(v[i], 0, sizeof(rec));
    } else {
      v[i] = &arr[i];
    }
  }
  return v;
}

static void start(rec **v, long n, size_t guard) {
  for (long i = 0; i < n; i++) {
    char *m = mmap(NULL, ss + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      perror("mmap");
      exit(1);
    }
    if (guard)
      mprotect(m, guard, PROT_NONE);
    b_make(&v[i]->c, m + guard, ss - (i % 32) * 64 - shift, body, v[i]);
    v[i]->ring = v[(i + 1) % n];
    tls_current = v[i];
    b_switch(&v[i]->caller, &v[i]->c);
  }
}

/* Copies the suspended contexts of @from into @to (same stacks). */
static void adopt(rec **to, rec **from, long n) {
  for (long i = 0; i < n; i++) {
    to[i]->c = from[i]->c;
    to[i]->ring = to[(i + 1) % n];
  }
}

typedef struct variant {
  const char *name;
  int d, q, g, h, nopf, ahead2;
  double wall[64], cpu[64];
} variant;

static rec *qhead, **qtail;

static void queue_all(rec **v, long n) {
  qhead = NULL;
  qtail = &qhead;
  for (long i = 0; i < n; i++) {
    v[i]->rq_next = NULL;
    *qtail = v[i];
    qtail = &v[i]->rq_next;
  }
}

/* The resume, plain or with exco's glue. */
static inline void resume(rec *t, int g) {
  if (g) {
    rec *prev = tls_current;
    atomic_store_explicit(&t->kept, 0, memory_order_relaxed);
    atomic_store_explicit(
        &t->polls, atomic_load_explicit(&t->polls, memory_order_relaxed) + 1,
        memory_order_relaxed);
    tls_current = t;
    b_switch(&t->caller, &t->c);
    tls_current = prev;
    if (__builtin_expect(t->host_fn != NULL, 0))
      abort();
    if (__builtin_expect(t->finished, 0))
      abort();
    if (t->yielded) {
      t->yielded = 0;
      atomic_store_explicit(&t->kept, 1, memory_order_relaxed);
    }
  } else {
    /* The coroutine finds its record here (it may have moved, H). */
    tls_current = t;
    t->polls++;
    b_switch(&t->caller, &t->c);
  }
}

/* 2: the stack of the task after next, the record three ahead. */
static void pf2(rec *next) {
  rec *after = next->rq_next, *third;
  if (after == NULL)
    return;
  third = after->rq_next;
  if (third != NULL)
    __builtin_prefetch(third, 1);
  __builtin_prefetch(after->c.sp, 1);
  __builtin_prefetch((char *)after->c.sp + 64, 1);
}

static void pf(rec *next, int on) {
  if (!on || next == NULL)
    return;
  rec *after = next->rq_next;
  if (after != NULL)
    __builtin_prefetch(after, 1);
  __builtin_prefetch(next->c.sp, 1);
  __builtin_prefetch((char *)next->c.sp + 64, 1);
}

static void pf_ring(rec *next, int on) {
  if (!on)
    return;
  __builtin_prefetch(next->ring, 1);
  __builtin_prefetch(next->c.sp, 1);
  __builtin_prefetch((char *)next->c.sp + 64, 1);
}

static void run(variant *va, rec **v, long n, long k, double *wall,
                double *cpu) {
  double t0, c0;

  deep = va->d;
  /* One untimed round: the coroutines take the variant's path. */
  for (int timed = 0; timed < 2; timed++) {
    long rounds = timed ? k : 1;
    if (timed) {
      t0 = now(CLOCK_MONOTONIC);
      c0 = now(CLOCK_THREAD_CPUTIME_ID);
    }
    if (va->q) {
      queue_all(v, n);
      for (long i = 0; i < n * rounds; i++) {
        rec *t = qhead;
        qhead = t->rq_next;
        if (qhead == NULL)
          qtail = &qhead;
        else if (va->ahead2)
          pf2(qhead);
        else
          pf(qhead, !va->nopf);
        resume(t, va->g);
        t->rq_next = NULL;
        *qtail = t;
        qtail = &t->rq_next;
      }
    } else {
      for (long j = 0; j < rounds; j++) {
        rec *t = v[0];
        for (long i = 0; i < n; i++) {
          rec *nx = t->ring;
          pf_ring(nx, !va->nopf);
          resume(t, va->g);
          t = nx;
        }
      }
    }
  }
  *wall = (now(CLOCK_MONOTONIC) - t0) / (double)(n * k);
  *cpu = (now(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)(n * k);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: floor-ladder N K R GUARD VARIANT...\n");
    return 2;
  }
  if (getenv("SHIFT") != NULL)
    shift = (size_t)atol(getenv("SHIFT"));
  long n = atol(argv[1]), k = atol(argv[2]);
  int reps = atoi(argv[3]), nv = 0;
  size_t guard = (size_t)atol(argv[4]);
  variant vs[16];
  rec **arr, **heap = NULL;

  if (reps > 64)
    reps = 64;
  for (int i = 5; i < argc && nv < 16; i++) {
    variant *va = &vs[nv++];
    memset(va, 0, sizeof(*va));
    va->name = argv[i];
    va->d = strchr(argv[i], 'D') != NULL   ? 1
            : strchr(argv[i], 'I') != NULL ? 2
                                           : 0;
    va->ahead2 = strchr(argv[i], '2') != NULL;
    va->q = strchr(argv[i], 'Q') != NULL;
    va->g = strchr(argv[i], 'G') != NULL;
    va->h = strchr(argv[i], 'H') != NULL;
    va->nopf = strchr(argv[i], 'N') != NULL;
    use_heap |= va->h;
  }
  arr = make(n, 0);
  start(arr, n, guard);
  if (use_heap)
    heap = make(n, 1);
  for (int r = 0; r < reps; r++)
    for (int i = 0; i < nv; i++) {
      rec **v = vs[i].h ? heap : arr;
      /* The suspended contexts live in whichever record set ran last. */
      static rec **last;
      if (last == NULL)
        last = arr;
      if (v != last) {
        adopt(v, last, n);
        last = v;
      }
      run(&vs[i], v, n, k, &vs[i].wall[r], &vs[i].cpu[r]);
    }
  for (int i = 0; i < nv; i++) {
    qsort(vs[i].wall, reps, sizeof(double), cmp);
    qsort(vs[i].cpu, reps, sizeof(double), cmp);
    printf("%-8s wall min %6.1f med %6.1f   cpu min %6.1f med %6.1f "
           "ns/yield (N %ld, guard %zu, %d reps)\n",
           vs[i].name, vs[i].wall[0], vs[i].wall[reps / 2], vs[i].cpu[0],
           vs[i].cpu[reps / 2], n, guard, reps);
  }
  return 0;
}
