/*
 * context.h -- the one small interface every context-switch backend
 * implements.  configure picks exactly one backend file:
 *   context-x86_64.S      minimal switch for x86-64 SysV (default there);
 *   context-aarch64.S     minimal switch for AArch64 (default there);
 *   context-ucontext.c    makecontext to create, __builtin_setjmp and
 *                         __builtin_longjmp to switch (default elsewhere;
 *                         ./configure --with-context=ucontext);
 *   context-swapcontext.c makecontext/swapcontext, a system call per
 *                         switch (./configure --with-context=swapcontext).
 * config.h defines EXCO_CONTEXT_UCONTEXT or EXCO_CONTEXT_SWAPCONTEXT for
 * the last two, and neither for the assembly backends.
 */
#ifndef EXCO_CONTEXT_H
#define EXCO_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * exco-bench compiles second copies of every backend into one program
 * (bench/local.mk).  Each copy names its backend with EXCO_CTX_COPY_*,
 * which overrides the choice config.h made for libexco.
 */
#if defined(EXCO_CTX_COPY_UCONTEXT)
#undef EXCO_CONTEXT_SWAPCONTEXT
#undef EXCO_CONTEXT_UCONTEXT
#define EXCO_CONTEXT_UCONTEXT 1
#elif defined(EXCO_CTX_COPY_SWAPCONTEXT)
#undef EXCO_CONTEXT_UCONTEXT
#undef EXCO_CONTEXT_SWAPCONTEXT
#define EXCO_CONTEXT_SWAPCONTEXT 1
#elif defined(EXCO_CTX_COPY_ASM)
#undef EXCO_CONTEXT_UCONTEXT
#undef EXCO_CONTEXT_SWAPCONTEXT
#endif

#if defined(EXCO_CONTEXT_UCONTEXT)
typedef struct exco__ctx {
  void *jb[5];    /* where it resumes: __builtin_setjmp's buffer */
  void *start;    /* until its first entry: the stack's top (see .c) */
  uint64_t fpctl; /* floating-point control modes, saved at switch-out */
} exco__ctx;
#elif defined(EXCO_CONTEXT_SWAPCONTEXT)
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
 * aligned as the ABI requires.  The new context starts with the
 * floating-point control modes of the thread calling this.  Returns 0, or
 * a negative EXCO_E* code (swapcontext: getcontext failure).
 */
int exco__ctx_make(exco__ctx *ctx, void *stack_lo, size_t size,
                   exco__ctx_entry entry, void *arg);

/*
 * Saves the running context in @from and resumes @to.  Returns when some
 * later switch resumes @from.  Saves the callee-saved registers and the
 * floating-point control modes (mxcsr/x87 CW on x86-64, fpcr on AArch64;
 * see each backend for the others).  The signal mask is the thread's:
 * only the swapcontext backend switches it.
 */
void exco__ctx_switch(exco__ctx *from, exco__ctx *to);

/*
 * The same, for a switch into a context suspended at the same call site
 * (one coroutine to another, exco_yield()): on x86-64 it returns with ret
 * instead of an indirect jump, which the return stack buffer predicts
 * there.  Elsewhere it is exco__ctx_switch().
 */
#if defined(__x86_64__) && !defined(EXCO_CONTEXT_UCONTEXT) &&                  \
    !defined(EXCO_CONTEXT_SWAPCONTEXT)
void exco__ctx_switch_sibling(exco__ctx *from, exco__ctx *to);
#else
#define exco__ctx_switch_sibling exco__ctx_switch
#endif

/*
 * Hints that @ctx will be switched to soon: where the assembly backends
 * keep a suspended context (the top of its stack) starts loading.  A
 * prefetch never faults, whatever the pointer.
 */
/* Two lines: a third (sp + 128) measured slower at W2 N = 10,000 (175-233
 * against 93-160 ns, A/B interleaved), as it often lies past the stack's
 * top, on another page. */
static inline void exco__ctx_prefetch(const exco__ctx *ctx) {
#if !defined(EXCO_CONTEXT_UCONTEXT) && !defined(EXCO_CONTEXT_SWAPCONTEXT)
  __builtin_prefetch(ctx->sp, 1);
  __builtin_prefetch((char *)ctx->sp + 64, 1);
#else
  (void)ctx;
#endif
}

/* "asm", "ucontext" or "swapcontext". */
extern const char exco__ctx_backend[];

#endif
