/*
 * context.h -- the one small interface every context-switch backend
 * implements.  configure picks exactly one backend file:
 *   context-x86_64.S   minimal switch for x86-64 SysV (default there);
 *   context-aarch64.S  minimal switch for AArch64 (default there);
 *   context-ucontext.c makecontext/swapcontext (always builds;
 *                      ./configure --with-context=ucontext).
 * EXCO_CONTEXT_UCONTEXT is defined in config.h for the last one.
 */
#ifndef EXCO_CONTEXT_H
#define EXCO_CONTEXT_H

#include <stddef.h>

#ifdef EXCO_CONTEXT_UCONTEXT
#include <ucontext.h>
typedef struct exco__ctx {
  ucontext_t uc;
} exco__ctx;
#else
/* The assembly backends keep everything else on the suspended stack. */
typedef struct exco__ctx {
  void *sp;
} exco__ctx;
#endif

/* Entry point of a new context.  It must never return: it leaves by
 * switching away for the last time. */
typedef void (*exco__ctx_entry)(void *arg);

/*
 * Prepares @ctx so that the first exco__ctx_switch() to it calls
 * entry(arg) on the stack [stack_lo, stack_lo + size).  The stack top is
 * aligned as the ABI requires.  Returns 0, or a negative EXCO_E* code
 * (ucontext: getcontext failure).
 */
int exco__ctx_make(exco__ctx *ctx, void *stack_lo, size_t size,
                   exco__ctx_entry entry, void *arg);

/*
 * Saves the running context in @from and resumes @to.  Returns when some
 * later switch resumes @from.  Saves the callee-saved registers and the
 * floating-point control words (mxcsr/x87 CW on x86-64, fpcr on AArch64).
 */
void exco__ctx_switch(exco__ctx *from, exco__ctx *to);

/* "asm" or "ucontext". */
extern const char exco__ctx_backend[];

#endif
