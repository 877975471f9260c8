/*
 * context-swapcontext.c -- context switch with getcontext, makecontext
 * and swapcontext.  Implements src/context.h.  Selected with ./configure
 * --with-context=swapcontext.
 *
 * Slow: glibc's swapcontext saves and restores the signal mask with a
 * system call on every switch (context-ucontext.c switches without one).
 * It is kept because it relies on nothing beyond POSIX.1-2001's ucontext
 * functions: no _longjmp between stacks (outside ISO C, refused by
 * fortified and some non-glibc longjmps), and it works under a CET shadow
 * stack, where glibc's makecontext gives each context a shadow stack of
 * its own.  It is also the one backend where the signal mask belongs to
 * each coroutine (include/exco.h, THREADS), and exco-bench's baseline.
 * The floating-point environment is per context too: swapcontext saves
 * and restores it (glibc: the x87 environment and MXCSR on x86-64, fpcr
 * and fpsr on AArch64).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include <exco.h>

#include "context.h"

#ifndef EXCO_CONTEXT_SWAPCONTEXT
#error "config.h defines EXCO_CONTEXT_SWAPCONTEXT for this backend"
#endif

const char exco__ctx_backend[] = "swapcontext";

/*
 * makecontext() passes only int arguments to the new context's function.
 * Each pointer travels as two 32-bit halves, which is portable to every
 * ABI where a pointer fits in 64 bits (on 32-bit ABIs the high halves are
 * simply zero).  Unsigned arithmetic avoids implementation-defined
 * conversions of out-of-range values to int on the way back.
 */
#define HI(p) ((int)(unsigned)(((uint64_t)(uintptr_t)(p)) >> 32))
#define LO(p) ((int)(unsigned)((uint64_t)(uintptr_t)(p)&0xffffffffu))
#define JOIN(hi, lo)                                                           \
  ((uintptr_t)(((uint64_t)(unsigned)(hi) << 32) | (uint64_t)(unsigned)(lo)))

static void ctx_start(int entry_hi, int entry_lo, int arg_hi, int arg_lo) {
  exco__ctx_entry entry = (exco__ctx_entry)JOIN(entry_hi, entry_lo);
  void *arg = (void *)JOIN(arg_hi, arg_lo);

  entry(arg);
  /* entry must leave by switching away; uc_link is NULL, so returning
   * here would end the thread.  Fail loudly instead. */
  abort();
}

int exco__ctx_make(exco__ctx *ctx, void *stack_lo, size_t size,
                   exco__ctx_entry entry, void *arg) {
  if (getcontext(&ctx->uc) != 0)
    return EXCO_ENOMEM;
  ctx->uc.uc_stack.ss_sp = stack_lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_stack.ss_flags = 0;
  ctx->uc.uc_link = NULL;
  /* Casting between function pointer types and calling through the
   * original type is what the makecontext() interface requires. */
  makecontext(&ctx->uc, (void (*)(void))ctx_start, 4, HI(entry), LO(entry),
              HI(arg), LO(arg));
  return 0;
}

void exco__ctx_switch(exco__ctx *from, exco__ctx *to) {
  /* swapcontext fails only for invalid contexts, which would be a bug in
   * exco; continuing would run on a broken stack. */
  if (swapcontext(&from->uc, &to->uc) != 0)
    abort();
}
