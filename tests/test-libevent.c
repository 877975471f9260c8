/*
 * test-libevent.c -- the libevent driver (<exco/libevent.h>) and its
 * awaitable:
 *
 *   - exco_libevent_wait_fd() on a socketpair and a pipe: readable,
 *     writable, both; the events it returns; a wait that ends by the
 *     peer's write, from the loop thread and from another thread;
 *   - its errors: EXCO_EPERM outside a coroutine, EXCO_ENOTSUP on an
 *     executor without a base, EXCO_EINVAL for a negative or closed
 *     descriptor, for bad events and for a descriptor epoll refuses (a
 *     regular file);
 *   - a deadline (EXCO_ETIMEDOUT, and the task goes on once the deadline
 *     is moved) and a cancellation (EXCO_ECANCELED, from a libevent
 *     callback and from another thread, and for a task cancelled already);
 *     after each, the base's count of added and active events is what it
 *     was before the wait;
 *   - event_base_dispatch() returns by itself (1: no events left) once
 *     every task has finished, also after a cancelled long sleep (the
 *     driver's timer must not hold the base), stays in while a task waits
 *     on another thread (blocked, not spinning), returns at once with
 *     nothing to do, and runs a task spawned from another thread while it
 *     was not running;
 *   - wakes and spawns from other threads, exactly counted;
 *   - the budget: polls per loop iteration;
 *   - exco_executor_close() from a libevent callback with tasks pending in
 *     a wait_fd, a sleep, a promise and a yield loop.
 *
 * Every test counts the process's descriptors before it makes its base
 * and after it freed it, and checks that no event of the driver's is left
 * added or active once the executor is gone: nothing leaks (valgrind and
 * ASan see the memory).  A guard thread breaks a loop that doesn't return
 * by itself in time, which fails the test instead of hanging it.
 * Coroutines and threads record what they see; the asserts come after the
 * loop returns.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/thread.h>

#include "exco/driver.h"
#include "exco/libevent.h"
#include "harness.h"
#include "libevent-guard.h"

/* ---------------------------------------------------------------------- */
/* A base with a guard                                                     */
/* ---------------------------------------------------------------------- */

#define ALL_EVENTS                                                             \
  (EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL)

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
  struct event_base *base;
  exco_executor *ex;
  int fds; /* fd_count() before the base */
} tloop;

static void tloop_init(tloop *t) {
  memset(t, 0, sizeof(*t));
  t->fds = fd_count();
  t->base = event_base_new();
  ck_assert_ptr_nonnull(t->base);
  ck_assert_int_eq(exco_libevent_executor_new(&t->ex, t->base), 0);
}

/* The thread CPU time of the caller, in seconds. */
static double cpu_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* event_base_dispatch(), which must return by itself (1: nothing added or
 * active) within h_wait_timeout() seconds.  Returns the seconds it took;
 * *cpu, if given, gets the loop thread's CPU seconds meanwhile. */
static double tloop_run_cpu(tloop *t, double *cpu) {
  lg_guard g;
  double t0 = h_now(), c0 = cpu_now();
  int ret;

  ck_assert_int_eq(lg_start(&g, t->base, h_wait_timeout()), 0);
  ret = event_base_dispatch(t->base);
  ck_assert_msg(!lg_stop(&g), "event_base_dispatch did not return by itself");
  ck_assert_int_eq(ret, 1);
  ck_assert_int_eq(event_base_get_num_events(t->base, ALL_EVENTS), 0);
  if (cpu != NULL)
    *cpu = cpu_now() - c0;
  return h_now() - t0;
}

static double tloop_run(tloop *t) {
  return tloop_run_cpu(t, NULL);
}

/* Frees the executor (unless @closed), frees the base and checks that no
 * event and no descriptor is left. */
static void tloop_fini(tloop *t, int closed) {
  if (!closed)
    ck_assert_int_eq(exco_executor_free(t->ex), 0);
  ck_assert_int_eq(event_base_get_num_events(t->base, ALL_EVENTS), 0);
  ck_assert_int_eq(event_base_loop(t->base, EVLOOP_NONBLOCK), 1);
  event_base_free(t->base);
  ck_assert_int_eq(fd_count(), t->fds);
}

static void make_socketpair(int sv[2]) {
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
  ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

/* Added and active events of the running coroutine's base. */
static int base_events(void) {
  return event_base_get_num_events(exco_libevent_base(), ALL_EVENTS);
}

/* ---------------------------------------------------------------------- */
/* Waiting for descriptors                                                 */
/* ---------------------------------------------------------------------- */

typedef struct fdwait {
  int fd;
  int events;
  int result; /* exco_libevent_wait_fd()'s */
  char got;   /* a byte read after a successful read wait */
  int done;
} fdwait;

static void *fn_wait(void *arg) {
  fdwait *w = arg;

  w->result = exco_libevent_wait_fd(w->fd, w->events);
  if (w->result > 0 && (w->result & EV_READ))
    (void)!read(w->fd, &w->got, 1);
  w->done = 1;
  return NULL;
}

/* Writes one byte after waiting for writability itself. */
static void *fn_write_x(void *arg) {
  fdwait *w = arg;

  w->result = exco_libevent_wait_fd(w->fd, EV_WRITE);
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

/* A pipe written by another thread once the task waits. */
typedef struct piped {
  fdwait w;
  int wfd;
  atomic_int waiting;
  int wait_failed;
  int before, after; /* base_events() around the wait */
} piped;

static void *fn_wait_flagged(void *arg) {
  piped *p = arg;

  p->before = base_events();
  atomic_store(&p->waiting, 1);
  fn_wait(&p->w);
  p->after = base_events();
  return NULL;
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
  /* The driver's keep-alive event, and nothing of the wait's after it. */
  ck_assert_int_eq(p.before, 1);
  ck_assert_int_eq(p.after, p.before);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct errs {
  int neg_fd, no_events, bad_events, signal_events, closed_fd, file_fd;
  int notsup;
  int before, after;          /* base_events() around the failing waits */
  int file;                   /* a regular file's descriptor */
  struct event_base *base_in; /* exco_libevent_base() in a coroutine */
  int done;
} errs;

static void *fn_errors(void *arg) {
  errs *e = arg;
  int fd = dup(2); /* a descriptor number, closed again below */

  e->base_in = exco_libevent_base();
  e->before = base_events();
  e->neg_fd = exco_libevent_wait_fd(-1, EV_READ);
  e->no_events = exco_libevent_wait_fd(0, 0);
  e->bad_events = exco_libevent_wait_fd(0, EV_READ | EV_TIMEOUT);
  e->signal_events = exco_libevent_wait_fd(0, EV_SIGNAL);
  if (fd >= 0) {
    close(fd);
    e->closed_fd = exco_libevent_wait_fd(fd, EV_READ);
  }
  /* Open, but epoll refuses regular files: event_add() fails. */
  e->file_fd = exco_libevent_wait_fd(e->file, EV_READ);
  e->after = base_events();
  e->done = 1;
  return NULL;
}

static void *fn_notsup(void *arg) {
  errs *e = arg;

  e->notsup = exco_libevent_wait_fd(0, EV_READ);
  e->base_in = exco_libevent_base();
  e->done = 1;
  return NULL;
}

static int log_warnings;

/* libevent's log, counted instead of printed (the regular file's failed
 * epoll_ctl is reported there). */
static void count_log(int severity, const char *msg) {
  (void)msg;
  if (severity >= EVENT_LOG_WARN)
    log_warnings++;
}

START_TEST(wait_fd_errors) {
  tloop t;
  errs e;
  exco_executor *local;
  FILE *f;

  ck_assert_int_eq(exco_libevent_wait_fd(0, EV_READ), EXCO_EPERM);
  ck_assert_ptr_null(exco_libevent_base());
  ck_assert_int_eq(exco_libevent_executor_new(NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_libevent_executor_new(&local, NULL), EXCO_EINVAL);

  tloop_init(&t);
  f = tmpfile();
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_eq(exco_libevent_executor_base(t.ex), t.base);
  ck_assert_str_eq(exco_driver_name(t.ex), "libevent");
  memset(&e, 0, sizeof(e));
  e.file = fileno(f);
  log_warnings = 0;
  event_set_log_callback(count_log);
  ck_assert_int_eq(exco_spawn(t.ex, fn_errors, &e, NULL, NULL), 0);
  tloop_run(&t);
  event_set_log_callback(NULL);
  ck_assert(e.done);
  ck_assert_ptr_eq(e.base_in, t.base);
  ck_assert_int_eq(e.neg_fd, EXCO_EINVAL);
  ck_assert_int_eq(e.no_events, EXCO_EINVAL);
  ck_assert_int_eq(e.bad_events, EXCO_EINVAL);
  ck_assert_int_eq(e.signal_events, EXCO_EINVAL);
  ck_assert_int_eq(e.closed_fd, EXCO_EINVAL);
  ck_assert_int_eq(e.file_fd, EXCO_EINVAL);
  ck_assert_int_ge(log_warnings, 1);
  /* Nothing of the failed waits stays with the base. */
  ck_assert_int_eq(e.before, 1);
  ck_assert_int_eq(e.after, e.before);
  fclose(f);
  tloop_fini(&t, 0);

  /* An executor of another kind has no base. */
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_ptr_null(exco_libevent_executor_base(local));
  ck_assert_int_eq(exco_libevent_executor_set_budget(local, 1), EXCO_EINVAL);
  ck_assert_ptr_null(exco_libevent_executor_base(NULL));
  memset(&e, 0, sizeof(e));
  e.base_in = (struct event_base *)&e;
  ck_assert_int_eq(exco_spawn(local, fn_notsup, &e, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(local), 0);
  ck_assert(e.done);
  ck_assert_int_eq(e.notsup, EXCO_ENOTSUP);
  ck_assert_ptr_null(e.base_in);
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
  int before, after_first, after_second; /* base_events() */
  int done;
} dl;

static void *fn_deadline(void *arg) {
  dl *d = arg;
  int64_t prev, t0 = exco_now();

  d->before = base_events();
  exco_deadline_after(30, &prev);
  d->first = exco_libevent_wait_fd(d->fd, EV_READ);
  d->waited = exco_now() - t0;
  exco_deadline_set(prev, NULL);
  d->after_first = base_events();
  /* The task goes on: with data there and no deadline, the next wait
   * succeeds. */
  (void)!write(d->wfd, "d", 1);
  d->second = exco_libevent_wait_fd(d->fd, EV_READ);
  if (d->second == EV_READ)
    (void)!read(d->fd, &d->got, 1);
  d->after_second = base_events();
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
  /* The keep-alive event only: the wait's event is gone, and so is the
   * timer event that fired the deadline. */
  ck_assert_int_eq(d.before, 1);
  ck_assert_int_eq(d.after_first, 1);
  ck_assert_int_eq(d.after_second, 1);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

typedef struct cancel_state {
  fdwait w[3];
  exco_task *task[4];
  struct event *timer;
  int cancel_err[2];
  int r_sleep, sleep_done;
} cancel_state;

static void *fn_long_sleep(void *arg) {
  cancel_state *cs = arg;

  cs->r_sleep = exco_sleep(120 * 1000);
  cs->sleep_done = 1;
  return NULL;
}

/* A libevent callback of the host's cancels task 0 and the sleeper. */
static void cancel_cb(evutil_socket_t fd, short what, void *arg) {
  cancel_state *cs = arg;

  (void)fd;
  (void)what;
  cs->cancel_err[0] = exco_task_cancel(cs->task[0]);
  cs->cancel_err[1] = exco_task_cancel(cs->task[3]);
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
  struct timeval tv = {0, 20 * 1000};

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(&cs, 0, sizeof(cs));
  for (i = 0; i < 3; i++) {
    cs.w[i].fd = pfd[0];
    cs.w[i].events = EV_READ;
  }
  /* 0: cancelled from a libevent callback; 1: from another thread, before
   * or while it waits; 2: cancelled before its first poll; 3: a sleep of
   * two minutes, cancelled from the callback: its timer event must not
   * keep the loop in (the guard gives up well before). */
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &cs.w[0], NULL, &cs.task[0]), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &cs.w[1], NULL, &cs.task[1]), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &cs.w[2], NULL, &cs.task[2]), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_long_sleep, &cs, NULL, &cs.task[3]), 0);
  ck_assert_int_eq(exco_task_cancel(cs.task[2]), 0);
  cs.timer = evtimer_new(t.base, cancel_cb, &cs);
  ck_assert_ptr_nonnull(cs.timer);
  ck_assert_int_eq(evtimer_add(cs.timer, &tv), 0);
  h_thread_start(&th, thread_cancel, cs.task[1]);
  /* The thread may cancel before or while the task waits: either way
   * the wait returns EXCO_ECANCELED. */
  tloop_run(&t);
  thread_err = h_thread_join(th);
  ck_assert_int_eq((int)(intptr_t)thread_err, 0);
  ck_assert_int_eq(cs.cancel_err[0], 0);
  ck_assert_int_eq(cs.cancel_err[1], 0);
  for (i = 0; i < 3; i++) {
    ck_assert_msg(cs.w[i].done, "task %d did not finish", i);
    ck_assert_int_eq(cs.w[i].result, EXCO_ECANCELED);
  }
  ck_assert(cs.sleep_done);
  ck_assert_int_eq(cs.r_sleep, EXCO_ECANCELED);
  for (i = 0; i < 4; i++)
    exco_task_release(cs.task[i]);
  /* The events were deleted: data on the pipe now wakes nothing and the
   * base stays empty. */
  (void)!write(pfd[1], "c", 1);
  ck_assert_int_eq(event_base_loop(t.base, EVLOOP_NONBLOCK), 1);
  event_free(cs.timer);
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
  int ms; /* how long fn_sleep sleeps */
} exit_state;

static void *fn_sleep(void *arg) {
  exit_state *es = arg;
  int64_t t0 = exco_now();

  es->r_sleep = exco_sleep(es->ms);
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
  double took, cpu;

  tloop_init(&t);
  memset(&es, 0, sizeof(es));
  atomic_init(&es.waiting, 0);
  es.r_sleep = es.r_await = 1;
  es.ms = 20;
  ck_assert_int_eq(exco_promise_new(&es.p), 0);
  /* Nothing to do: it returns at once. */
  took = tloop_run(&t);
  ck_assert_msg(took < 5.0, "an empty run took %.1f s", took);
  /* A sleep and a wait on another thread keep it in, blocked. */
  ck_assert_int_eq(exco_spawn(t.ex, fn_sleep, &es, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_await, &es, NULL, NULL), 0);
  h_thread_start(&th, thread_resolve_later, &es);
  took = tloop_run_cpu(&t, &cpu);
  h_thread_join(th);
  ck_assert_int_eq(es.wait_failed, 0);
  ck_assert_int_eq(es.r_sleep, 0);
  ck_assert_msg(es.slept >= 20, "slept %lld ms", (long long)es.slept);
  ck_assert_int_eq(es.r_await, 0);
  ck_assert_int_eq(exco_driver_live(t.ex), 0);
  ck_assert_msg(took >= 0.05, "the run took %.3f s", took);
  ck_assert_msg(cpu < took / 2, "%.3f s of CPU over a %.3f s run: spinning",
                cpu, took);
  /* And again at once. */
  took = tloop_run(&t);
  ck_assert_msg(took < 5.0, "an empty run took %.1f s", took);
  exco_promise_unref(es.p);
  tloop_fini(&t, 0);
}
END_TEST

static void *fn_flag(void *arg) {
  atomic_int *ran = arg;

  if (exco_yield() == 0)
    atomic_fetch_add(ran, 1);
  return NULL;
}

typedef struct spawn_far {
  exco_executor *ex;
  atomic_int ran;
  int err;
} spawn_far;

static void *thread_spawn(void *arg) {
  spawn_far *s = arg;

  s->err = exco_spawn(s->ex, fn_flag, &s->ran, NULL, NULL);
  return NULL;
}

/* Spawned from another thread while no loop runs: the wake-up event is
 * active, so the next dispatch takes the task in and runs it. */
START_TEST(spawn_while_not_running) {
  tloop t;
  spawn_far s;
  pthread_t th;

  tloop_init(&t);
  s.ex = t.ex;
  s.err = 1;
  atomic_init(&s.ran, 0);
  h_thread_start(&th, thread_spawn, &s);
  h_thread_join(th);
  ck_assert_int_eq(s.err, 0);
  ck_assert_int_eq(atomic_load(&s.ran), 0);
  ck_assert_int_ge(event_base_get_num_events(t.base, EVENT_BASE_COUNT_ACTIVE),
                   1);
  tloop_run(&t);
  ck_assert_int_eq(atomic_load(&s.ran), 1);
  ck_assert_int_eq(exco_driver_live(t.ex), 0);
  tloop_fini(&t, 0);
}
END_TEST

/* A parked timer: the first sleep is cancelled before it is due, so the
 * driver deletes its timer event when the executor goes idle; the core
 * still counts that due time as armed, so a later, longer sleep finds no
 * call to arm, and only the driver's re-adding of the parked timer when
 * tasks come back gets it fired. */
static void cancel_now(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  exco_task_cancel(arg);
}

START_TEST(timer_after_idle) {
  tloop t;
  exit_state es;
  exco_task *task;
  struct event *ev;
  struct timeval tv = {0, 5 * 1000};

  tloop_init(&t);
  memset(&es, 0, sizeof(es));
  atomic_init(&es.waiting, 0);
  es.ms = 60;
  ck_assert_int_eq(exco_spawn(t.ex, fn_sleep, &es, NULL, &task), 0);
  ev = evtimer_new(t.base, cancel_now, task);
  ck_assert_ptr_nonnull(ev);
  ck_assert_int_eq(evtimer_add(ev, &tv), 0);
  tloop_run(&t);
  ck_assert_int_eq(es.r_sleep, EXCO_ECANCELED);
  exco_task_release(task);
  event_free(ev);
  es.ms = 100;
  es.r_sleep = 1;
  ck_assert_int_eq(exco_spawn(t.ex, fn_sleep, &es, NULL, NULL), 0);
  tloop_run(&t);
  ck_assert_int_eq(es.r_sleep, 0);
  ck_assert_msg(es.slept >= 100, "slept %lld ms", (long long)es.slept);
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

typedef struct budget_state {
  int n[BUDGET_TASKS]; /* yields made, per task */
  int finished;
  unsigned iters;      /* loop iterations, as the probe saw them */
  struct event *probe; /* on an always-readable pipe */
} budget_state;

typedef struct yielder {
  budget_state *b;
  int i;
} yielder;

static void *fn_yields(void *arg) {
  yielder *y = arg;
  int i;

  for (i = 0; i < BUDGET_YIELDS; i++)
    if (exco_yield() == 0)
      y->b->n[y->i]++;
  y->b->finished++;
  return NULL;
}

/* A persistent read event on a pipe that always has a byte: it runs once
 * per loop iteration, which it counts, until every yielder is done. */
static void probe_cb(evutil_socket_t fd, short what, void *arg) {
  budget_state *b = arg;

  (void)fd;
  (void)what;
  b->iters++;
  if (b->finished == BUDGET_TASKS)
    event_del(b->probe);
}

static unsigned run_yielders(unsigned budget, int *total) {
  tloop t;
  budget_state b;
  yielder y[BUDGET_TASKS];
  int pfd[2], i;

  tloop_init(&t);
  memset(&b, 0, sizeof(b));
  ck_assert_int_eq(pipe(pfd), 0);
  ck_assert_int_eq(write(pfd[1], "b", 1), 1);
  b.probe = event_new(t.base, pfd[0], EV_READ | EV_PERSIST, probe_cb, &b);
  ck_assert_ptr_nonnull(b.probe);
  ck_assert_int_eq(exco_libevent_executor_set_budget(t.ex, budget), 0);
  for (i = 0; i < BUDGET_TASKS; i++) {
    y[i].b = &b;
    y[i].i = i;
    ck_assert_int_eq(exco_spawn(t.ex, fn_yields, &y[i], NULL, NULL), 0);
  }
  ck_assert_int_eq(event_add(b.probe, NULL), 0);
  tloop_run(&t);
  *total = 0;
  for (i = 0; i < BUDGET_TASKS; i++)
    *total += b.n[i];
  event_free(b.probe);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
  return b.iters;
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
  /* The default (0 restores it): up to 128 polls per iteration, a task
   * that yields being polled again in the same callback. */
  iters = run_yielders(0, &total);
  ck_assert_int_eq(total, BUDGET_TASKS * BUDGET_YIELDS);
  ck_assert_msg(iters <= BUDGET_TASKS * (BUDGET_YIELDS + 1) /
                                 EXCO_LIBEVENT_BUDGET_DEFAULT +
                             3,
                "default budget: %u iterations for %d polls", iters,
                BUDGET_TASKS * (BUDGET_YIELDS + 1));
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Closing from a libevent callback                                        */
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
  struct event *timer;
} closing;

static void *fn_c_wait(void *arg) {
  closing *c = arg;

  c->r_wait = exco_libevent_wait_fd(c->pfd[0], EV_READ);
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

static void close_cb(evutil_socket_t fd, short what, void *arg) {
  closing *c = arg;

  (void)fd;
  (void)what;
  c->close_err = exco_executor_close(c->t->ex, on_closed, c);
  c->spawn_after = exco_spawn(c->t->ex, fn_never_runs, NULL, NULL, NULL);
}

START_TEST(close_from_callback) {
  tloop t;
  closing c;
  struct timeval tv = {0, 20 * 1000};

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
  c.timer = evtimer_new(t.base, close_cb, &c);
  ck_assert_ptr_nonnull(c.timer);
  ck_assert_int_eq(evtimer_add(c.timer, &tv), 0);
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
  event_free(c.timer);
  close(c.pfd[0]);
  close(c.pfd[1]);
  tloop_fini(&t, 1);
}
END_TEST

/* ---------------------------------------------------------------------- */

int main(void) {
  Suite *s = suite_create("libevent");
  TCase *tc = h_tcase("libevent", 60);

  /* Wakes from other threads need bases with a lock (see THREADS in
   * <exco/libevent.h>). */
  if (evthread_use_pthreads() != 0) {
    fprintf(stderr, "evthread_use_pthreads failed\n");
    return 1;
  }
  tcase_add_test(tc, wait_fd_ready);
  tcase_add_test(tc, wait_fd_pipe_other_thread);
  tcase_add_test(tc, wait_fd_errors);
  tcase_add_test(tc, wait_fd_deadline);
  tcase_add_test(tc, wait_fd_cancel);
  tcase_add_test(tc, loop_exits_by_itself);
  tcase_add_test(tc, spawn_while_not_running);
  tcase_add_test(tc, timer_after_idle);
  tcase_add_test(tc, cross_thread_wakes);
  tcase_add_test(tc, budget);
  tcase_add_test(tc, close_from_callback);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
