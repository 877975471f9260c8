/*
 * test-libev.c -- the libev driver (<exco/libev.h>) and its awaitable:
 *
 *   - exco_libev_wait_fd() on a socketpair and a pipe: readable, writable,
 *     both; the revents it returns; a wait that ends by the peer's write;
 *   - its errors: EXCO_EPERM outside a coroutine, EXCO_ENOTSUP on an
 *     executor without a libev loop, EXCO_EINVAL for a negative or closed
 *     descriptor and for bad events;
 *   - a deadline (EXCO_ETIMEDOUT, and the task goes on once the deadline
 *     is moved) and a cancellation (EXCO_ECANCELED, from a libev callback
 *     and from another thread, and for a task cancelled already);
 *   - ev_run() returns by itself once every task has finished, stays in
 *     while a task waits on another thread (blocked, not spinning), and
 *     returns at once with nothing to do;
 *   - wakes and spawns from other threads, exactly counted;
 *   - the budget: polls per loop iteration;
 *   - exco_executor_close() from a libev callback with tasks pending in a
 *     wait_fd, a sleep, a promise and a yield loop.
 *
 * Every test counts the process's descriptors before it makes its loop
 * and after it destroyed it: nothing leaks (valgrind and ASan see the
 * memory).  A watcher left active after a wait would keep ev_run() from
 * returning (ev_io watchers are referenced), which each run's guard timer
 * turns into a failure instead of a hang.  Coroutines and threads record
 * what they see; the asserts come after ev_run() returns.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "exco/driver.h"
#include "exco/libev.h"
#include "harness.h"

/* ---------------------------------------------------------------------- */
/* A loop with a guard                                                     */
/* ---------------------------------------------------------------------- */

/* Open descriptors of the process (the directory's own one included, the
 * same in every count). */
static int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  ck_assert_ptr_nonnull(d);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

typedef struct tloop {
  struct ev_loop *loop;
  exco_executor *ex;
  ev_timer guard;
  int fired;
  int fds; /* fd_count() before the loop */
} tloop;

static void guard_fired(struct ev_loop *loop, ev_timer *w, int revents) {
  tloop *t = w->data;

  (void)revents;
  ev_ref(loop); /* libev stopped the unreferenced one-shot timer */
  t->fired = 1;
  ev_break(loop, EVBREAK_ALL);
}

static void tloop_init(tloop *t) {
  memset(t, 0, sizeof(*t));
  t->fds = fd_count();
  t->loop = ev_loop_new(EVFLAG_AUTO);
  ck_assert_ptr_nonnull(t->loop);
  ev_timer_init(&t->guard, guard_fired, 0.0, 0.0);
  t->guard.data = t;
  ck_assert_int_eq(exco_libev_executor_new(&t->ex, t->loop), 0);
}

/* ev_run(loop, 0), which must return by itself within h_wait_timeout()
 * seconds with nothing left active.  Returns the seconds it took. */
static double tloop_run(tloop *t) {
  double t0 = h_now();
  int ret;

  t->fired = 0;
  ev_now_update(t->loop);
  ev_timer_set(&t->guard, h_wait_timeout(), 0.0);
  ev_timer_start(t->loop, &t->guard);
  ev_unref(t->loop);
  ret = ev_run(t->loop, 0);
  if (ev_is_active(&t->guard)) {
    ev_ref(t->loop);
    ev_timer_stop(t->loop, &t->guard);
  }
  ck_assert_msg(!t->fired, "ev_run did not return by itself");
  ck_assert_int_eq(ret, 0);
  return h_now() - t0;
}

/* Frees the executor (unless @closed), destroys the loop and checks that
 * no descriptor is left. */
static void tloop_fini(tloop *t, int closed) {
  if (!closed)
    ck_assert_int_eq(exco_executor_free(t->ex), 0);
  /* Nothing may be left active or referenced. */
  ck_assert_int_eq(ev_run(t->loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(t->loop);
  ck_assert_int_eq(fd_count(), t->fds);
}

static void make_socketpair(int sv[2]) {
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
  ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

/* ---------------------------------------------------------------------- */
/* Waiting for descriptors                                                 */
/* ---------------------------------------------------------------------- */

typedef struct fdwait {
  int fd;
  int events;
  int result; /* exco_libev_wait_fd()'s */
  char got;   /* a byte read after a successful read wait */
  int done;
} fdwait;

static void *fn_wait(void *arg) {
  fdwait *w = arg;

  w->result = exco_libev_wait_fd(w->fd, w->events);
  if (w->result > 0 && (w->result & EV_READ))
    (void)!read(w->fd, &w->got, 1);
  w->done = 1;
  return NULL;
}

/* Writes one byte after waiting for writability itself. */
static void *fn_write_x(void *arg) {
  fdwait *w = arg;

  w->result = exco_libev_wait_fd(w->fd, EV_WRITE);
  if (w->result == EV_WRITE)
    (void)!write(w->fd, "x", 1);
  w->done = 1;
  return NULL;
}

START_TEST(wait_fd_ready) {
  tloop t;
  int sv[2];
  fdwait rd, wr, both, writer;

  tloop_init(&t);
  make_socketpair(sv);
  memset(&rd, 0, sizeof(rd));
  memset(&wr, 0, sizeof(wr));
  memset(&both, 0, sizeof(both));
  memset(&writer, 0, sizeof(writer));
  /* rd waits for a byte that writer sends once the loop runs. */
  rd.fd = sv[0];
  rd.events = EV_READ;
  writer.fd = sv[1];
  /* A socket with room is writable at once. */
  wr.fd = sv[1];
  wr.events = EV_WRITE;
  both.fd = sv[1];
  both.events = EV_READ | EV_WRITE;
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &rd, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &wr, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &both, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_write_x, &writer, NULL, NULL), 0);
  tloop_run(&t);
  ck_assert(rd.done && wr.done && both.done && writer.done);
  ck_assert_int_eq(writer.result, EV_WRITE);
  ck_assert_int_eq(rd.result, EV_READ);
  ck_assert_int_eq(rd.got, 'x');
  ck_assert_int_eq(wr.result, EV_WRITE);
  /* Only writable: the events that fired, within those asked for. */
  ck_assert_int_eq(both.result, EV_WRITE);
  close(sv[0]);
  close(sv[1]);
  tloop_fini(&t, 0);
}
END_TEST

/*
 * Signals, the way exco.h says (SIGNALS): no exco call in the handler,
 * only write(2) to a self-pipe, and a coroutine that waits for the pipe.
 * The handler may run anywhere: here inside another coroutine, while the
 * waiter is suspended.
 */
static int sig_pipe[2];

static void on_sigusr2(int sig) {
  char c = (char)sig;

  (void)!write(sig_pipe[1], &c, 1);
}

static void *fn_raise_later(void *arg) {
  (void)arg;
  /* Runs after the waiter has suspended (spawned second, same loop). */
  raise(SIGUSR2);
  return NULL;
}

START_TEST(signal_through_a_self_pipe) {
  struct sigaction sa, old;
  fdwait w;
  tloop t;

  tloop_init(&t);
  ck_assert_int_eq(pipe(sig_pipe), 0);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigusr2;
  sigemptyset(&sa.sa_mask);
  ck_assert_int_eq(sigaction(SIGUSR2, &sa, &old), 0);
  memset(&w, 0, sizeof(w));
  w.fd = sig_pipe[0];
  w.events = EV_READ;
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &w, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_raise_later, NULL, NULL, NULL), 0);
  tloop_run(&t);
  sigaction(SIGUSR2, &old, NULL);
  ck_assert_int_eq(w.result, EV_READ);
  ck_assert_int_eq(w.got, SIGUSR2);
  close(sig_pipe[0]);
  close(sig_pipe[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* A pipe written by another thread once the task waits. */
typedef struct piped {
  fdwait w;
  int wfd;
  tloop *t;
  atomic_int waiting;
  int wait_failed;
} piped;

static void *fn_wait_flagged(void *arg) {
  piped *p = arg;

  atomic_store(&p->waiting, 1);
  return fn_wait(&p->w);
}

static void *thread_write_when_waiting(void *arg) {
  piped *p = arg;

  p->wait_failed = h_wait_at_least(&p->waiting, 1) != 0;
  (void)!write(p->wfd, "p", 1);
  return NULL;
}

START_TEST(wait_fd_pipe_other_thread) {
  tloop t;
  int pfd[2];
  piped p;
  pthread_t th;

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(&p, 0, sizeof(p));
  atomic_init(&p.waiting, 0);
  p.w.fd = pfd[0];
  p.w.events = EV_READ;
  p.wfd = pfd[1];
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait_flagged, &p, NULL, NULL), 0);
  h_thread_start(&th, thread_write_when_waiting, &p);
  tloop_run(&t);
  h_thread_join(th);
  ck_assert_int_eq(p.wait_failed, 0);
  ck_assert_int_eq(p.w.result, EV_READ);
  ck_assert_int_eq(p.w.got, 'p');
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct errs {
  int neg_fd, no_events, bad_events, closed_fd;
  int notsup;
  struct ev_loop *loop_in; /* exco_libev_loop() in a coroutine */
  int done;
} errs;

static void *fn_errors(void *arg) {
  errs *e = arg;
  int fd = dup(2); /* a descriptor number, closed again below */

  e->loop_in = exco_libev_loop();
  e->neg_fd = exco_libev_wait_fd(-1, EV_READ);
  e->no_events = exco_libev_wait_fd(0, 0);
  e->bad_events = exco_libev_wait_fd(0, EV_READ | EV_TIMER);
  if (fd >= 0) {
    close(fd);
    /* libev can't watch it: EV_ERROR, which the call reports. */
    e->closed_fd = exco_libev_wait_fd(fd, EV_READ);
  }
  e->done = 1;
  return NULL;
}

static void *fn_notsup(void *arg) {
  errs *e = arg;

  e->notsup = exco_libev_wait_fd(0, EV_READ);
  e->loop_in = exco_libev_loop();
  e->done = 1;
  return NULL;
}

START_TEST(wait_fd_errors) {
  tloop t;
  errs e;
  exco_executor *local;

  ck_assert_int_eq(exco_libev_wait_fd(0, EV_READ), EXCO_EPERM);
  ck_assert_ptr_null(exco_libev_loop());
  ck_assert_int_eq(exco_libev_executor_new(NULL, EV_DEFAULT), EXCO_EINVAL);
  ck_assert_int_eq(exco_libev_executor_new(&local, NULL), EXCO_EINVAL);

  tloop_init(&t);
  ck_assert_ptr_eq(exco_libev_executor_loop(t.ex), t.loop);
  ck_assert_str_eq(exco_driver_name(t.ex), "libev");
  memset(&e, 0, sizeof(e));
  ck_assert_int_eq(exco_spawn(t.ex, fn_errors, &e, NULL, NULL), 0);
  tloop_run(&t);
  ck_assert(e.done);
  ck_assert_ptr_eq(e.loop_in, t.loop);
  ck_assert_int_eq(e.neg_fd, EXCO_EINVAL);
  ck_assert_int_eq(e.no_events, EXCO_EINVAL);
  ck_assert_int_eq(e.bad_events, EXCO_EINVAL);
  ck_assert_int_eq(e.closed_fd, EXCO_EINVAL);
  tloop_fini(&t, 0);

  /* An executor of another kind has no libev loop. */
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_ptr_null(exco_libev_executor_loop(local));
  ck_assert_int_eq(exco_libev_executor_set_budget(local, 1), EXCO_EINVAL);
  ck_assert_ptr_null(exco_libev_executor_loop(NULL));
  memset(&e, 0, sizeof(e));
  e.loop_in = EV_DEFAULT;
  ck_assert_int_eq(exco_spawn(local, fn_notsup, &e, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(local), 0);
  ck_assert(e.done);
  ck_assert_int_eq(e.notsup, EXCO_ENOTSUP);
  ck_assert_ptr_null(e.loop_in);
  ck_assert_int_eq(exco_executor_free(local), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Deadline and cancellation                                               */
/* ---------------------------------------------------------------------- */

typedef struct dl {
  int fd, wfd;
  int first, second;
  int64_t waited; /* ms the first wait took */
  char got;
  int done;
} dl;

static void *fn_deadline(void *arg) {
  dl *d = arg;
  int64_t prev, t0 = exco_now();

  exco_deadline_after(30, &prev);
  d->first = exco_libev_wait_fd(d->fd, EV_READ);
  d->waited = exco_now() - t0;
  exco_deadline_set(prev, NULL);
  /* The task goes on: with data there and no deadline, the next wait
   * succeeds. */
  (void)!write(d->wfd, "d", 1);
  d->second = exco_libev_wait_fd(d->fd, EV_READ);
  if (d->second == EV_READ)
    (void)!read(d->fd, &d->got, 1);
  d->done = 1;
  return NULL;
}

START_TEST(wait_fd_deadline) {
  tloop t;
  int pfd[2];
  dl d;

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(&d, 0, sizeof(d));
  d.fd = pfd[0];
  d.wfd = pfd[1];
  ck_assert_int_eq(exco_spawn(t.ex, fn_deadline, &d, NULL, NULL), 0);
  tloop_run(&t);
  ck_assert(d.done);
  ck_assert_int_eq(d.first, EXCO_ETIMEDOUT);
  ck_assert_msg(d.waited >= 30, "deadline after %lld ms", (long long)d.waited);
  ck_assert_int_eq(d.second, EV_READ);
  ck_assert_int_eq(d.got, 'd');
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

typedef struct cancel_state {
  fdwait w[3];
  exco_task *task[3];
  ev_timer timer;
  int cancel_err;
} cancel_state;

/* A libev callback of the host's cancels task 0 (referenced, so it keeps
 * the loop in until it fires). */
static void cancel_cb(struct ev_loop *loop, ev_timer *tm, int revents) {
  cancel_state *cs = tm->data;

  (void)loop;
  (void)revents;
  cs->cancel_err = exco_task_cancel(cs->task[0]);
}

static void *thread_cancel(void *arg) {
  exco_task *task = arg;

  return (void *)(intptr_t)exco_task_cancel(task);
}

START_TEST(wait_fd_cancel) {
  tloop t;
  int pfd[2], i;
  cancel_state cs;
  pthread_t th;
  void *thread_err;

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(&cs, 0, sizeof(cs));
  for (i = 0; i < 3; i++) {
    cs.w[i].fd = pfd[0];
    cs.w[i].events = EV_READ;
  }
  /* 0: cancelled from a libev callback; 1: from another thread, before
   * or while it waits; 2: cancelled before its first poll. */
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &cs.w[0], NULL, &cs.task[0]), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &cs.w[1], NULL, &cs.task[1]), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &cs.w[2], NULL, &cs.task[2]), 0);
  ck_assert_int_eq(exco_task_cancel(cs.task[2]), 0);
  ev_timer_init(&cs.timer, cancel_cb, 0.02, 0.0);
  cs.timer.data = &cs;
  ev_timer_start(t.loop, &cs.timer);
  h_thread_start(&th, thread_cancel, cs.task[1]);
  /* The thread may cancel before or while the task waits: either way
   * the wait returns EXCO_ECANCELED. */
  tloop_run(&t);
  thread_err = h_thread_join(th);
  ck_assert_int_eq((int)(intptr_t)thread_err, 0);
  ck_assert_int_eq(cs.cancel_err, 0);
  for (i = 0; i < 3; i++) {
    ck_assert_msg(cs.w[i].done, "task %d did not finish", i);
    ck_assert_int_eq(cs.w[i].result, EXCO_ECANCELED);
    exco_task_release(cs.task[i]);
  }
  /* The watchers were stopped: data on the pipe now wakes nothing and
   * the loop stays empty. */
  (void)!write(pfd[1], "c", 1);
  ck_assert_int_eq(ev_run(t.loop, EVRUN_NOWAIT), 0);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The loop's exit                                                         */
/* ---------------------------------------------------------------------- */

typedef struct exit_state {
  exco_promise *p;
  atomic_int waiting;
  int r_sleep, r_await, wait_failed;
  int64_t slept;
} exit_state;

static void *fn_sleep(void *arg) {
  exit_state *es = arg;
  int64_t t0 = exco_now();

  es->r_sleep = exco_sleep(20);
  es->slept = exco_now() - t0;
  return NULL;
}

static void *fn_await(void *arg) {
  exit_state *es = arg;

  atomic_store(&es->waiting, 1);
  es->r_await = exco_promise_await(es->p, NULL);
  return NULL;
}

static void *thread_resolve_later(void *arg) {
  exit_state *es = arg;
  struct timespec ts = {0, 50 * 1000 * 1000};

  es->wait_failed = h_wait_at_least(&es->waiting, 1) != 0;
  /* Not a synchronisation: time for a spinning loop to show itself. */
  nanosleep(&ts, NULL);
  exco_promise_resolve(es->p, NULL);
  return NULL;
}

START_TEST(loop_exits_by_itself) {
  tloop t;
  exit_state es;
  pthread_t th;
  unsigned iters;
  double took;

  tloop_init(&t);
  memset(&es, 0, sizeof(es));
  atomic_init(&es.waiting, 0);
  es.r_sleep = es.r_await = 1;
  ck_assert_int_eq(exco_promise_new(&es.p), 0);
  /* Nothing to do: it returns at once. */
  took = tloop_run(&t);
  ck_assert_msg(took < 5.0, "an empty run took %.1f s", took);
  /* A sleep and a wait on another thread keep it in, blocked. */
  ck_assert_int_eq(exco_spawn(t.ex, fn_sleep, &es, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_await, &es, NULL, NULL), 0);
  h_thread_start(&th, thread_resolve_later, &es);
  iters = ev_iteration(t.loop);
  tloop_run(&t);
  iters = ev_iteration(t.loop) - iters;
  h_thread_join(th);
  ck_assert_int_eq(es.wait_failed, 0);
  ck_assert_int_eq(es.r_sleep, 0);
  ck_assert_msg(es.slept >= 20, "slept %lld ms", (long long)es.slept);
  ck_assert_int_eq(es.r_await, 0);
  ck_assert_int_eq(exco_driver_live(t.ex), 0);
  ck_assert_msg(iters < 100, "%u loop iterations over a 50 ms wait: spinning",
                iters);
  /* And again at once. */
  took = tloop_run(&t);
  ck_assert_msg(took < 5.0, "an empty run took %.1f s", took);
  exco_promise_unref(es.p);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Cross-thread wakes and spawns                                           */
/* ---------------------------------------------------------------------- */

enum { XT_THREADS = 4, XT_PROMISES = 200, XT_SPAWNS = 50 };

typedef struct xt {
  tloop *t;
  exco_promise *p[XT_THREADS][XT_PROMISES];
  atomic_int awaiting[XT_THREADS]; /* tasks of thread i awaiting */
  int got[XT_THREADS][XT_PROMISES];
  atomic_int spawned_ran;
  int spawn_errors[XT_THREADS];
  int wait_failed[XT_THREADS];
  int n;
} xt;

typedef struct xt_arg {
  xt *x;
  int i;
  int j;
} xt_arg;

static xt_arg xt_args[XT_THREADS][XT_PROMISES];
static xt_arg xt_thread_args[XT_THREADS];

static void *fn_xt_await(void *arg) {
  xt_arg *a = arg;
  void *v = NULL;

  atomic_fetch_add(&a->x->awaiting[a->i], 1);
  if (exco_promise_await(a->x->p[a->i][a->j], &v) == 0 && v == a)
    a->x->got[a->i][a->j] = 1;
  return NULL;
}

static void *fn_xt_spawned(void *arg) {
  xt *x = arg;

  if (exco_yield() == 0)
    atomic_fetch_add(&x->spawned_ran, 1);
  return NULL;
}

static void *thread_xt(void *arg) {
  xt_arg *a = arg;
  xt *x = a->x;
  int j;

  /* Spawns first: the awaiting tasks keep the loop in meanwhile. */
  for (j = 0; j < XT_SPAWNS; j++)
    if (exco_spawn(x->t->ex, fn_xt_spawned, x, NULL, NULL) != 0)
      x->spawn_errors[a->i]++;
  x->wait_failed[a->i] = h_wait_at_least(&x->awaiting[a->i], x->n) != 0;
  for (j = 0; j < x->n; j++)
    exco_promise_resolve(x->p[a->i][j], &xt_args[a->i][j]);
  return NULL;
}

START_TEST(cross_thread_wakes) {
  tloop t;
  static xt x;
  pthread_t th[XT_THREADS];
  int i, j, got = 0;

  tloop_init(&t);
  memset(&x, 0, sizeof(x));
  x.t = &t;
  x.n = (int)h_scale(XT_PROMISES);
  atomic_init(&x.spawned_ran, 0);
  for (i = 0; i < XT_THREADS; i++) {
    atomic_init(&x.awaiting[i], 0);
    for (j = 0; j < x.n; j++) {
      ck_assert_int_eq(exco_promise_new(&x.p[i][j]), 0);
      xt_args[i][j].x = &x;
      xt_args[i][j].i = i;
      xt_args[i][j].j = j;
      ck_assert_int_eq(
          exco_spawn(t.ex, fn_xt_await, &xt_args[i][j], NULL, NULL), 0);
    }
  }
  for (i = 0; i < XT_THREADS; i++) {
    xt_thread_args[i].x = &x;
    xt_thread_args[i].i = i;
    h_thread_start(&th[i], thread_xt, &xt_thread_args[i]);
  }
  tloop_run(&t);
  for (i = 0; i < XT_THREADS; i++)
    h_thread_join(th[i]);
  /* Each thread spawned before it resolved, so the loop saw every spawn
   * before the last await could finish: one run did it all. */
  ck_assert_int_eq(exco_driver_live(t.ex), 0);
  for (i = 0; i < XT_THREADS; i++) {
    ck_assert_int_eq(x.wait_failed[i], 0);
    ck_assert_int_eq(x.spawn_errors[i], 0);
    for (j = 0; j < x.n; j++) {
      got += x.got[i][j];
      exco_promise_unref(x.p[i][j]);
    }
  }
  ck_assert_int_eq(got, XT_THREADS * x.n);
  ck_assert_int_eq(atomic_load(&x.spawned_ran), XT_THREADS * XT_SPAWNS);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The budget                                                              */
/* ---------------------------------------------------------------------- */

enum { BUDGET_TASKS = 4, BUDGET_YIELDS = 50 };

static void *fn_yields(void *arg) {
  int *n = arg;
  int i;

  for (i = 0; i < BUDGET_YIELDS; i++)
    if (exco_yield() == 0)
      ++*n;
  return NULL;
}

static unsigned run_yielders(unsigned budget, int *total) {
  tloop t;
  int n[BUDGET_TASKS] = {0};
  unsigned iters;
  int i;

  tloop_init(&t);
  ck_assert_int_eq(exco_libev_executor_set_budget(t.ex, budget), 0);
  for (i = 0; i < BUDGET_TASKS; i++)
    ck_assert_int_eq(exco_spawn(t.ex, fn_yields, &n[i], NULL, NULL), 0);
  iters = ev_iteration(t.loop);
  tloop_run(&t);
  iters = ev_iteration(t.loop) - iters;
  *total = 0;
  for (i = 0; i < BUDGET_TASKS; i++)
    *total += n[i];
  tloop_fini(&t, 0);
  return iters;
}

START_TEST(budget) {
  int total;
  unsigned iters;

  /* One poll per iteration: at least one iteration per poll. */
  iters = run_yielders(1, &total);
  ck_assert_int_eq(total, BUDGET_TASKS * BUDGET_YIELDS);
  ck_assert_msg(iters >= BUDGET_TASKS * (BUDGET_YIELDS + 1),
                "budget 1: %u iterations for %d polls", iters,
                BUDGET_TASKS * (BUDGET_YIELDS + 1));
  /* The default (0 restores it) polls every ready task each time. */
  iters = run_yielders(0, &total);
  ck_assert_int_eq(total, BUDGET_TASKS * BUDGET_YIELDS);
  ck_assert_msg(iters <= BUDGET_YIELDS + 5,
                "default budget: %u iterations for %d rounds", iters,
                BUDGET_YIELDS + 1);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Closing from a libev callback                                           */
/* ---------------------------------------------------------------------- */

typedef struct closing {
  tloop *t;
  exco_promise *p;
  int pfd[2];
  int r_wait, r_sleep, r_await, r_yield;
  int finished;
  int close_err, spawn_after;
  int closed_calls;
  int closed_on_loop;
  pthread_t loop_thread;
  ev_timer timer;
} closing;

static void *fn_c_wait(void *arg) {
  closing *c = arg;

  c->r_wait = exco_libev_wait_fd(c->pfd[0], EV_READ);
  c->finished++;
  return NULL;
}

static void *fn_c_sleep(void *arg) {
  closing *c = arg;

  c->r_sleep = exco_sleep(60 * 1000);
  c->finished++;
  return NULL;
}

static void *fn_c_await(void *arg) {
  closing *c = arg;

  c->r_await = exco_promise_await(c->p, NULL);
  c->finished++;
  return NULL;
}

static void *fn_c_yield(void *arg) {
  closing *c = arg;
  int err;

  while ((err = exco_yield()) == 0)
    ;
  c->r_yield = err;
  c->finished++;
  return NULL;
}

static void *fn_never_runs(void *arg) {
  (void)arg;
  return NULL;
}

static void on_closed(void *arg) {
  closing *c = arg;

  c->closed_calls++;
  c->closed_on_loop = pthread_equal(pthread_self(), c->loop_thread);
}

static void close_cb(struct ev_loop *loop, ev_timer *tm, int revents) {
  closing *c = tm->data;

  (void)loop;
  (void)revents;
  c->close_err = exco_executor_close(c->t->ex, on_closed, c);
  c->spawn_after = exco_spawn(c->t->ex, fn_never_runs, NULL, NULL, NULL);
}

START_TEST(close_from_callback) {
  tloop t;
  closing c;

  tloop_init(&t);
  memset(&c, 0, sizeof(c));
  c.t = &t;
  c.loop_thread = pthread_self();
  c.r_wait = c.r_sleep = c.r_await = c.r_yield = 1;
  ck_assert_int_eq(pipe(c.pfd), 0);
  ck_assert_int_eq(exco_promise_new(&c.p), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_wait, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_sleep, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_await, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_yield, &c, NULL, NULL), 0);
  ev_timer_init(&c.timer, close_cb, 0.02, 0.0);
  c.timer.data = &c;
  ev_timer_start(t.loop, &c.timer);
  /* Live tasks: the synchronous free refuses. */
  ck_assert_int_eq(exco_executor_free(t.ex), EXCO_EBUSY);
  tloop_run(&t);
  ck_assert_int_eq(c.close_err, 0);
  ck_assert_int_eq(c.spawn_after, EXCO_ESHUTDOWN);
  ck_assert_int_eq(c.finished, 4);
  ck_assert_int_eq(c.r_wait, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_sleep, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_await, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_yield, EXCO_ECANCELED);
  ck_assert_int_eq(c.closed_calls, 1);
  ck_assert(c.closed_on_loop);
  exco_promise_unref(c.p);
  close(c.pfd[0]);
  close(c.pfd[1]);
  tloop_fini(&t, 1);
}
END_TEST

/* ---------------------------------------------------------------------- */

int main(void) {
  Suite *s = suite_create("libev");
  TCase *tc = h_tcase("libev", 60);

  tcase_add_test(tc, wait_fd_ready);
  tcase_add_test(tc, wait_fd_pipe_other_thread);
  tcase_add_test(tc, signal_through_a_self_pipe);
  tcase_add_test(tc, wait_fd_errors);
  tcase_add_test(tc, wait_fd_deadline);
  tcase_add_test(tc, wait_fd_cancel);
  tcase_add_test(tc, loop_exits_by_itself);
  tcase_add_test(tc, cross_thread_wakes);
  tcase_add_test(tc, budget);
  tcase_add_test(tc, close_from_callback);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
