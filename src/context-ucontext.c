/*
 * context-ucontext.c -- context switch for any CPU GCC targets:
 * makecontext to create a context, __builtin_setjmp/__builtin_longjmp to
 * switch.  Implements src/context.h.  Selected with ./configure
 * --with-context=ucontext, and by default where there is no assembly
 * backend.
 *
 * glibc's swapcontext saves and restores the signal mask with a system
 * call on every switch (context-swapcontext.c still does that).  This
 * backend uses the ucontext functions only to get onto a new stack the
 * first time and switches without them afterwards: no system call, and
 * the signal mask is the thread's, whichever coroutine runs
 * (include/exco.h, THREADS).
 *
 * The switch: __builtin_setjmp, not libc's _setjmp/_longjmp.  The builtin
 * stores three words (frame pointer, stack pointer, resume label), and
 * the compiler saves every callee-saved register, integer and
 * floating-point, in the prologue of the function that calls it and
 * restores them in its epilogue, as it must for its own setjmp/longjmp
 * exceptions on every target.  So exco__ctx_switch keeps exactly the
 * callee-saved state, in its own frame like the assembly backends (the
 * cross tests check it on x86-64, AArch64, RISC-V, POWER and s390x:
 * tests/cross-run.sh).  libc's functions would do the same with more
 * around them: glibc's fortified _longjmp (__longjmp_chk, the default
 * with _FORTIFY_SOURCE) aborts on a jump to another stack, the plain one
 * runs thread-cancellation unwinding first, and ThreadSanitizer
 * intercepts both and files each jmp_buf under the fiber that saved it,
 * which a switch between fibers breaks.  Measured here: 32 ns per round
 * trip with _setjmp/_longjmp against 21 ns with the builtins (BENCHMARKS.md,
 * W6).  configure checks that the compiler has the builtins (GCC has them
 * everywhere; Clang lacks them on some targets) and falls back to
 * --with-context=swapcontext where it doesn't.
 *
 * Creation.  Stacks are pooled and reused (src/stack.c), so a context's
 * first entry goes through the ucontext functions only once per stack:
 * the first time, the switch builds a ucontext with getcontext and
 * makecontext and enters it with setcontext (two system calls, for the
 * signal mask; the mask it sets is the one getcontext just read, so it
 * doesn't change).  The trampoline running there parks itself with
 * __builtin_setjmp in a small block at the top of the stack (struct
 * uc_top) and calls the entry function.  A later context made on the same
 * stack enters by __builtin_longjmp to that parked trampoline, without a
 * system call, and it calls the new entry function.  The trampoline's
 * frame lies above every frame of the entry function, so it survives the
 * previous coroutine's whole life, however that ended.
 *
 * Floating-point control modes (the rounding direction, and where the CPU
 * keeps them in the same register, trap enables and flush-to-zero) are
 * per context, as in the assembly backends: saved at each switch-out,
 * restored when the context resumes, and a new context starts with its
 * creator's.  Per CPU, inline:
 *   x86-64, i386  the whole MXCSR (when SSE is on) and the x87 control
 *                 word, exactly as context-x86_64.S does;
 *   AArch64       FPCR, as context-aarch64.S does;
 *   RISC-V        frm, the rounding-mode field of fcsr (fflags are
 *                 status, left alone);
 *   POWER         FPSCR fields 6 and 7: the trap enables, NI and RN (the
 *                 status fields are left alone);
 *   s390x         the FPC's masks and rounding modes (not its flags);
 *   other CPUs    fegetround()/fesetround(): the rounding direction only
 *                 (two calls per switch), as ISO C has no portable access
 *                 to the other modes.
 * The exception status flags follow the thread on most of these and the
 * context on x86-64's MXCSR; include/exco.h leaves them unspecified.
 *
 * Limits: like the assembly backends, this can't run under a CET shadow
 * stack (only swapcontext switches shadow stacks); glibc enables those
 * only on request.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include <exco.h>

#include "context.h"

#ifndef EXCO_CONTEXT_UCONTEXT
#error "configure defines EXCO_CONTEXT_UCONTEXT in config.h for this backend"
#endif

#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__) &&     \
    !(defined(__riscv) && defined(__riscv_flen)) &&                            \
    !(defined(__powerpc__) && !defined(_SOFT_FLOAT) &&                         \
      !defined(__NO_FPRS__)) &&                                                \
    !defined(__s390x__)
#define UC_FPCTL_FENV 1
#include <fenv.h>
#endif

/*
 * The functions that run across a switch are not instrumented by the
 * sanitizers.  ASan: an instrumented call to a noreturn function asks it
 * about the stack, which it can't answer before the switch is finished.
 * TSan: the function entries and exits it records would be pushed on one
 * fiber's shadow stack and popped from another's, which overflowed it
 * after some 65,000 switches (tests/conformance, 10,000 tasks).
 */
#define UC_NO_ASAN __attribute__((no_sanitize_address, no_sanitize_thread))

const char exco__ctx_backend[] = "ucontext";

/* ---- floating-point control modes -------------------------------------- */

/* The control modes of the running thread, packed in 64 bits. */
static inline uint64_t fpctl_get(void) {
#if defined(__x86_64__) || defined(__i386__)
  uint32_t mxcsr = 0;
  uint16_t cw;

#if defined(__SSE__)
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
#endif
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  return (uint64_t)cw << 32 | mxcsr;
#elif defined(__aarch64__)
  uint64_t fpcr;

  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
#elif defined(__riscv)
  unsigned long frm;

  __asm__ volatile("frrm %0" : "=r"(frm));
  return frm;
#elif defined(__powerpc__)
  union {
    double d;
    uint64_t u;
  } f;

  __asm__ volatile("mffs %0" : "=f"(f.d));
  return f.u & 0xff; /* FPSCR fields 6 and 7: VE OE UE ZE, XE NI RN */
#elif defined(__s390x__)
  unsigned int fpc;

  __asm__ volatile("efpc %0" : "=d"(fpc));
  return fpc & 0xff000077u; /* masks; DFP and BFP rounding modes */
#else
  return (uint64_t)(unsigned)fegetround();
#endif
}

/* Makes @v (from fpctl_get) the running thread's control modes. */
static inline void fpctl_set(uint64_t v) {
#if defined(__x86_64__) || defined(__i386__)
  uint32_t mxcsr = (uint32_t)v;
  uint16_t cw = (uint16_t)(v >> 32);

#if defined(__SSE__)
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
#else
  (void)mxcsr;
#endif
  __asm__ volatile("fldcw %0" : : "m"(cw));
#elif defined(__aarch64__)
  __asm__ volatile("msr fpcr, %0" : : "r"(v));
#elif defined(__riscv)
  __asm__ volatile("fsrm %0" : : "r"((unsigned long)v));
#elif defined(__powerpc__)
  union {
    double d;
    uint64_t u;
  } f;

  f.u = v;
  __asm__ volatile("mtfsf 0x03, %0" : : "f"(f.d));
#elif defined(__s390x__)
  unsigned int fpc;

  __asm__ volatile("efpc %0" : "=d"(fpc));
  fpc = (fpc & ~0xff000077u) | (unsigned int)v;
  __asm__ volatile("sfpc %0" : : "d"(fpc));
#else
  (void)fesetround((int)v);
#endif
}

/* ---- the top of each stack ---------------------------------------------- */

/*
 * The block at the top of a context's stack; the stack given to
 * makecontext ends right below it.  exco__ctx_make writes what the next
 * entry runs; the trampoline parks there.
 */
typedef struct uc_top {
  uintptr_t parked; /* PARKED ^ the block's address while parked */
  void *lo;         /* the stack's lowest address */
  exco__ctx_entry entry;
  void *arg;
  uint64_t fpctl; /* the creator's control modes */
  void *park[5];  /* the parked trampoline (__builtin_setjmp) */
} uc_top;

#define PARKED ((uintptr_t)0x7563746f70a7c0deull)

/* Below the stack top, on a cache line of its own. */
static uc_top *top_of(void *lo, size_t size) {
  uintptr_t hi = (uintptr_t)lo + size;

  return (uc_top *)((hi - sizeof(uc_top)) & ~(uintptr_t)63);
}

/*
 * makecontext() passes only int arguments to the new context's function.
 * The pointer travels as two 32-bit halves, which is portable to every
 * ABI where a pointer fits in 64 bits (on 32-bit ABIs the high half is
 * simply zero).  Unsigned arithmetic avoids implementation-defined
 * conversions of out-of-range values to int on the way back.
 */
#define HI(p) ((int)(unsigned)(((uint64_t)(uintptr_t)(p)) >> 32))
#define LO(p) ((int)(unsigned)((uint64_t)(uintptr_t)(p)&0xffffffffu))
#define JOIN(hi, lo)                                                           \
  ((uintptr_t)(((uint64_t)(unsigned)(hi) << 32) | (uint64_t)(unsigned)(lo)))

/* Resumes the context saved in @buf.  __builtin_longjmp may not be used
 * in the function that calls __builtin_setjmp, hence a function. */
static UC_NO_ASAN __attribute__((noinline, noreturn)) void jump(void **buf) {
  __builtin_longjmp(buf, 1);
}

/*
 * Runs the entry function exco__ctx_make stored last; never returns.
 * This and the trampoline run before the entry function tells ASan that
 * the switch to this stack is over, so they must not be instrumented (an
 * instrumented call to a noreturn function asks ASan about the stack).
 */
static UC_NO_ASAN __attribute__((noinline, noreturn)) void run(uc_top *top) {
  fpctl_set(top->fpctl);
  top->entry(top->arg);
  /* entry must leave by switching away; uc_link is NULL, so returning
   * would end the thread.  Fail loudly instead. */
  abort();
}

/* The first function on a fresh stack.  @self is volatile because it is
 * read again after a _longjmp back to the park. */
static UC_NO_ASAN void trampoline(int top_hi, int top_lo) {
  uc_top *volatile self = (uc_top *)JOIN(top_hi, top_lo);

  if (__builtin_setjmp(self->park) == 0)
    self->parked = PARKED ^ (uintptr_t)self;
  run(self);
}

int exco__ctx_make(exco__ctx *ctx, void *stack_lo, size_t size,
                   exco__ctx_entry entry, void *arg) {
  uc_top *top = top_of(stack_lo, size);

  top->lo = stack_lo;
  top->entry = entry;
  top->arg = arg;
  top->fpctl = fpctl_get();
  ctx->start = top;
  return 0;
}

/*
 * The first entry of the context whose stack top is @top.  Its frame is
 * abandoned, so ASan must not poison it: the ucontext would leave stale
 * redzones behind on the caller's stack.
 */
static UC_NO_ASAN __attribute__((noinline, noreturn)) void enter(uc_top *top) {
  ucontext_t uc;

  if (top->parked == (PARKED ^ (uintptr_t)top))
    jump(top->park);
  /* getcontext only reads the signal mask here: it can't fail on Linux,
   * and running on with a broken context would be worse than stopping. */
  if (getcontext(&uc) != 0)
    abort();
  uc.uc_stack.ss_sp = top->lo;
  uc.uc_stack.ss_size = (size_t)((char *)top - (char *)top->lo);
  uc.uc_stack.ss_flags = 0;
  uc.uc_link = NULL;
  /* Casting between function pointer types and calling through the
   * original type is what the makecontext() interface requires. */
  makecontext(&uc, (void (*)(void))trampoline, 2, HI(top), LO(top));
  setcontext(&uc);
  abort();
}

/* Not instrumented by ASan: it would call __asan_handle_no_return before
 * the jump, which unpoisons the frames of the context left (it will come
 * back to them). */
UC_NO_ASAN void exco__ctx_switch(exco__ctx *from, exco__ctx *to) {
  /* @from is running, so it has been entered; a caller's context (the
   * poller's side) is never made, and this is its only initialisation. */
  from->start = NULL;
  from->fpctl = fpctl_get();
  if (__builtin_setjmp(from->jb) == 0) {
    uc_top *top = to->start;

    if (top != NULL) {
      to->start = NULL;
      enter(top);
    }
    jump(to->jb);
  }
  fpctl_set(from->fpctl);
}
