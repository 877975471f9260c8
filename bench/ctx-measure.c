/*
 * ctx-measure.c -- raw round trips through one copy of a context-switch
 * backend, for W6.
 *
 * This file is compiled once per backend (see bench/local.mk), each time
 * with per-target -D flags that rename src/context.h's functions to the
 * copy of one backend that is linked beside it, and bench_ctx_measure to
 * a name of its own:
 *   ucontext:    -DEXCO_CTX_COPY_UCONTEXT -Dexco__ctx_switch=bench_uc_switch
 *   swapcontext: -DEXCO_CTX_COPY_SWAPCONTEXT -Dexco__ctx_switch=bench_sc_...
 *   asm:         -DEXCO_CTX_COPY_ASM -Dexco__ctx_switch=bench_asm_switch ...
 * so the copies and libexco's own backend live in one program.
 * EXCO_CTX_COPY_* makes src/context.h give each copy its own layout of
 * exco__ctx, whichever backend config.h chose for libexco.
 */
#include "config.h"

#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "exco.h"

#include "context.h"
#include "ctx-copies.h"

#define STACK_SIZE (64 * 1024)

/* This copy measures nothing in sanitizer builds, nor as the asm copy on
 * a CPU without an assembly backend. */
#if defined(BENCH_CTX_SANITIZED) ||                                            \
    (defined(EXCO_CTX_COPY_ASM) && !defined(BENCH_HAVE_ASM_COPY))
#define BENCH_CTX_SKIP 1
#endif

int bench_ctx_measure(int create, long iters, uint64_t *elapsed_ns);

#ifndef BENCH_CTX_SKIP

static exco__ctx main_ctx, co_ctx;

static uint64_t now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The coroutine of the round-trip loop: every resume switches straight
 * back. */
static void bounce(void *arg) {
  (void)arg;
  for (;;)
    exco__ctx_switch(&co_ctx, &main_ctx);
}
#endif

/*
 * Measures @iters iterations of either a round trip (switch in, switch
 * back out) or a create (make a context on a reused stack, switch in,
 * switch back; the abandoned context needs no destroying).  Returns 0 and
 * the elapsed time, or EXCO_ENOTSUP when this copy is not built, or
 * EXCO_ENOMEM.
 */
int bench_ctx_measure(int create, long iters, uint64_t *elapsed_ns) {
#ifdef BENCH_CTX_SKIP
  (void)create;
  (void)iters;
  (void)elapsed_ns;
  return EXCO_ENOTSUP;
#else
  static void *stack;
  uint64_t t0;
  long i;
  int err;

  if (stack == NULL) {
    stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
      stack = NULL;
      return EXCO_ENOMEM;
    }
  }
  if (create) {
    t0 = now_ns();
    for (i = 0; i < iters; i++) {
      err = exco__ctx_make(&co_ctx, stack, STACK_SIZE, bounce, NULL);
      if (err != 0)
        return err;
      exco__ctx_switch(&main_ctx, &co_ctx);
    }
  } else {
    err = exco__ctx_make(&co_ctx, stack, STACK_SIZE, bounce, NULL);
    if (err != 0)
      return err;
    t0 = now_ns();
    for (i = 0; i < iters; i++)
      exco__ctx_switch(&main_ctx, &co_ctx);
  }
  *elapsed_ns = now_ns() - t0;
  return 0;
#endif
}
