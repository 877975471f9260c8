/*
 * harness.c -- shared helpers for exco's Check test binaries.
 */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Environment                                                             */
/* ---------------------------------------------------------------------- */

static int env_flag(const char *name) {
  const char *v = getenv(name);

  return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

int h_under_valgrind(void) {
  return env_flag("EXCO_TEST_VALGRIND");
}

long h_scale(long n) {
  if (h_under_valgrind())
    n /= 20;
  return n < 1 ? 1 : n;
}

double h_wait_timeout(void) {
  /* Generous: a lost wakeup shows as a wait this long with nothing
   * happening, and valgrind is slow. */
  return h_under_valgrind() ? 60.0 : 20.0;
}

double h_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long h_map_count(int guards_only) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  long n = 0;
  int at_start = 1;

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    char perms[8];
    int start = at_start;

    /* A long line comes in pieces: count its first one only. */
    at_start = strchr(line, '\n') != NULL;
    if (!start)
      continue;
    if (!guards_only) {
      n++;
      continue;
    }
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
        strcmp(perms, "---p") == 0 &&
        (hi - lo <= 64 * 1024 || hi - lo == exco_stack_guard()))
      n++;
  }
  fclose(f);
  return n;
}

/* ---------------------------------------------------------------------- */
/* The recording host driver                                               */
/* ---------------------------------------------------------------------- */

void *h_task_new(void *data) {
  h_host *h = data;
  h_ext *e;

  pthread_mutex_lock(&h->mu);
  h->n_new++;
  h->last_new_data = data;
  if (h->fail_new) {
    pthread_mutex_unlock(&h->mu);
    return NULL;
  }
  pthread_mutex_unlock(&h->mu);

  e = calloc(1, sizeof(*e));
  if (e == NULL)
    abort();
  e->host = h;
  pthread_mutex_lock(&h->mu);
  e->anext = h->all;
  h->all = e;
  pthread_mutex_unlock(&h->mu);
  return e;
}

/* Called with h->mu held. */
static void enqueue(h_host *h, h_ext *e) {
  if (e->queued)
    return;
  e->queued = 1;
  e->qnext = NULL;
  if (h->qtail != NULL)
    h->qtail->qnext = e;
  else
    h->qhead = e;
  h->qtail = e;
  pthread_cond_broadcast(&h->cv);
}

/* Called with h->mu held. */
static void unqueue(h_host *h, h_ext *e) {
  h_ext **pp, *prev = NULL;

  if (!e->queued)
    return;
  for (pp = &h->qhead; *pp != NULL; prev = *pp, pp = &(*pp)->qnext) {
    if (*pp == e) {
      *pp = e->qnext;
      if (h->qtail == e)
        h->qtail = prev;
      break;
    }
  }
  e->queued = 0;
  e->qnext = NULL;
}

void h_task_run(void *ext, exco_task *intern) {
  h_ext *e = ext;
  h_host *h = e->host;

  pthread_mutex_lock(&h->mu);
  h->n_run++;
  if (e->runs++ != 0)
    h->v_run_twice++;
  if (intern == NULL)
    h->v_run_null++;
  e->intern = intern;
  e->run_thread = pthread_self();
  h->live++;
  enqueue(h, e);
  pthread_mutex_unlock(&h->mu);
}

void h_task_wake(void *ext) {
  h_ext *e = ext;
  h_host *h = e->host;

  /* Read unlocked: set once before the task exists. */
  if (h->slow_wake)
    sched_yield();
  pthread_mutex_lock(&h->mu);
  h->n_wake++;
  e->wakes++;
  if (e->runs == 0)
    h->v_wake_unknown++;
  if (e->dropped) {
    /* exco_drop() returned already: the contract says never. */
    h->v_wake_dropped++;
  } else {
    if (++e->wakes_since_poll > 1)
      h->v_wake_extra++;
    enqueue(h, e);
  }
  pthread_mutex_unlock(&h->mu);
}

void h_host_init_bare(h_host *h) {
  memset(h, 0, sizeof(*h));
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
}

void h_host_init(h_host *h) {
  int r;

  h_host_init_bare(h);
  r = exco_executor_new(&h->ex, h_task_new, h_task_run, h_task_wake, h);
  ck_assert_int_eq(r, 0);
  ck_assert_ptr_nonnull(h->ex);
}

void h_host_assert_clean(h_host *h) {
  pthread_mutex_lock(&h->mu);
  ck_assert_uint_eq(h->v_run_twice, 0);
  ck_assert_uint_eq(h->v_run_null, 0);
  ck_assert_uint_eq(h->v_wake_dropped, 0);
  ck_assert_uint_eq(h->v_wake_extra, 0);
  ck_assert_uint_eq(h->v_wake_unknown, 0);
  ck_assert_uint_eq(h->v_poll_error, 0);
  ck_assert_uint_eq(h->v_drop_error, 0);
  pthread_mutex_unlock(&h->mu);
}

void h_host_free_exts(h_host *h) {
  h_ext *e, *next;

  for (e = h->all; e != NULL; e = next) {
    next = e->anext;
    free(e);
  }
  h->all = NULL;
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
}

void h_host_destroy(h_host *h) {
  h_host_assert_clean(h);
  ck_assert_int_eq(h_host_live(h), 0);
  if (h->ex != NULL) {
    ck_assert_int_eq(exco_executor_live(h->ex), 0);
    ck_assert_int_eq(exco_executor_free(h->ex), 0);
    h->ex = NULL;
  }
  h_host_free_exts(h);
}

h_ext *h_host_pop(h_host *h) {
  h_ext *e;

  pthread_mutex_lock(&h->mu);
  e = h->qhead;
  if (e != NULL)
    unqueue(h, e);
  pthread_mutex_unlock(&h->mu);
  return e;
}

h_ext *h_host_ext(h_host *h, exco_task *t) {
  h_ext *e;

  pthread_mutex_lock(&h->mu);
  for (e = h->all; e != NULL; e = e->anext)
    if (e->intern == t && e->runs != 0)
      break;
  pthread_mutex_unlock(&h->mu);
  return e;
}

int h_host_poll(h_host *h, h_ext *e) {
  int r;

  pthread_mutex_lock(&h->mu);
  e->wakes_since_poll = 0;
  e->polls++;
  h->n_polls++;
  pthread_mutex_unlock(&h->mu);
  r = exco_poll(e->intern);
  if (r == 0) {
    pthread_mutex_lock(&h->mu);
    e->finished = 1;
    pthread_mutex_unlock(&h->mu);
  }
  return r;
}

void h_host_mark_dropped(h_host *h, h_ext *e) {
  pthread_mutex_lock(&h->mu);
  e->dropped = 1;
  unqueue(h, e);
  h->live--;
  h->n_drops++;
  pthread_mutex_unlock(&h->mu);
}

int h_host_drop(h_host *h, h_ext *e) {
  int r = exco_drop(e->intern);

  if (r == 0)
    h_host_mark_dropped(h, e);
  return r;
}

/* Pops and polls one ready task, dropping it if it finished.  Returns 1 if
 * a task was polled, 0 if the queue was empty. */
static int run_one(h_host *h) {
  h_ext *e = h_host_pop(h);
  int r;

  if (e == NULL)
    return 0;
  if (e->dropped)
    return 1;
  r = h_host_poll(h, e);
  if (r < 0) {
    pthread_mutex_lock(&h->mu);
    h->v_poll_error++;
    pthread_mutex_unlock(&h->mu);
  } else if (r == 0) {
    if (h_host_drop(h, e) != 0) {
      pthread_mutex_lock(&h->mu);
      h->v_drop_error++;
      pthread_mutex_unlock(&h->mu);
    }
  }
  return 1;
}

long h_host_run_until_idle(h_host *h) {
  while (run_one(h))
    ;
  return h_host_live(h);
}

int h_host_run(h_host *h) {
  for (;;) {
    struct timespec deadline;
    double t;
    int r = 0;

    h_host_run_until_idle(h);
    t = h_wait_timeout();
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)t;
    pthread_mutex_lock(&h->mu);
    while (h->live > 0 && h->qhead == NULL && r == 0)
      r = pthread_cond_timedwait(&h->cv, &h->mu, &deadline);
    if (h->live == 0) {
      pthread_mutex_unlock(&h->mu);
      return 0;
    }
    pthread_mutex_unlock(&h->mu);
    if (r == ETIMEDOUT)
      return -1;
  }
}

unsigned long h_host_wakes(h_host *h) {
  unsigned long n;

  pthread_mutex_lock(&h->mu);
  n = h->n_wake;
  pthread_mutex_unlock(&h->mu);
  return n;
}

long h_host_live(h_host *h) {
  long n;

  pthread_mutex_lock(&h->mu);
  n = h->live;
  pthread_mutex_unlock(&h->mu);
  return n;
}

/* ---------------------------------------------------------------------- */
/* A flag future                                                           */
/* ---------------------------------------------------------------------- */

void h_flag_init(h_flag *f) {
  pthread_mutex_init(&f->mu, NULL);
  f->ready = 0;
  f->waker = NULL;
  atomic_init(&f->polls, 0);
  atomic_init(&f->cancels, 0);
  atomic_init(&f->wrong_task, 0);
}

void h_flag_destroy(h_flag *f) {
  exco_waker_drop(f->waker);
  f->waker = NULL;
  pthread_mutex_destroy(&f->mu);
}

void h_flag_set(h_flag *f) {
  exco_waker *w;

  pthread_mutex_lock(&f->mu);
  f->ready = 1;
  w = f->waker;
  f->waker = NULL;
  pthread_mutex_unlock(&f->mu);
  exco_waker_wake(w);
  exco_waker_drop(w);
}

void h_flag_reset(h_flag *f) {
  pthread_mutex_lock(&f->mu);
  f->ready = 0;
  pthread_mutex_unlock(&f->mu);
}

void h_flag_poke(h_flag *f) {
  exco_waker *w;

  pthread_mutex_lock(&f->mu);
  w = exco_waker_clone(f->waker);
  pthread_mutex_unlock(&f->mu);
  exco_waker_wake(w);
  exco_waker_drop(w);
}

int h_flag_has_waker(h_flag *f) {
  int r;

  pthread_mutex_lock(&f->mu);
  r = f->waker != NULL;
  pthread_mutex_unlock(&f->mu);
  return r;
}

int h_flag_poll(void *arg, exco_waker *w) {
  h_flag *f = arg;
  exco_waker *old = NULL;
  int ready;

  atomic_fetch_add(&f->polls, 1);
  if (exco_current() == NULL)
    atomic_fetch_add(&f->wrong_task, 1);
  /* Register and check under one lock, so a set that races with this poll
   * either is seen here or finds the waker registered. */
  pthread_mutex_lock(&f->mu);
  ready = f->ready;
  if (!ready) {
    old = f->waker;
    f->waker = exco_waker_clone(w);
  }
  pthread_mutex_unlock(&f->mu);
  exco_waker_drop(old);
  return ready;
}

void h_flag_cancel(void *arg) {
  h_flag *f = arg;
  exco_waker *w;

  atomic_fetch_add(&f->cancels, 1);
  pthread_mutex_lock(&f->mu);
  w = f->waker;
  f->waker = NULL;
  pthread_mutex_unlock(&f->mu);
  exco_waker_drop(w);
}

int h_flag_await(h_flag *f) {
  return exco_await(h_flag_poll, h_flag_cancel, f);
}

int h_never_poll(void *arg, exco_waker *w) {
  (void)w;
  if (arg != NULL)
    atomic_fetch_add((atomic_int *)arg, 1);
  return 0;
}

void *h_flagged_body(void *arg) {
  h_flagged *f = arg;

  f->result = h_flag_await(&f->flag);
  f->done = 1;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Allocator                                                               */
/* ---------------------------------------------------------------------- */

/* Each block carries a header so frees of blocks from the counting
 * allocator can be told from anything else. */
#define H_ALLOC_MAGIC 0x6578636f616c6c63ULL

typedef union h_block {
  struct {
    unsigned long long magic;
    size_t size;
  } h;
  max_align_t align;
} h_block;

static atomic_long alloc_count;
static atomic_long alloc_outstanding;
static atomic_long alloc_fail_at;
static atomic_int alloc_failed;

static void *counting_malloc(size_t size) {
  long n = atomic_fetch_add(&alloc_count, 1) + 1;
  h_block *b;

  if (n == atomic_load(&alloc_fail_at)) {
    atomic_store(&alloc_failed, 1);
    return NULL;
  }
  b = malloc(sizeof(*b) + size);
  if (b == NULL)
    return NULL;
  b->h.magic = H_ALLOC_MAGIC;
  b->h.size = size;
  atomic_fetch_add(&alloc_outstanding, 1);
  return b + 1;
}

static void counting_free(void *p) {
  h_block *b;

  if (p == NULL)
    return;
  b = (h_block *)p - 1;
  if (b->h.magic != H_ALLOC_MAGIC)
    abort(); /* Freed by the wrong allocator. */
  b->h.magic = 0;
  atomic_fetch_sub(&alloc_outstanding, 1);
  free(b);
}

void h_alloc_install(long fail_at) {
  atomic_store(&alloc_count, 0);
  atomic_store(&alloc_fail_at, fail_at);
  atomic_store(&alloc_failed, 0);
  ck_assert_int_eq(exco_replace_allocator(counting_malloc, counting_free), 0);
}

void h_alloc_restore(void) {
  ck_assert_int_eq(exco_replace_allocator(NULL, NULL), 0);
}

long h_alloc_count(void) {
  return atomic_load(&alloc_count);
}

long h_alloc_outstanding(void) {
  return atomic_load(&alloc_outstanding);
}

int h_alloc_failed(void) {
  return atomic_load(&alloc_failed);
}

/* ---------------------------------------------------------------------- */
/* Threads and suites                                                      */
/* ---------------------------------------------------------------------- */

void h_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) {
  ck_assert_int_eq(pthread_create(t, NULL, fn, arg), 0);
}

void *h_thread_join(pthread_t t) {
  void *ret = NULL;

  ck_assert_int_eq(pthread_join(t, &ret), 0);
  return ret;
}

static void watchdog_fired(int sig) {
  static const char msg[] = "exco tests: watchdog: the test hung; "
                            "exiting (EXCO_TEST_WATCHDOG)\n";
  ssize_t r;

  (void)sig;
  r = write(2, msg, sizeof(msg) - 1);
  (void)r;
  _exit(124);
}

void h_setup(void) {
  const char *v = getenv("EXCO_TEST_WATCHDOG");
  unsigned s = v != NULL ? (unsigned)atoi(v) : 120;
  struct sigaction sa;

  if (h_under_valgrind() && v == NULL)
    s *= 5;
  /* A hung test (a lost wakeup inside exco_run, say) exits instead of
   * hanging the suite, in fork and no-fork mode alike.  Our own handler:
   * Check's SIGALRM handler would killpg() the whole process group
   * (make included) in no-fork mode. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = watchdog_fired;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  alarm(s);
}

void h_teardown(void) {
  alarm(0);
}

TCase *h_tcase(const char *name, double timeout) {
  TCase *tc = tcase_create(name);

  tcase_add_checked_fixture(tc, h_setup, h_teardown);
  tcase_set_timeout(tc, timeout);
  return tc;
}

int h_run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  int failed;

  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---------------------------------------------------------------------- */
/* Rigs                                                                    */
/* ---------------------------------------------------------------------- */

void h_rig_init(h_rig *r, int kind) {
  r->kind = kind;
  r->ex = NULL;
  if (kind == H_RIG_HOST) {
    h_host_init(&r->h);
    r->ex = r->h.ex;
  } else {
    ck_assert_int_eq(exco_executor_new_local(&r->ex), 0);
  }
}

void h_rig_spawn(h_rig *r, exco_fn fn, void *arg, exco_task **out) {
  ck_assert_int_eq(exco_spawn(r->ex, fn, arg, NULL, out), 0);
}

void h_rig_run(h_rig *r) {
  if (r->kind == H_RIG_HOST)
    ck_assert_msg(h_host_run(&r->h) == 0, "host: lost wakeup");
  else
    ck_assert_int_eq(exco_run(r->ex), 0);
}

long h_rig_run_until_idle(h_rig *r) {
  if (r->kind == H_RIG_HOST)
    return h_host_run_until_idle(&r->h);
  return exco_run_until_idle(r->ex);
}

void h_rig_fini(h_rig *r) {
  if (r->kind == H_RIG_HOST) {
    h_host_destroy(&r->h);
  } else {
    ck_assert_int_eq(exco_executor_live(r->ex), 0);
    ck_assert_int_eq(exco_executor_free(r->ex), 0);
  }
  r->ex = NULL;
}

int h_wait_at_least(atomic_int *v, int want) {
  double end = h_now() + h_wait_timeout();

  while (atomic_load(v) < want) {
    if (h_now() > end)
      return -1;
    sched_yield();
  }
  return 0;
}
