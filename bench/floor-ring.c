/*
 * floor-ring.c -- the floor of W2 at large N: what resuming N coroutines
 * round robin costs with nothing of exco's but its assembly switch and its
 * stack geometry (256 KiB usable, first frames coloured as src/stack.c
 * does), a 256-byte record per coroutine on the heap read and written on
 * every resume (exco's task line), with and without the run queue's
 * prefetch, for three guards below each stack (1 MiB as exco's default,
 * 4 KiB, none).  Not built by make; from the top of the tree:
 *
 *   gcc -O2 -c -Dexco__ctx_switch=b_switch -Dexco__ctx_make=b_make \
 *       -Dexco__ctx_start=b_start -Dexco__ctx_backend=b_be \
 *       src/context-x86_64.S -o /tmp/b.o
 *   gcc -O2 bench/floor-ring.c /tmp/b.o -o /tmp/floor-ring
 *   /tmp/floor-ring 10000 30     # N, rounds of N resumes per measurement
 *
 * BENCHMARKS.md has its numbers next to exco-bench's W2.
 */
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
typedef struct rec {
  ctx c;
  struct rec *next;
  long polls;
  char pad[256 - 24];
} rec;
static ctx mainc;
static void body(void *arg) {
  rec *r = arg;
  for (;;)
    b_switch(&r->c, &mainc);
}
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}
static rec *ring(long n, size_t guard) {
  size_t ss = 256 * 1024;
  rec *recs = aligned_alloc(64, n * sizeof(rec));
  memset(recs, 0, n * sizeof(rec));
  for (long i = 0; i < n; i++) {
    char *m = mmap(NULL, ss + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard)
      mprotect(m, guard, PROT_NONE);
    b_make(&recs[i].c, m + guard, ss - (i % 32) * 64, body, &recs[i]);
    recs[i].next = &recs[(i + 1) % n];
    b_switch(&mainc, &recs[i].c);
  }
  return recs;
}
static double run(rec *recs, long n, long k, int pf) {
  double t0 = now();
  for (long j = 0; j < k; j++) {
    rec *r = &recs[0];
    for (long i = 0; i < n; i++) {
      rec *nx = r->next;
      if (pf) {
        __builtin_prefetch(nx->next, 1);
        __builtin_prefetch(nx->c.sp, 1);
        __builtin_prefetch((char *)nx->c.sp + 64, 1);
      }
      r->polls++;
      b_switch(&mainc, &r->c);
      r = nx;
    }
  }
  return (now() - t0) / (double)(n * k);
}
int main(int argc, char **argv) {
  long n = atol(argv[1]), k = atol(argv[2]);
  size_t guards[3] = {1024 * 1024, 4096, 0};
  rec *rings[3];
  double best[3][2];
  for (int g = 0; g < 3; g++) {
    rings[g] = ring(n, guards[g]);
    best[g][0] = best[g][1] = 1e9;
  }
  for (int round = 0; round < 9; round++)
    for (int g = 0; g < 3; g++)
      for (int pf = 0; pf < 2; pf++) {
        double t = run(rings[g], n, k, pf);
        if (t < best[g][pf])
          best[g][pf] = t;
      }
  for (int g = 0; g < 3; g++)
    printf("guard %7zu B: no prefetch %.1f ns, prefetch %.1f ns (min of 9)\n",
           guards[g], best[g][0], best[g][1]);
  return 0;
}
