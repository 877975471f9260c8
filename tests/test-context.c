/*
 * test-context.c -- what a context switch keeps per coroutine and what it
 * leaves to the thread (include/exco.h, THREADS): floating-point control
 * modes belong to each coroutine on every backend; the signal mask
 * belongs to the thread, except on the swapcontext backend, where each
 * coroutine has its own.  Each check runs on whatever backend
 * exco_context_backend() names.
 */
#include "harness.h"

#include <fenv.h>
#include <signal.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Floating-point rounding                                                 */
/* ---------------------------------------------------------------------- */

/*
 * One third, rounded by the current mode, through memory so the compiler
 * can't fold it: under FE_DOWNWARD it is below the FE_UPWARD result.
 * This checks the mode the arithmetic unit uses (SSE's MXCSR on x86-64),
 * where fegetround() may read another register (glibc's reads the x87
 * control word there).
 */
static double third(void) {
  volatile double one = 1.0, three = 3.0;

  return one / three;
}

typedef struct fp_rec {
  int mode;        /* the mode the coroutine sets before yielding */
  int at_start;    /* fegetround() when it started */
  int after;       /* fegetround() after its yield */
  double q_before; /* third() before the yield */
  double q_after;  /* third() after it */
  int yield_ret;
} fp_rec;

static void *fn_round(void *arg) {
  fp_rec *r = arg;

  r->at_start = fegetround();
  fesetround(r->mode);
  r->q_before = third();
  r->yield_ret = exco_yield();
  r->after = fegetround();
  r->q_after = third();
  return NULL;
}

/*
 * A coroutine starts with the modes of the thread that first polls it;
 * what it sets stays its own across a suspension, whatever the host or
 * another coroutine set in between, and the host's modes are its own
 * again whenever exco_poll() returns.
 */
START_TEST(rounding_mode_is_per_coroutine) {
  fp_rec a = {FE_DOWNWARD, -1, -1, 0, 0, -1};
  fp_rec b = {FE_UPWARD, -1, -1, 0, 0, -1};
  int host_after_a, host_after_b, host_after_a2, host_after_b2;
  double host_q;
  exco_task *ta, *tb;
  h_ext *ea, *eb;
  h_host h;

  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_round, &a, NULL, &ta), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_round, &b, NULL, &tb), 0);
  ea = h_host_ext(&h, ta);
  eb = h_host_ext(&h, tb);
  ck_assert_ptr_nonnull(ea);
  ck_assert_ptr_nonnull(eb);

  ck_assert_int_eq(fesetround(FE_UPWARD), 0);
  ck_assert_ptr_eq(h_host_pop(&h), ea);
  ck_assert_int_eq(h_host_poll(&h, ea), 1);
  host_after_a = fegetround();
  host_q = third();

  ck_assert_int_eq(fesetround(FE_TOWARDZERO), 0);
  ck_assert_ptr_eq(h_host_pop(&h), eb);
  ck_assert_int_eq(h_host_poll(&h, eb), 1);
  host_after_b = fegetround();

  /* The host changes its mode again; neither coroutine may see it. */
  ck_assert_int_eq(fesetround(FE_TONEAREST), 0);
  ck_assert_ptr_eq(h_host_pop(&h), ea);
  ck_assert_int_eq(h_host_poll(&h, ea), 0);
  host_after_a2 = fegetround();
  ck_assert_ptr_eq(h_host_pop(&h), eb);
  ck_assert_int_eq(h_host_poll(&h, eb), 0);
  host_after_b2 = fegetround();
  ck_assert_int_eq(h_host_drop(&h, ea), 0);
  ck_assert_int_eq(h_host_drop(&h, eb), 0);
  exco_task_release(ta);
  exco_task_release(tb);
  h_host_destroy(&h);

  ck_assert_int_eq(a.yield_ret, 0);
  ck_assert_int_eq(b.yield_ret, 0);
  /* Each started with the host's mode at its first poll. */
  ck_assert_int_eq(a.at_start, FE_UPWARD);
  ck_assert_int_eq(b.at_start, FE_TOWARDZERO);
  /* Their own modes came back with them. */
  ck_assert_int_eq(a.after, FE_DOWNWARD);
  ck_assert_int_eq(b.after, FE_UPWARD);
  ck_assert(a.q_before == a.q_after);
  ck_assert(b.q_before == b.q_after);
  /* valgrind runs SSE arithmetic in round-to-nearest whatever MXCSR says,
   * so only the modes themselves can be checked under it. */
  if (!h_under_valgrind())
    ck_assert(a.q_after < b.q_after);
  /* And the host's stayed the host's. */
  ck_assert_int_eq(host_after_a, FE_UPWARD);
  ck_assert(host_q == b.q_after); /* both FE_UPWARD */
  ck_assert_int_eq(host_after_b, FE_TOWARDZERO);
  ck_assert_int_eq(host_after_a2, FE_TONEAREST);
  ck_assert_int_eq(host_after_b2, FE_TONEAREST);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Signal mask                                                             */
/* ---------------------------------------------------------------------- */

static int blocked(int sig) {
  sigset_t cur;

  if (pthread_sigmask(SIG_SETMASK, NULL, &cur) != 0)
    return -1;
  return sigismember(&cur, sig);
}

static int mask(int how, int sig) {
  sigset_t s;

  sigemptyset(&s);
  sigaddset(&s, sig);
  return pthread_sigmask(how, &s, NULL);
}

typedef struct sig_rec {
  int block_ret, unblock_ret, yield_ret;
  int usr1_after; /* SIGUSR1 (its own change) blocked after the yield */
  int usr2_after; /* SIGUSR2 (the host's change) blocked after it */
} sig_rec;

static void *fn_sigmask(void *arg) {
  sig_rec *r = arg;

  r->block_ret = mask(SIG_BLOCK, SIGUSR1);
  r->yield_ret = exco_yield();
  r->usr1_after = blocked(SIGUSR1);
  r->usr2_after = blocked(SIGUSR2);
  r->unblock_ret = mask(SIG_UNBLOCK, SIGUSR1);
  return NULL;
}

/*
 * A coroutine blocks SIGUSR1 and yields; the host then blocks SIGUSR2.
 * With a per-thread mask (asm, ucontext) the host sees SIGUSR1 blocked
 * and the coroutine sees SIGUSR2 blocked; with swapcontext's
 * per-coroutine masks neither sees the other's change.
 */
START_TEST(signal_mask_is_per_thread) {
  int per_thread = strcmp(exco_context_backend(), "swapcontext") != 0;
  int host_usr1_mid, host_usr1_end;
  sigset_t saved;
  sig_rec r = {-1, -1, -1, -1, -1};
  exco_task *t;
  h_ext *e;
  h_host h;

  ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &saved), 0);
  ck_assert_int_eq(mask(SIG_UNBLOCK, SIGUSR1), 0);
  ck_assert_int_eq(mask(SIG_UNBLOCK, SIGUSR2), 0);
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_sigmask, &r, NULL, &t), 0);
  e = h_host_pop(&h);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  host_usr1_mid = blocked(SIGUSR1);
  ck_assert_int_eq(mask(SIG_BLOCK, SIGUSR2), 0);
  ck_assert_ptr_eq(h_host_pop(&h), e);
  ck_assert_int_eq(h_host_poll(&h, e), 0);
  host_usr1_end = blocked(SIGUSR1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  exco_task_release(t);
  h_host_destroy(&h);
  ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &saved, NULL), 0);

  ck_assert_int_eq(r.block_ret, 0);
  ck_assert_int_eq(r.yield_ret, 0);
  ck_assert_int_eq(r.unblock_ret, 0);
  /* The coroutine's own change is still in force when it resumes. */
  ck_assert_int_eq(r.usr1_after, 1);
  ck_assert_int_eq(host_usr1_mid, per_thread);
  ck_assert_int_eq(r.usr2_after, per_thread);
  /* It unblocked SIGUSR1 before returning: with a per-thread mask that
   * reaches the host; with swapcontext the host never had it blocked. */
  ck_assert_int_eq(host_usr1_end, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Stack reuse                                                             */
/* ---------------------------------------------------------------------- */

typedef struct deep_rec {
  int depth_ok;
  int yield_ret;
} deep_rec;

/* Fills most of the stack with a pattern and checks it after a yield. */
static void *fn_fill(void *arg) {
  deep_rec *r = arg;
  size_t n = 40 * 1024, i;
  volatile unsigned char *buf = __builtin_alloca(n);

  for (i = 0; i < n; i++)
    buf[i] = (unsigned char)(i * 7);
  r->yield_ret = exco_yield();
  r->depth_ok = 1;
  for (i = 0; i < n; i++)
    if (buf[i] != (unsigned char)(i * 7))
      r->depth_ok = 0;
  return NULL;
}

static void *fn_count(void *arg) {
  (*(int *)arg)++;
  return NULL;
}

/*
 * Coroutines made one after another on pooled stacks each run their own
 * function from the top, also after a predecessor that used most of the
 * stack, or one that was dropped while suspended (the ucontext backend
 * enters a reused stack through the trampoline parked at its top).
 */
START_TEST(reused_stacks_run_each_function) {
  exco_spawn_opts o;
  deep_rec d = {0, -1};
  int count = 0, i;
  exco_task *t;
  h_ext *e;
  h_host h;

  h_host_init(&h);
  memset(&o, 0, sizeof(o));
  o.stack_size = 64 * 1024;
  ck_assert_int_eq(exco_spawn(h.ex, fn_fill, &d, &o, &t), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  exco_task_release(t);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(exco_spawn(h.ex, fn_count, &count, &o, NULL), 0);
    ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  }
  /* One dropped while suspended, then one more on its stack. */
  ck_assert_int_eq(exco_spawn(h.ex, fn_fill, &d, &o, &t), 0);
  e = h_host_pop(&h);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(h_host_poll(&h, e), 1);
  ck_assert_int_eq(h_host_drop(&h, e), 0);
  exco_task_release(t);
  ck_assert_int_eq(exco_spawn(h.ex, fn_count, &count, &o, NULL), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 0);
  h_host_destroy(&h);
  ck_assert_int_eq(count, 4);
  ck_assert_int_eq(d.depth_ok, 1);
}
END_TEST

static Suite *context_suite(void) {
  Suite *s = suite_create("context");
  TCase *tc = h_tcase("context", 30);

  tcase_add_test(tc, rounding_mode_is_per_coroutine);
  tcase_add_test(tc, signal_mask_is_per_thread);
  tcase_add_test(tc, reused_stacks_run_each_function);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(context_suite());
}
