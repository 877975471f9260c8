/*
 * test-scope.c -- task-local storage (keys, per-task values,
 * destructors), scopes (join waits for all, the first failure, the
 * parent's deadline or cancellation cancels the rest, children on other
 * threads) and blocking offload (results, many at once, cancellation and
 * deadlines that leave the job running safely, shutdown).
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exco/sync.h"

#define V(n) ((void *)(uintptr_t)(n))

/* ---------------------------------------------------------------------- */
/* Task-local storage                                                      */
/* ---------------------------------------------------------------------- */

static atomic_int dtor_calls;
static atomic_int dtor_sum;
static exco_tls_key again_key;
static atomic_int again_rounds;

static void dtor_count(void *v) {
  atomic_fetch_add(&dtor_calls, 1);
  atomic_fetch_add(&dtor_sum, (int)(uintptr_t)v);
}

/* Sets its value again twice: the destructor runs in more rounds. */
static void dtor_again(void *v) {
  if (atomic_fetch_add(&again_rounds, 1) < 2)
    exco_tls_set(again_key, v);
}

typedef struct tls_task {
  exco_tls_key key;
  int id;
  void *seen_before, *seen_after;
  int set_r;
  int wait; /* await never-ready after setting (to be dropped) */
} tls_task;

static void *fn_tls(void *arg) {
  tls_task *t = arg;

  t->seen_before = exco_tls_get(t->key);
  t->set_r = exco_tls_set(t->key, V(t->id));
  exco_yield(); /* the other task runs and sets its own value */
  t->seen_after = exco_tls_get(t->key);
  if (t->wait)
    exco_await(h_never_poll, NULL, NULL);
  return NULL;
}

START_TEST(tls_per_task_with_destructors) {
  exco_executor *ex;
  tls_task a, b;
  exco_tls_key k;

  atomic_store(&dtor_calls, 0);
  atomic_store(&dtor_sum, 0);
  ck_assert_int_eq(exco_tls_key_create(NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_tls_key_create(&k, dtor_count), 0);
  ck_assert_int_eq(exco_tls_set(k, V(1)), EXCO_EPERM);
  ck_assert_ptr_null(exco_tls_get(k));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.key = b.key = k;
  a.id = 10;
  b.id = 20;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_tls, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_tls, &b, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_ptr_null(a.seen_before);
  ck_assert_ptr_null(b.seen_before);
  ck_assert_int_eq(a.set_r, 0);
  ck_assert_ptr_eq(a.seen_after, V(10));
  ck_assert_ptr_eq(b.seen_after, V(20));
  ck_assert_int_eq(atomic_load(&dtor_calls), 2);
  ck_assert_int_eq(atomic_load(&dtor_sum), 30);
  ck_assert_int_eq(exco_tls_key_delete(k), 0);
  ck_assert_int_eq(exco_tls_key_delete(k), EXCO_EINVAL);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* A cancelled (dropped) task's values are destroyed too; a deleted key's
 * values are forgotten without their destructor. */
START_TEST(tls_drop_and_delete) {
  h_host h;
  tls_task a, b;
  exco_tls_key k, k2;
  h_ext *ea, *eb;

  atomic_store(&dtor_calls, 0);
  atomic_store(&dtor_sum, 0);
  ck_assert_int_eq(exco_tls_key_create(&k, dtor_count), 0);
  ck_assert_int_eq(exco_tls_key_create(&k2, dtor_count), 0);
  ck_assert_uint_ne(k, k2);
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.key = k;
  a.id = 5;
  a.wait = 1;
  b.key = k2;
  b.id = 7;
  b.wait = 1;
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_tls, &a, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(h.ex, fn_tls, &b, NULL, NULL), 0);
  ea = h_host_pop(&h);
  eb = h_host_pop(&h);
  ck_assert_int_eq(h_host_poll(&h, ea), 1);
  ck_assert_int_eq(h_host_poll(&h, eb), 1);
  ck_assert_int_eq(h_host_run_until_idle(&h), 2);
  ck_assert_int_eq(exco_tls_key_delete(k2), 0);
  ck_assert_int_eq(h_host_drop(&h, ea), 0);
  ck_assert_int_eq(h_host_drop(&h, eb), 0);
  ck_assert_int_eq(atomic_load(&dtor_calls), 1);
  ck_assert_int_eq(atomic_load(&dtor_sum), 5);
  ck_assert_int_eq(exco_tls_key_delete(k), 0);
  ck_assert_ptr_null(exco_tls_get(k));
  h_host_destroy(&h);
}
END_TEST

static void *fn_tls_again(void *arg) {
  (void)arg;
  exco_tls_set(again_key, V(3));
  return NULL;
}

START_TEST(tls_destructor_rounds) {
  exco_executor *ex;

  atomic_store(&again_rounds, 0);
  ck_assert_int_eq(exco_tls_key_create(&again_key, dtor_again), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_tls_again, NULL, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(atomic_load(&again_rounds), 3);
  ck_assert_int_eq(exco_tls_key_delete(again_key), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

START_TEST(tls_key_limit) {
  exco_tls_key k[EXCO_TLS_KEYS_MAX + 1];
  int i, n = 0;

  for (i = 0; i <= EXCO_TLS_KEYS_MAX; i++) {
    int r = exco_tls_key_create(&k[i], NULL);
    if (r != 0) {
      ck_assert_int_eq(r, EXCO_EAGAIN);
      break;
    }
    n++;
  }
  ck_assert_int_le(n, EXCO_TLS_KEYS_MAX);
  ck_assert_int_eq(i, n);
  for (i = 0; i < n; i++)
    ck_assert_int_eq(exco_tls_key_delete(k[i]), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Scopes                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct kid {
  int mode; /* 0 yield then succeed, 1 fail after a yield, 2 sleep long */
  int r;    /* what its await returned */
  int done; /* ran to the end */
  atomic_int *finished;
} kid;

static int kid_fn(void *arg) {
  kid *k = arg;
  int r = 0;

  switch (k->mode) {
  case 0:
    r = exco_yield();
    break;
  case 1:
    exco_yield();
    r = -EIO;
    break;
  default:
    r = exco_sleep(100000);
    break;
  }
  k->r = r;
  k->done = 1;
  atomic_fetch_add(k->finished, 1);
  return r;
}

enum { KIDS = 5 };

typedef struct parent {
  exco_executor *kids_ex; /* NULL: the parent's */
  kid kids[KIDS];
  atomic_int finished;
  int ms;         /* the parent's deadline; -1 none */
  int cancel_own; /* exco_scope_cancel() after spawning */
  int join_r;
  int finished_at_join; /* children finished when join returned */
  int spawn_after;      /* a spawn after the join */
  int spawn_r[KIDS];
  int free_busy;
  int done;
} parent;

static void *fn_parent(void *arg) {
  parent *p = arg;
  exco_scope *s;
  int64_t prev;
  int i;

  if (exco_scope_new(&s) != 0)
    return NULL;
  for (i = 0; i < KIDS; i++) {
    p->kids[i].finished = &p->finished;
    p->spawn_r[i] = exco_scope_spawn(s, p->kids_ex, kid_fn, &p->kids[i], NULL);
  }
  p->free_busy = exco_scope_free(s);
  if (p->cancel_own)
    exco_scope_cancel(s);
  if (p->ms >= 0)
    exco_deadline_after((uint64_t)p->ms, &prev);
  p->join_r = exco_scope_join(s);
  p->finished_at_join = atomic_load(&p->finished);
  if (p->ms >= 0)
    exco_deadline_set(prev, NULL);
  p->spawn_after = exco_scope_spawn(s, NULL, kid_fn, &p->kids[0], NULL);
  exco_scope_free(s);
  p->done = 1;
  return NULL;
}

static void parent_init(parent *p, int m0, int mrest) {
  int i;

  memset(p, 0, sizeof(*p));
  atomic_init(&p->finished, 0);
  p->ms = -1;
  for (i = 0; i < KIDS; i++)
    p->kids[i].mode = i == 0 ? m0 : mrest;
}

static void parent_check_all_finished(parent *p) {
  int i;

  ck_assert_int_eq(p->done, 1);
  ck_assert_int_eq(p->free_busy, EXCO_EBUSY);
  ck_assert_int_eq(p->finished_at_join, KIDS);
  ck_assert_int_eq(p->spawn_after, EXCO_EINVAL);
  for (i = 0; i < KIDS; i++) {
    ck_assert_int_eq(p->spawn_r[i], 0);
    ck_assert_int_eq(p->kids[i].done, 1);
  }
}

START_TEST(scope_all_succeed) {
  h_rig rig;
  parent p;
  int i;

  parent_init(&p, 0, 0);
  h_rig_init(&rig, _i);
  h_rig_spawn(&rig, fn_parent, &p, NULL);
  h_rig_run(&rig);
  parent_check_all_finished(&p);
  ck_assert_int_eq(p.join_r, 0);
  for (i = 0; i < KIDS; i++)
    ck_assert_int_eq(p.kids[i].r, 0);
  h_rig_fini(&rig);
}
END_TEST

/* The first failure cancels the rest; join reports it. */
START_TEST(scope_first_failure_cancels) {
  h_rig rig;
  parent p;
  int i;

  parent_init(&p, 1, 2);
  h_rig_init(&rig, _i);
  h_rig_spawn(&rig, fn_parent, &p, NULL);
  h_rig_run(&rig);
  parent_check_all_finished(&p);
  ck_assert_int_eq(p.join_r, -EIO);
  for (i = 1; i < KIDS; i++)
    ck_assert_int_eq(p.kids[i].r, EXCO_ECANCELED);
  h_rig_fini(&rig);
}
END_TEST

/* The parent's deadline passes in join: the children are cancelled and
 * waited for; join reports the timeout. */
START_TEST(scope_parent_deadline) {
  exco_executor *ex;
  parent p;
  int i;

  parent_init(&p, 2, 2);
  p.ms = 20;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_parent, &p, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  parent_check_all_finished(&p);
  ck_assert_int_eq(p.join_r, EXCO_ETIMEDOUT);
  for (i = 0; i < KIDS; i++)
    ck_assert_int_eq(p.kids[i].r, EXCO_ECANCELED);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

/* The parent is cancelled while it waits in join, or cancels the scope
 * itself: the children are cancelled, and join still waits for them. */
START_TEST(scope_parent_cancelled) {
  h_host h;
  parent p;
  exco_task *t;
  int i;

  parent_init(&p, 2, 2);
  p.cancel_own = _i;
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_parent, &p, NULL, &t), 0);
  if (!_i) {
    ck_assert_int_eq(h_host_run_until_idle(&h), KIDS + 1);
    ck_assert_int_eq(p.done, 0);
    ck_assert_int_eq(exco_task_cancel(t), 0);
  }
  ck_assert_int_eq(h_host_run(&h), 0);
  parent_check_all_finished(&p);
  ck_assert_int_eq(p.join_r, EXCO_ECANCELED);
  for (i = 0; i < KIDS; i++)
    ck_assert_int_eq(p.kids[i].r, EXCO_ECANCELED);
  exco_task_release(t);
  h_host_destroy(&h);
}
END_TEST

static void *thread_run(void *arg) {
  return exco_run(arg) == 0 ? NULL : arg;
}

/* Children on another executor, run by another thread. */
START_TEST(scope_children_elsewhere) {
  exco_executor *ex, *kids_ex;
  pthread_t th;
  parent p;

  parent_init(&p, 1, 2);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_executor_new_local(&kids_ex), 0);
  p.kids_ex = kids_ex;
  ck_assert_int_eq(exco_spawn(ex, fn_parent, &p, NULL, NULL), 0);
  /* The parent spawns the children before the other thread runs. */
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  h_thread_start(&th, thread_run, kids_ex);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_ptr_null(h_thread_join(th));
  parent_check_all_finished(&p);
  ck_assert_int_eq(p.join_r, -EIO);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(exco_executor_free(kids_ex), 0);
}
END_TEST

START_TEST(scope_arguments) {
  exco_scope *s;

  ck_assert_int_eq(exco_scope_new(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_scope_spawn(NULL, NULL, kid_fn, NULL, NULL),
                   EXCO_EINVAL);
  ck_assert_int_eq(exco_scope_cancel(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_scope_join(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_scope_free(NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_scope_new(&s), 0);
  ck_assert_int_eq(exco_scope_spawn(s, NULL, NULL, NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_scope_join(s), EXCO_EPERM);
  ck_assert_int_eq(exco_scope_cancel(s), 0);
  ck_assert_int_eq(exco_scope_spawn(s, NULL, kid_fn, NULL, NULL),
                   EXCO_ECANCELED);
  ck_assert_int_eq(exco_scope_free(s), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Offload                                                                 */
/* ---------------------------------------------------------------------- */

static void *job_double(void *arg) {
  long *v = arg;

  *v *= 2;
  return (void *)(uintptr_t)pthread_self();
}

typedef struct off {
  long v;
  int r;
  void *result;
} off;

static void *fn_offload(void *arg) {
  off *o = arg;

  o->r = exco_offload(job_double, &o->v, &o->result);
  return NULL;
}

START_TEST(offload_many) {
  enum { N = 20 };
  exco_executor *ex;
  off o[N];
  int i, other = 0;

  ck_assert_int_eq(exco_offload(job_double, NULL, NULL), EXCO_EPERM);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  for (i = 0; i < N; i++) {
    o[i].v = i;
    o[i].r = 1;
    ck_assert_int_eq(exco_spawn(ex, fn_offload, &o[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(exco_run(ex), 0);
  for (i = 0; i < N; i++) {
    ck_assert_int_eq(o[i].r, 0);
    ck_assert_int_eq(o[i].v, 2 * i);
    other += (pthread_t)(uintptr_t)o[i].result != pthread_self();
  }
  ck_assert_int_eq(other, N);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

typedef struct gate {
  atomic_int entered;
  atomic_int open;
  atomic_int left;
  long scratch; /* on the heap here; a frame in slow_fn below */
} gate;

static void *job_gated(void *arg) {
  gate *g = arg;

  atomic_fetch_add(&g->entered, 1);
  h_wait_at_least(&g->open, 1);
  atomic_fetch_add(&g->left, 1);
  return NULL;
}

typedef struct slow {
  gate *g;
  int cancel; /* else a deadline */
  int r;
  int done;
} slow;

static void *fn_slow(void *arg) {
  slow *s = arg;
  int64_t prev;

  if (s->cancel) {
    s->r = exco_offload(job_gated, s->g, NULL);
  } else {
    exco_deadline_after(20, &prev);
    s->r = exco_offload(job_gated, s->g, NULL);
    exco_deadline_set(prev, NULL);
  }
  s->done = 1;
  return NULL;
}

/* A cancelled or timed-out offload returns while its job still runs; the
 * task's stack stays held until the job ends. */
START_TEST(offload_gives_up) {
  h_host h;
  exco_task *t;
  gate g;
  slow s;

  memset(&s, 0, sizeof(s));
  atomic_init(&g.entered, 0);
  atomic_init(&g.open, 0);
  atomic_init(&g.left, 0);
  s.g = &g;
  s.cancel = _i;
  h_host_init(&h);
  ck_assert_int_eq(exco_spawn(h.ex, fn_slow, &s, NULL, &t), 0);
  ck_assert_int_eq(h_host_run_until_idle(&h), 1);
  ck_assert_int_eq(h_wait_at_least(&g.entered, 1), 0);
  if (s.cancel)
    ck_assert_int_eq(exco_task_cancel(t), 0);
  ck_assert_int_eq(h_host_run(&h), 0);
  ck_assert_int_eq(s.done, 1);
  ck_assert_int_eq(s.r, s.cancel ? EXCO_ECANCELED : EXCO_ETIMEDOUT);
  ck_assert_int_eq(atomic_load(&g.left), 0);
  /* The job's hold keeps the stack (and a live count) until it ends. */
  ck_assert_int_eq(exco_executor_live(h.ex), 1);
  atomic_store(&g.open, 1);
  exco_task_release(t);
  while (exco_executor_live(h.ex) != 0)
    sched_yield();
  ck_assert_int_eq(atomic_load(&g.left), 1);
  h_host_destroy(&h);
}
END_TEST

/* A child forked while the pool runs gets workers of its own. */
START_TEST(offload_after_fork) {
  exco_executor *ex;
  int status = -1;
  pid_t pid;
  off o;

#ifdef H_TSAN
  return; /* TSan can't start threads in a child of a threaded process */
#endif
  o.v = 5;
  o.r = 1;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_offload, &o, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(o.r, 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    o.v = 7;
    o.r = 1;
    if (exco_spawn(ex, fn_offload, &o, NULL, NULL) != 0 || exco_run(ex) != 0)
      _exit(2);
    _exit(o.r == 0 && o.v == 14 ? 0 : 1);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static void *fn_offload_after_shutdown(void *arg) {
  off *o = arg;

  o->r = exco_offload(job_double, &o->v, NULL);
  return NULL;
}

/* Last: the pool is process-wide. */
START_TEST(offload_shutdown) {
  exco_executor *ex;
  off o;

  exco_offload_shutdown();
  exco_offload_shutdown();
  o.v = 1;
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, fn_offload_after_shutdown, &o, NULL, NULL),
                   0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(o.r, EXCO_ESHUTDOWN);
  ck_assert_int_eq(o.v, 1);
  ck_assert_int_eq(exco_executor_free(ex), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("scope");
  TCase *tc = h_tcase("scope", 60);

  tcase_add_test(tc, tls_per_task_with_destructors);
  tcase_add_test(tc, tls_drop_and_delete);
  tcase_add_test(tc, tls_destructor_rounds);
  tcase_add_test(tc, tls_key_limit);
  tcase_add_loop_test(tc, scope_all_succeed, 0, H_RIG_KINDS);
  tcase_add_loop_test(tc, scope_first_failure_cancels, 0, H_RIG_KINDS);
  tcase_add_test(tc, scope_parent_deadline);
  tcase_add_loop_test(tc, scope_parent_cancelled, 0, 2);
  tcase_add_test(tc, scope_children_elsewhere);
  tcase_add_test(tc, scope_arguments);
  tcase_add_test(tc, offload_many);
  tcase_add_loop_test(tc, offload_gives_up, 0, 2);
  tcase_add_test(tc, offload_after_fork);
  tcase_add_test(tc, offload_shutdown);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return h_run_suite(suite());
}
