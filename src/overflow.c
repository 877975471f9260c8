/*
 * overflow.c -- the opt-in stack overflow report
 * (exco_overflow_report_install()).
 *
 * A coroutine that overflows its stack faults in the PROT_NONE guard
 * below it.  The fault is delivered on the faulting thread, whose stack
 * pointer is inside the guard: the handler can only run on an alternate
 * signal stack, so each thread gets one before it first resumes a
 * coroutine (exco__overflow_thread_setup(), from exco__resume()).  The
 * handler asks which coroutine runs on this thread (exco__tls_current, an
 * initial-exec TLS read, which is async-signal-safe), whether the fault
 * address lies in its guard, and if so writes the report with write(2)
 * and aborts.  Everything else is passed on to the handler that was there
 * before.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "switch.h"

/* How far below an unguarded stack a fault still counts as its overflow:
 * such stacks sit back to back in slabs of up to 64 MiB. */
#define NOGUARD_REACH ((uintptr_t)64 * 1024 * 1024)
#define ALTSTACK_SIZE ((size_t)64 * 1024)

atomic_int exco__overflow_on;
__thread int exco__tls_altstack
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

static struct sigaction exco__old_segv, exco__old_bus;
static pthread_key_t exco__altstack_key;
static pthread_mutex_t exco__overflow_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------------- */
/* The alternate signal stacks                                             */
/* ---------------------------------------------------------------------- */

/* Thread exit: stop using the alternate stack, then free it. */
static void exco__altstack_free(void *mem) {
  stack_t ss;

  memset(&ss, 0, sizeof(ss));
  ss.ss_flags = SS_DISABLE;
  (void)sigaltstack(&ss, NULL);
  free(mem);
}

void exco__overflow_thread_setup(void) {
  stack_t ss, old;
  void *mem;

  exco__tls_altstack = 1; /* once per thread, whatever happens below */
  if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
    return; /* the thread has one (the host's): use it */
  mem = malloc(ALTSTACK_SIZE);
  if (mem == NULL)
    return;
  memset(&ss, 0, sizeof(ss));
  ss.ss_sp = mem;
  ss.ss_size = ALTSTACK_SIZE;
  if (sigaltstack(&ss, NULL) != 0 ||
      pthread_setspecific(exco__altstack_key, mem) != 0)
    exco__altstack_free(mem);
}

/* ---------------------------------------------------------------------- */
/* The handler                                                             */
/* ---------------------------------------------------------------------- */

/* Appends @s to the buffer at *p (async-signal-safe formatting). */
static void put_str(char **p, char *end, const char *s) {
  while (*s != '\0' && *p < end)
    *(*p)++ = *s++;
}

static void put_num(char **p, char *end, uintptr_t v) {
  char digits[24];
  int n = 0;

  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0 && *p < end)
    *(*p)++ = digits[--n];
}

static void exco__overflow_report(exco_task *t, uintptr_t addr) {
  const exco__stack *st = t->stack;
  uintptr_t lo = (uintptr_t)st->lo, hi = lo + st->size;
  char buf[512], *p = buf, *end = buf + sizeof(buf) - 1;

  put_str(&p, end, "exco: stack overflow in task \"");
  put_str(&p, end, t->name != NULL ? t->name : "(unnamed)");
  put_str(&p, end, "\": stack ");
  put_num(&p, end, st->size);
  put_str(&p, end, " bytes, ");
  if (st->guard != 0) {
    put_str(&p, end, "guard ");
    put_num(&p, end, st->guard);
    put_str(&p, end, " bytes");
  } else {
    put_str(&p, end, "unguarded");
  }
  put_str(&p, end, "; fault ");
  put_num(&p, end, lo - addr);
  put_str(&p, end, " bytes below the stack, ");
  put_num(&p, end, hi - addr);
  put_str(&p, end, " bytes deep\n");
  *p++ = '\0';
  (void)!write(STDERR_FILENO, buf, (size_t)(p - buf - 1));
}

/* Passes a fault that isn't ours on to the handler that was there. */
static void exco__overflow_chain(int sig, siginfo_t *si, void *uc) {
  const struct sigaction *old =
      sig == SIGSEGV ? &exco__old_segv : &exco__old_bus;
  struct sigaction dfl;

  if (old->sa_flags & SA_SIGINFO) {
    old->sa_sigaction(sig, si, uc);
    return;
  }
  if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
    return;
  }
  /* The default action: returning re-executes the faulting instruction,
   * which now kills the process as if exco had never been there. */
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  (void)sigaction(sig, &dfl, NULL);
}

static void exco__overflow_handler(int sig, siginfo_t *si, void *uc) {
  exco_task *t = exco__tls_current;
  int saved = errno;

  if (t != NULL && t->stack != NULL && si != NULL) {
    uintptr_t addr = (uintptr_t)si->si_addr;
    uintptr_t lo = (uintptr_t)t->stack->lo;
    uintptr_t reach = t->stack->guard != 0 ? t->stack->guard : NOGUARD_REACH;

    if (addr < lo && lo - addr <= reach) {
      exco__overflow_report(t, addr);
      abort();
    }
  }
  exco__overflow_chain(sig, si, uc);
  errno = saved;
}

void exco__overflow_fork(int phase) {
  if (phase == EXCO__FORK_PREPARE)
    pthread_mutex_lock(&exco__overflow_lock);
  else
    pthread_mutex_unlock(&exco__overflow_lock);
}

int exco_overflow_report_install(void) {
  struct sigaction sa;
  int err = 0;

  pthread_mutex_lock(&exco__overflow_lock);
  if (atomic_load_explicit(&exco__overflow_on, memory_order_relaxed)) {
    pthread_mutex_unlock(&exco__overflow_lock);
    return EXCO_EALREADY;
  }
  if (pthread_key_create(&exco__altstack_key, exco__altstack_free) != 0) {
    pthread_mutex_unlock(&exco__overflow_lock);
    return EXCO_ENOMEM;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = exco__overflow_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &exco__old_segv) != 0) {
    err = -errno;
  } else if (sigaction(SIGBUS, &sa, &exco__old_bus) != 0) {
    err = -errno;
    (void)sigaction(SIGSEGV, &exco__old_segv, NULL);
  }
  if (err != 0) {
    pthread_key_delete(exco__altstack_key);
  } else {
    atomic_store_explicit(&exco__overflow_on, 1, memory_order_release);
    exco__overflow_thread_setup();
  }
  pthread_mutex_unlock(&exco__overflow_lock);
  return err;
}
