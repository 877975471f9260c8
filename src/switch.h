/*
 * switch.h -- the glue around a context switch: the running task of each
 * thread, errno, and telling ASan, TSan and valgrind about coroutine
 * stacks.  Static inline, for task.c (the poller's side) and await.c (the
 * coroutine's side); switch.c holds the thread-local variable.
 *
 * A coroutine suspended on one thread may be resumed on another.  The
 * coroutine's side therefore never caches a thread-local address across a
 * switch (exco__current() and exco__errno_ptr() ask again, and can't be
 * inlined); the poller's side always comes back on the thread that left
 * it, so it uses the variable directly.
 */
#ifndef EXCO_SWITCH_H
#define EXCO_SWITCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "exco-internal.h"

#ifdef EXCO__HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef EXCO__HAVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef EXCO__HAVE_VALGRIND
#include <valgrind/memcheck.h>
#endif

/*
 * The running task of this thread.  The initial-exec model makes the
 * access a single %fs-relative load instead of a __tls_get_addr call in
 * the shared library (10 ns of a 50 ns yield here).  It costs a few bytes
 * of the static TLS block that glibc keeps spare for libraries loaded with
 * dlopen, as jemalloc's does.
 */
extern __thread exco_task *exco__tls_current
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/*
 * The kept-yield loop running on this thread, if any (runq.c, local.c),
 * for exco_yield()'s in-place path: a yield of the task the loop resumed,
 * while nothing else is ready and the loop's budget allows another poll,
 * returns at once instead of switching to the loop and back.  That is
 * exactly what the loop would do next (take the task back, find it alone
 * on its queue, resume it), so to every thread it looks the same; it only
 * saves the two switches.  Read by the coroutine at once, never across a
 * switch.
 *
 * On the run queue, a yield of @cur with another task ready that a kept
 * yield left claimed switches to that task directly (exco_yield(),
 * await.c), doing the loop's part on the way: @cur is queued again,
 * the other becomes @cur and inherits the loop's saved context as its
 * caller.  So when a resume of the loop's comes back, the task that came
 * back is @cur, not necessarily the one it resumed: exco__switch_in_ex()
 * with @keep reads it there.  Only where the saved context is a plain
 * stack pointer (the assembly backends), and not under ASan or TSan,
 * whose fiber bookkeeping assumes each coroutine returns to its poller.
 */
typedef struct exco__inplace {
  struct exco__runq *q; /* the run queue's loop, or NULL (local) */
  exco_task *cur;       /* the task the loop resumed, or NULL */
  long left;            /* polls the run queue's budget still allows
                             (0 under the watchdog) */
  /* The local executor's round, instead of @q and @left: returns
   * the yielding task to go on in place, another task to switch to, or
   * NULL to switch back to the round (local.c). */
  exco_task *(*turn)(struct exco__inplace *in, exco_task *a);
  void *turn_data;
} exco__inplace;

extern __thread exco__inplace *exco__tls_inplace
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

#if !defined(EXCO_CONTEXT_UCONTEXT) && !defined(EXCO_CONTEXT_SWAPCONTEXT) &&   \
    !defined(EXCO__HAVE_ASAN) && !defined(EXCO__HAVE_TSAN)
#define EXCO__YIELD_DIRECT 1
#endif

/*
 * overflow.c: set once exco_overflow_report_install() has run; every
 * thread then sets up its alternate signal stack before it first resumes
 * a coroutine.
 */
extern atomic_int exco__overflow_on;
extern __thread int exco__tls_altstack
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
void exco__overflow_thread_setup(void);

static inline void exco__overflow_check_thread(void) {
  if (__builtin_expect(
          atomic_load_explicit(&exco__overflow_on, memory_order_relaxed), 0) &&
      !exco__tls_altstack)
    exco__overflow_thread_setup();
}

/* This thread, as an address that no other live thread shares. */
static inline uintptr_t exco__thread_id(void) {
  return (uintptr_t)&exco__tls_current;
}

/*
 * glibc declares __errno_location() const, so the compiler may compute
 * errno's address once and reuse it after a switch; but a coroutine may
 * be resumed on another thread, whose errno lives elsewhere.  Like
 * exco__current(), this asks again after every switch.
 */
int *exco__errno_ptr(void);

/*
 * C++ exceptions.  The C++ runtime (libstdc++'s libsupc++, libc++abi)
 * keeps the stack of caught exceptions (what "throw;" rethrows) and the
 * count that std::uncaught_exceptions() returns per thread, in the block
 * __cxa_get_globals() returns: { caughtExceptions, uncaughtExceptions },
 * the start of the Itanium C++ ABI's __cxa_eh_globals.  Coroutines that
 * suspend inside a catch block or a destructor during unwinding would
 * share it.  So each coroutine keeps its own copy: the poller swaps it in
 * before the switch and out after.  The reference is weak: without a C++
 * runtime in the process it is NULL and this costs one branch.  (A C++
 * runtime loaded later with dlopen(RTLD_LOCAL) is not seen.)
 */
extern struct exco__eh_globals *__cxa_get_globals(void) __attribute__((weak));

static inline struct exco__eh_globals *exco__eh(void) {
  return __cxa_get_globals != NULL ? __cxa_get_globals() : NULL;
}

/*
 * Poller -> coroutine.  Sanitizers are told about the stack we are about
 * to run on, so ASan doesn't report the coroutine's frames as a wild stack
 * and TSan keeps a separate shadow stack per coroutine.  errno is the
 * poller's on this side; the coroutine's errno stays the coroutine's (see
 * exco__switch_suspend), so it is kept around the switch.
 */
static inline __attribute__((always_inline)) exco_task *
exco__switch_in_ex(exco_task *t, int keep_errno, int keep) {
  exco_task *prev = exco__tls_current;
  int saved_errno = keep_errno ? errno : 0;
  struct exco__eh_globals *eh = exco__eh(), host_eh;

  if (eh != NULL) {
    host_eh = *eh;
    *eh = t->eh;
  }
  exco__tls_current = t;
#ifdef EXCO__HAVE_ASAN
  void *fake = NULL;
  __sanitizer_start_switch_fiber(&fake, t->stack->lo, t->stack->size);
#endif
#ifdef EXCO__HAVE_TSAN
  t->tsan_caller = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
  exco__ctx_switch(&t->caller, &t->ctx);
#ifdef EXCO__HAVE_ASAN
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
#ifdef EXCO__YIELD_DIRECT
  /* The task that came back (see exco__inplace). */
  if (keep)
    t = exco__tls_inplace->cur;
#else
  (void)keep;
#endif
  exco__tls_current = prev;
  if (keep_errno)
    errno = saved_errno;
  if (eh != NULL) {
    t->eh = *eh;
    *eh = host_eh;
  }
  return t;
}

/* The same, keeping the poller's errno around the switch.  The run
 * queue's and the local executor's loops keep it once around the whole
 * loop instead (@keep_errno 0), as nothing of theirs between two resumes
 * reads errno. */
static inline void exco__switch_in(exco_task *t) {
  (void)exco__switch_in_ex(t, 1, 0);
}

/*
 * Coroutine -> poller.  On the final switch (the function returned) ASan
 * is given NULL for the fake stack, which tells it this stack is gone.
 */
static inline void exco__switch_check_canary(exco_task *t) {
  if (t->noguard) {
    /* Without a guard page an overflow is only seen after the fact.  The
     * memory below is corrupted by then: stop before anything uses it. */
    if (!exco__stack_canary_ok(t->stack)) {
      fprintf(stderr,
              "exco: stack overflow in unguarded task \"%s\" (stack %zu "
              "bytes): its canary was overwritten\n",
              t->name != NULL ? t->name : "(unnamed)", t->stack->size);
      abort();
    }
  }
}

static inline void exco__switch_out(exco_task *t, int final) {
  exco__switch_check_canary(t);
#ifdef EXCO__HAVE_ASAN
  __sanitizer_start_switch_fiber(final ? NULL : &t->asan_fake,
                                 t->caller_stack_bottom, t->caller_stack_size);
#endif
#ifdef EXCO__HAVE_TSAN
  __tsan_switch_to_fiber(t->tsan_caller, 0);
#endif
  exco__ctx_switch(&t->ctx, &t->caller);
#ifdef EXCO__HAVE_ASAN
  __sanitizer_finish_switch_fiber(t->asan_fake, &t->caller_stack_bottom,
                                  &t->caller_stack_size);
#endif
  (void) final;
}

/* An await has returned: nothing to list any more (debug.c). */
static inline void exco__await_unlabel(exco_task *t) {
  atomic_store_explicit(&t->wait_kind, NULL, memory_order_relaxed);
  /* The site lives on the task's second line: touched only when set. */
  if (t->site_set) {
    t->site_set = 0;
    atomic_store_explicit(&t->site_file, NULL, memory_order_relaxed);
  }
}

/* The first thing a new coroutine does on its own stack. */
static inline void exco__switch_started(exco_task *t) {
#ifdef EXCO__HAVE_ASAN
  __sanitizer_finish_switch_fiber(NULL, &t->caller_stack_bottom,
                                  &t->caller_stack_size);
#endif
  (void)t;
}

/* Suspends the running coroutine; errno is the coroutine's on this side:
 * the poller's code in between may change it. */
static inline void exco__switch_suspend(exco_task *t) {
  int saved_errno = errno;
  exco__switch_out(t, 0);
  *exco__errno_ptr() = saved_errno;
}

#ifdef EXCO__YIELD_DIRECT
/*
 * Coroutine @a -> coroutine @b, for exco_yield()'s direct path: @b takes
 * over @a's caller (the loop's saved context) and the C++ exception state
 * moves as a poller's resume would move it.  errno is each coroutine's.
 */
static inline void exco__switch_direct(exco_task *a, exco_task *b) {
  int saved_errno = errno;
  struct exco__eh_globals *eh = exco__eh();

  exco__switch_check_canary(a);
  if (eh != NULL) {
    a->eh = *eh;
    *eh = b->eh;
  }
  b->caller = a->caller;
  exco__tls_current = b;
  exco__ctx_switch_sibling(&a->ctx, &b->ctx);
  *exco__errno_ptr() = saved_errno;
}
#endif

/* TSan's fiber for a coroutine's first resume and after its end. */
static inline void exco__switch_fiber_new(exco_task *t) {
#ifdef EXCO__HAVE_TSAN
  t->tsan_fiber = __tsan_create_fiber(0);
#endif
  (void)t;
}

static inline void exco__switch_fiber_free(exco_task *t) {
#ifdef EXCO__HAVE_TSAN
  __tsan_destroy_fiber(t->tsan_fiber);
#endif
  (void)t;
}

/* memcheck made the frames of a returned function inaccessible; a hold
 * means some of that memory is still lent out and will be used. */
static inline void exco__switch_stack_lent(exco_task *t) {
#ifdef EXCO__HAVE_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(t->stack->lo, t->stack->size);
#endif
  (void)t;
}

#endif
