/*
 * test-glib.c -- the GLib driver (<exco/glib.h>) and its awaitables:
 *
 *   - exco_glib_wait_fd() on a socketpair and a pipe: readable, writable,
 *     both; a wait that ends by another thread's write; a hung-up pipe
 *     (G_IO_HUP) and a descriptor closed while waited on (EXCO_EINVAL);
 *     its argument errors; a deadline and a cancellation (from a GLib
 *     callback, from another thread, before the first poll);
 *   - exco_glib_async: a file read top to bottom with g_file_read_async()
 *     and g_input_stream_read_async() (GIO's thread pool calls back on the
 *     executor's context), a GIO error, a deadline and a cancellation
 *     (from a GLib callback, from another thread, before the first poll,
 *     and through the async's own GCancellable) of a read on an empty pipe,
 *     with the async freed before its callback came;
 *   - the end of the loop: exco_glib_run_until_idle() returns at once with
 *     nothing to do and blocks (not spinning) while a task waits;
 *     exco_glib_executor_on_idle() quits a GMainLoop, and frees the
 *     executor, only once no stack is held by a cancelled GIO call;
 *   - wakes and spawns from other threads, exactly counted;
 *   - the budget: polls per dispatch;
 *   - exco_executor_close() from a GLib callback with tasks pending in a
 *     wait_fd, a GIO call, a sleep, a promise and a yield loop.
 *
 * Every test counts the process's descriptors before it makes its context
 * and after it unreferenced it, and the GSources attached to the context
 * after the executor is freed: nothing leaks (valgrind and ASan see the
 * memory).  A run that does not return by itself is ended by a guard
 * timeout source (which cancels every task) and fails.  Coroutines and
 * threads record what they see; the asserts come after the run returns.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <gio/gunixinputstream.h>

#include "exco/driver.h"
#include "exco/glib.h"
#include "harness.h"

/* ---------------------------------------------------------------------- */
/* A context with a guard                                                  */
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

/*
 * fd_count(), once it equals @want or h_wait_timeout() seconds have
 * passed.  GIO's worker threads may keep a descriptor of a finished call
 * for a moment after its callback has run on the loop (seen: one eventfd
 * after g_file_read_async() and friends, gone within milliseconds, as the
 * thread drops its last reference to the call); a real leak stays.
 */
static int fd_count_settled(int want) {
  struct timespec ms = {0, 1000 * 1000};
  double t0 = h_now();
  int n;

  while ((n = fd_count()) != want && h_now() - t0 < h_wait_timeout())
    nanosleep(&ms, NULL);
  return n;
}

/* GSources attached to @ctx and not destroyed: ids are handed out in
 * order per context, so a probe's id bounds them. */
static unsigned source_count(GMainContext *ctx) {
  GSource *probe = g_idle_source_new();
  guint id = g_source_attach(probe, ctx), i;
  unsigned n = 0;

  g_source_destroy(probe);
  g_source_unref(probe);
  for (i = 1; i < id; i++)
    n += g_main_context_find_source_by_id(ctx, i) != NULL;
  return n;
}

/* A source that only counts the context's iterations (its prepare is
 * called once per iteration) and is never ready. */
typedef struct counter_source {
  GSource source;
  unsigned prepares;
} counter_source;

static gboolean counter_prepare(GSource *s, gint *timeout) {
  ((counter_source *)s)->prepares++;
  *timeout = -1;
  return FALSE;
}

static gboolean counter_check(GSource *s) {
  (void)s;
  return FALSE;
}

static gboolean counter_dispatch(GSource *s, GSourceFunc cb, gpointer data) {
  (void)s;
  (void)cb;
  (void)data;
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs counter_funcs = {
    counter_prepare, counter_check, counter_dispatch, NULL, NULL, NULL};

typedef struct tloop {
  GMainContext *ctx;
  exco_executor *ex;
  counter_source *counter;
  int fired;
  int fds; /* fd_count() before the context */
} tloop;

static void warm_up_thread(GTask *task, gpointer source, gpointer data,
                           GCancellable *cancellable) {
  (void)source;
  (void)data;
  (void)cancellable;
  g_task_return_boolean(task, TRUE);
}

/* GLib makes some process-wide objects with a descriptor of their own on
 * first use: the global default context (the driver compares contexts
 * with it when it makes its own the thread default), and the "GLib
 * worker" context that manages GIO's thread pool (an eventfd); GIO also
 * loads its modules.  Do all that before counting descriptors (in the
 * test's own process: threads don't survive Check's fork). */
static void glib_warm_up(void) {
  GTask *task = g_task_new(NULL, NULL, NULL, NULL);

  g_task_run_in_thread_sync(task, warm_up_thread);
  g_object_unref(task);
  GFile *f = g_file_new_for_path("/");
  GFileInfo *info = g_file_query_info(f, G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                      G_FILE_QUERY_INFO_NONE, NULL, NULL);

  if (info != NULL)
    g_object_unref(info);
  g_object_unref(f);
  (void)g_main_context_default();
}

static void tloop_init(tloop *t) {
  memset(t, 0, sizeof(*t));
  glib_warm_up();
  t->fds = fd_count();
  t->ctx = g_main_context_new();
  ck_assert_ptr_nonnull(t->ctx);
  t->counter =
      (counter_source *)g_source_new(&counter_funcs, sizeof(counter_source));
  g_source_attach(&t->counter->source, t->ctx);
  ck_assert_int_eq(exco_glib_executor_new(&t->ex, t->ctx), 0);
}

static gboolean guard_fired(gpointer data) {
  tloop *t = data;

  t->fired = 1;
  exco_executor_cancel_all(t->ex);
  return G_SOURCE_REMOVE;
}

/* exco_glib_run_until_idle(), which must return by itself within
 * h_wait_timeout() seconds.  Returns its result. */
static int tloop_run(tloop *t) {
  GSource *guard = g_timeout_source_new((guint)(h_wait_timeout() * 1000));
  int ret;

  t->fired = 0;
  g_source_set_callback(guard, guard_fired, t, NULL);
  g_source_attach(guard, t->ctx);
  ret = exco_glib_run_until_idle(t->ex);
  g_source_destroy(guard);
  g_source_unref(guard);
  ck_assert_msg(!t->fired, "exco_glib_run_until_idle did not return");
  ck_assert_int_ge(ret, 0);
  return ret;
}

/* Frees the executor (unless @closed), checks that no source is left,
 * unreferences the context and checks that no descriptor is left. */
static void tloop_fini(tloop *t, int closed) {
  if (!closed)
    ck_assert_int_eq(exco_executor_free(t->ex), 0);
  g_source_destroy(&t->counter->source);
  g_source_unref(&t->counter->source);
  /* A source of the driver's left attached would be dispatched here (on
   * freed memory, which valgrind and ASan see). */
  while (g_main_context_iteration(t->ctx, FALSE))
    ;
  ck_assert_uint_eq(source_count(t->ctx), 0);
  g_main_context_unref(t->ctx);
  ck_assert_int_eq(fd_count_settled(t->fds), t->fds);
}

static void make_socketpair(int sv[2]) {
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
  ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

static gboolean call_once(gpointer data);

/* Runs @fn(@arg) from a GLib timeout source of @t's context after @ms. */
typedef struct timed_call {
  void (*fn)(void *arg);
  void *arg;
} timed_call;

static void call_later(tloop *t, unsigned ms, timed_call *c) {
  GSource *s = g_timeout_source_new(ms);

  g_source_set_callback(s, call_once, c, NULL);
  g_source_attach(s, t->ctx);
  g_source_unref(s);
}

static gboolean call_once(gpointer data) {
  timed_call *c = data;

  c->fn(c->arg);
  return G_SOURCE_REMOVE;
}

static void *thread_cancel(void *arg) {
  return (void *)(intptr_t)exco_task_cancel(arg);
}

static void cancel_task(void *arg) {
  exco_task_cancel(arg);
}

/* ---------------------------------------------------------------------- */
/* Waiting for descriptors                                                 */
/* ---------------------------------------------------------------------- */

typedef struct fdwait {
  int fd;
  GIOCondition cond;
  int result; /* exco_glib_wait_fd()'s */
  char got;   /* a byte read after a successful read wait */
  int done;
} fdwait;

static void *fn_wait(void *arg) {
  fdwait *w = arg;

  w->result = exco_glib_wait_fd(w->fd, w->cond);
  if (w->result > 0 && (w->result & G_IO_IN))
    (void)!read(w->fd, &w->got, 1);
  w->done = 1;
  return NULL;
}

/* Writes one byte after waiting for writability itself. */
static void *fn_write_x(void *arg) {
  fdwait *w = arg;

  w->result = exco_glib_wait_fd(w->fd, G_IO_OUT);
  if (w->result == G_IO_OUT)
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
  rd.cond = G_IO_IN;
  writer.fd = sv[1];
  /* A socket with room is writable at once. */
  wr.fd = sv[1];
  wr.cond = G_IO_OUT;
  both.fd = sv[1];
  both.cond = G_IO_IN | G_IO_OUT;
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &rd, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &wr, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &both, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_write_x, &writer, NULL, NULL), 0);
  ck_assert_int_eq(tloop_run(&t), 0);
  ck_assert(rd.done && wr.done && both.done && writer.done);
  ck_assert_int_eq(writer.result, G_IO_OUT);
  ck_assert_int_eq(rd.result, G_IO_IN);
  ck_assert_int_eq(rd.got, 'x');
  ck_assert_int_eq(wr.result, G_IO_OUT);
  /* Only writable: the conditions that fired, within those asked for. */
  ck_assert_int_eq(both.result, G_IO_OUT);
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
  p.w.cond = G_IO_IN;
  p.wfd = pfd[1];
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait_flagged, &p, NULL, NULL), 0);
  h_thread_start(&th, thread_write_when_waiting, &p);
  tloop_run(&t);
  h_thread_join(th);
  ck_assert_int_eq(p.wait_failed, 0);
  ck_assert_int_eq(p.w.result, G_IO_IN);
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
  int neg_fd, no_cond, hup_only, nval, closed_fd;
  int run_inside;
  int notsup;
  GMainContext *ctx_in; /* exco_glib_context() in a coroutine */
  GMainContext *thread_default;
  int done;
} errs;

static void *fn_errors(void *arg) {
  errs *e = arg;
  int fd = dup(2); /* a descriptor number, closed again below */

  e->ctx_in = exco_glib_context();
  e->thread_default = g_main_context_get_thread_default();
  e->neg_fd = exco_glib_wait_fd(-1, G_IO_IN);
  e->no_cond = exco_glib_wait_fd(0, 0);
  e->hup_only = exco_glib_wait_fd(0, G_IO_HUP);
  e->nval = exco_glib_wait_fd(0, G_IO_IN | G_IO_NVAL);
  if (fd >= 0) {
    close(fd);
    e->closed_fd = exco_glib_wait_fd(fd, G_IO_IN);
  }
  e->run_inside = exco_glib_run_until_idle(exco_current_executor());
  e->done = 1;
  return NULL;
}

static void *fn_notsup(void *arg) {
  errs *e = arg;

  e->notsup = exco_glib_wait_fd(0, G_IO_IN);
  e->ctx_in = exco_glib_context();
  e->done = 1;
  return NULL;
}

static void *thread_run_until_idle(void *arg) {
  return (void *)(intptr_t)exco_glib_run_until_idle(arg);
}

START_TEST(errors) {
  tloop t;
  errs e;
  exco_executor *local;
  pthread_t th;

  ck_assert_int_eq(exco_glib_wait_fd(0, G_IO_IN), EXCO_EPERM);
  ck_assert_ptr_null(exco_glib_context());
  ck_assert_int_eq(exco_glib_executor_new(NULL, NULL), EXCO_EINVAL);

  tloop_init(&t);
  ck_assert_ptr_eq(exco_glib_executor_context(t.ex), t.ctx);
  ck_assert_str_eq(exco_driver_name(t.ex), "glib");
  memset(&e, 0, sizeof(e));
  ck_assert_int_eq(exco_spawn(t.ex, fn_errors, &e, NULL, NULL), 0);
  /* The loop thread only. */
  h_thread_start(&th, thread_run_until_idle, t.ex);
  ck_assert_int_eq((int)(intptr_t)h_thread_join(th), EXCO_EPERM);
  tloop_run(&t);
  ck_assert(e.done);
  ck_assert_ptr_eq(e.ctx_in, t.ctx);
  /* Coroutines run with the executor's context as the thread default. */
  ck_assert_ptr_eq(e.thread_default, t.ctx);
  ck_assert_ptr_null(g_main_context_get_thread_default());
  ck_assert_int_eq(e.neg_fd, EXCO_EINVAL);
  ck_assert_int_eq(e.no_cond, EXCO_EINVAL);
  ck_assert_int_eq(e.hup_only, EXCO_EINVAL);
  ck_assert_int_eq(e.nval, EXCO_EINVAL);
  ck_assert_int_eq(e.closed_fd, EXCO_EINVAL);
  ck_assert_int_eq(e.run_inside, EXCO_EBUSY);
  tloop_fini(&t, 0);

  /* An executor of another kind has no GLib context. */
  ck_assert_int_eq(exco_executor_new_local(&local), 0);
  ck_assert_ptr_null(exco_glib_executor_context(local));
  ck_assert_ptr_null(exco_glib_executor_context(NULL));
  ck_assert_int_eq(exco_glib_executor_set_budget(local, 1), EXCO_EINVAL);
  ck_assert_int_eq(exco_glib_executor_set_priority(local, 0), EXCO_EINVAL);
  ck_assert_int_eq(exco_glib_executor_on_idle(local, NULL, NULL), EXCO_EINVAL);
  ck_assert_int_eq(exco_glib_run_until_idle(local), EXCO_EINVAL);
  ck_assert_int_eq(exco_glib_run_until_idle(NULL), EXCO_EINVAL);
  memset(&e, 0, sizeof(e));
  e.ctx_in = t.ctx;
  ck_assert_int_eq(exco_spawn(local, fn_notsup, &e, NULL, NULL), 0);
  ck_assert_int_eq(exco_run(local), 0);
  ck_assert(e.done);
  ck_assert_int_eq(e.notsup, EXCO_ENOTSUP);
  ck_assert_ptr_null(e.ctx_in);
  ck_assert_int_eq(exco_executor_free(local), 0);

  /* The async's argument errors. */
  ck_assert_int_eq(exco_glib_async_new(NULL), EXCO_EINVAL);
  ck_assert_ptr_null(exco_glib_async_cancellable(NULL));
  ck_assert_int_eq(exco_glib_async_await(NULL, NULL), EXCO_EINVAL);
  exco_glib_async_free(NULL);
  {
    exco_glib_async *a;

    ck_assert_int_eq(exco_glib_async_new(&a), 0);
    ck_assert_ptr_nonnull(exco_glib_async_cancellable(a));
    ck_assert_int_eq(exco_glib_async_await(a, NULL), EXCO_EPERM);
    /* Never given to a call: freed at once. */
    exco_glib_async_free(a);
  }
}
END_TEST

/* A pipe whose writer is gone reports G_IO_HUP; a descriptor closed while
 * a task waits on it reports G_IO_NVAL, which the call turns into
 * EXCO_EINVAL. */
typedef struct hup {
  fdwait hup, nval;
  int nval_fd;
} hup;

static void close_fd(void *arg) {
  close(*(int *)arg);
}

START_TEST(wait_fd_hangup_and_closed) {
  tloop t;
  int p1[2], p2[2];
  hup h;
  timed_call c;

  tloop_init(&t);
  ck_assert_int_eq(pipe(p1), 0);
  ck_assert_int_eq(pipe(p2), 0);
  memset(&h, 0, sizeof(h));
  close(p1[1]);
  h.hup.fd = p1[0];
  h.hup.cond = G_IO_IN;
  h.nval.fd = p2[0];
  h.nval.cond = G_IO_IN;
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &h.hup, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &h.nval, NULL, NULL), 0);
  c.fn = close_fd;
  c.arg = &p2[0];
  call_later(&t, 20, &c);
  tloop_run(&t);
  ck_assert(h.hup.done && h.nval.done);
  ck_assert_msg(h.hup.result > 0 && (h.hup.result & G_IO_HUP),
                "hung-up pipe: %d", h.hup.result);
  ck_assert_int_eq(h.nval.result, EXCO_EINVAL);
  close(p1[0]);
  close(p2[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Deadline and cancellation of a wait                                     */
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
  d->first = exco_glib_wait_fd(d->fd, G_IO_IN);
  d->waited = exco_now() - t0;
  exco_deadline_set(prev, NULL);
  /* The task goes on: with data there and no deadline, the next wait
   * succeeds. */
  (void)!write(d->wfd, "d", 1);
  d->second = exco_glib_wait_fd(d->fd, G_IO_IN);
  if (d->second == G_IO_IN)
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
  ck_assert_int_eq(d.second, G_IO_IN);
  ck_assert_int_eq(d.got, 'd');
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

START_TEST(wait_fd_cancel) {
  tloop t;
  int pfd[2], i;
  fdwait w[3];
  exco_task *task[3];
  timed_call c;
  pthread_t th;

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(w, 0, sizeof(w));
  for (i = 0; i < 3; i++) {
    w[i].fd = pfd[0];
    w[i].cond = G_IO_IN;
  }
  /* 0: cancelled from a GLib callback; 1: from another thread, before or
   * while it waits; 2: cancelled before its first poll. */
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(exco_spawn(t.ex, fn_wait, &w[i], NULL, &task[i]), 0);
  ck_assert_int_eq(exco_task_cancel(task[2]), 0);
  c.fn = cancel_task;
  c.arg = task[0];
  call_later(&t, 20, &c);
  h_thread_start(&th, thread_cancel, task[1]);
  tloop_run(&t);
  ck_assert_int_eq((int)(intptr_t)h_thread_join(th), 0);
  for (i = 0; i < 3; i++) {
    ck_assert_msg(w[i].done, "task %d did not finish", i);
    ck_assert_int_eq(w[i].result, EXCO_ECANCELED);
    exco_task_release(task[i]);
  }
  /* The sources were destroyed: data on the pipe now wakes nothing, and
   * only the driver's source and the counter are attached. */
  (void)!write(pfd[1], "c", 1);
  ck_assert(!g_main_context_iteration(t.ctx, FALSE));
  ck_assert_uint_eq(source_count(t.ctx), 2);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* GIO calls                                                               */
/* ---------------------------------------------------------------------- */

enum { FILE_BYTES = 100000 };

typedef struct reading {
  const char *path;
  char *want; /* the file's content */
  int r_open, r_read, r_close, r_again;
  int same_again; /* a second await gave the same result */
  GError *open_error;
  gsize total;
  int matches;
  int done;
} reading;

/* Reads @path top to bottom: each GIO call, then its await. */
static void *fn_read_file(void *arg) {
  reading *rd = arg;
  GFile *file = g_file_new_for_path(rd->path);
  GFileInputStream *in;
  exco_glib_async *a;
  GAsyncResult *res, *res2;
  char buf[4096]; /* lent to the read: this frame lives until the end */
  gssize n;

  rd->matches = 1;
  rd->r_open = exco_glib_async_new(&a);
  if (rd->r_open != 0) {
    g_object_unref(file);
    return NULL;
  }
  g_file_read_async(file, G_PRIORITY_DEFAULT, exco_glib_async_cancellable(a),
                    exco_glib_async_cb, a);
  rd->r_open = exco_glib_async_await(a, &res);
  in = rd->r_open == 0 ? g_file_read_finish(file, res, &rd->open_error) : NULL;
  if (rd->r_open == 0) {
    rd->r_again = exco_glib_async_await(a, &res2);
    rd->same_again = res2 == res;
  }
  exco_glib_async_free(a);
  while (in != NULL) {
    exco_glib_async_new(&a);
    g_input_stream_read_async(
        G_INPUT_STREAM(in), buf, sizeof(buf), G_PRIORITY_DEFAULT,
        exco_glib_async_cancellable(a), exco_glib_async_cb, a);
    rd->r_read = exco_glib_async_await(a, &res);
    n = rd->r_read == 0
            ? g_input_stream_read_finish(G_INPUT_STREAM(in), res, NULL)
            : -1;
    exco_glib_async_free(a);
    if (n <= 0)
      break;
    if (rd->total + (gsize)n > FILE_BYTES ||
        memcmp(buf, rd->want + rd->total, (size_t)n) != 0)
      rd->matches = 0;
    rd->total += (gsize)n;
  }
  if (in != NULL) {
    exco_glib_async_new(&a);
    g_input_stream_close_async(G_INPUT_STREAM(in), G_PRIORITY_DEFAULT, NULL,
                               exco_glib_async_cb, a);
    rd->r_close = exco_glib_async_await(a, &res);
    if (rd->r_close == 0 &&
        !g_input_stream_close_finish(G_INPUT_STREAM(in), res, NULL))
      rd->r_close = -1;
    exco_glib_async_free(a);
    g_object_unref(in);
  }
  g_object_unref(file);
  rd->done = 1;
  return NULL;
}

START_TEST(async_read_file) {
  tloop t;
  reading rd, missing;
  char path[] = "/tmp/exco-test-glib-XXXXXX";
  int fd, i;

  tloop_init(&t);
  memset(&rd, 0, sizeof(rd));
  rd.want = malloc(FILE_BYTES);
  ck_assert_ptr_nonnull(rd.want);
  for (i = 0; i < FILE_BYTES; i++)
    rd.want[i] = (char)('a' + i % 23);
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, rd.want, FILE_BYTES), FILE_BYTES);
  close(fd);
  rd.path = path;
  /* A file that isn't there: the await succeeds, the finish fails. */
  memset(&missing, 0, sizeof(missing));
  missing.path = "/nonexistent/exco-test-glib";
  ck_assert_int_eq(exco_spawn(t.ex, fn_read_file, &rd, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_read_file, &missing, NULL, NULL), 0);
  tloop_run(&t);
  unlink(path);
  ck_assert(rd.done && missing.done);
  ck_assert_int_eq(rd.r_open, 0);
  ck_assert_ptr_null(rd.open_error);
  ck_assert_int_eq(rd.r_again, 0);
  ck_assert(rd.same_again);
  ck_assert_int_eq(rd.r_read, 0);
  ck_assert_int_eq(rd.r_close, 0);
  ck_assert_uint_eq(rd.total, FILE_BYTES);
  ck_assert(rd.matches);
  ck_assert_int_eq(missing.r_open, 0);
  ck_assert_ptr_nonnull(missing.open_error);
  ck_assert(
      g_error_matches(missing.open_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_error_free(missing.open_error);
  free(rd.want);
  tloop_fini(&t, 0);
}
END_TEST

/* A read on an empty pipe: pending until cancelled. */
typedef struct pending_read {
  int fd;
  int how;                   /* PR_* */
  int r;                     /* the first await's */
  int r_late;                /* a second await's (PR_DEADLINE_AGAIN) */
  int cancelled_err;         /* the finish's error was G_IO_ERROR_CANCELLED */
  int cancellable_cancelled; /* the async's GCancellable, seen */
  exco_glib_async *a;
  atomic_int waiting;
  int done;
} pending_read;

enum {
  PR_PLAIN,         /* no deadline */
  PR_DEADLINE,      /* 30 ms deadline, then free at once */
  PR_DEADLINE_AGAIN /* 30 ms deadline, then await the cancelled result */
};

static void *fn_pending_read(void *arg) {
  pending_read *p = arg;
  GInputStream *in = g_unix_input_stream_new(p->fd, FALSE);
  GAsyncResult *res;
  GError *error = NULL;
  char buf[16]; /* this frame lives until the end */
  int64_t prev;

  exco_glib_async_new(&p->a);
  if (p->how != PR_PLAIN)
    exco_deadline_after(30, &prev);
  g_input_stream_read_async(in, buf, sizeof(buf), G_PRIORITY_DEFAULT,
                            exco_glib_async_cancellable(p->a),
                            exco_glib_async_cb, p->a);
  atomic_store(&p->waiting, 1);
  p->r = exco_glib_async_await(p->a, &res);
  p->cancellable_cancelled =
      g_cancellable_is_cancelled(exco_glib_async_cancellable(p->a));
  if (p->how == PR_DEADLINE_AGAIN) {
    exco_deadline_set(prev, NULL);
    p->r_late = exco_glib_async_await(p->a, &res);
    if (p->r_late == 0 && g_input_stream_read_finish(in, res, &error) < 0 &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      p->cancelled_err = 1;
    g_clear_error(&error);
  } else if (p->r == 0 && g_input_stream_read_finish(in, res, &error) < 0 &&
             g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    /* Cancelled through its GCancellable by someone else. */
    p->cancelled_err = 1;
    g_clear_error(&error);
  }
  /* Freed before its callback came, unless the await succeeded. */
  exco_glib_async_free(p->a);
  g_object_unref(in);
  p->done = 1;
  return NULL;
}

START_TEST(async_deadline) {
  tloop t;
  int pfd[2];
  pending_read free_early, again;

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(&free_early, 0, sizeof(free_early));
  memset(&again, 0, sizeof(again));
  free_early.fd = again.fd = pfd[0];
  free_early.how = PR_DEADLINE;
  again.how = PR_DEADLINE_AGAIN;
  ck_assert_int_eq(exco_spawn(t.ex, fn_pending_read, &free_early, NULL, NULL),
                   0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_pending_read, &again, NULL, NULL), 0);
  /* Returns once the callbacks have come: the timed-out task's stack is
   * held until then. */
  ck_assert_int_eq(tloop_run(&t), 0);
  ck_assert_int_eq(exco_executor_live(t.ex), 0);
  ck_assert(free_early.done && again.done);
  ck_assert_int_eq(free_early.r, EXCO_ETIMEDOUT);
  ck_assert(free_early.cancellable_cancelled);
  ck_assert_int_eq(again.r, EXCO_ETIMEDOUT);
  ck_assert_int_eq(again.r_late, 0);
  ck_assert(again.cancelled_err);
  /* Nothing was read from the pipe: a byte now is still there. */
  ck_assert_int_eq(write(pfd[1], "z", 1), 1);
  {
    char z = 0;
    ck_assert_int_eq(read(pfd[0], &z, 1), 1);
    ck_assert_int_eq(z, 'z');
  }
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

static void cancel_cancellable(void *arg) {
  pending_read *p = arg;

  g_cancellable_cancel(exco_glib_async_cancellable(p->a));
}

START_TEST(async_cancel) {
  tloop t;
  int pfd[2], i;
  pending_read p[4];
  exco_task *task[4];
  timed_call c0, c3;
  pthread_t th;

  tloop_init(&t);
  ck_assert_int_eq(pipe(pfd), 0);
  memset(p, 0, sizeof(p));
  for (i = 0; i < 4; i++) {
    p[i].fd = pfd[0];
    p[i].how = PR_PLAIN;
    p[i].r = 1;
    atomic_init(&p[i].waiting, 0);
    ck_assert_int_eq(exco_spawn(t.ex, fn_pending_read, &p[i], NULL, &task[i]),
                     0);
  }
  /* 0: the task cancelled from a GLib callback; 1: from another thread,
   * before or while it waits; 2: before its first poll (its function
   * runs, makes the call and finds the await cancelled); 3: the call
   * cancelled through the async's GCancellable, from a GLib callback. */
  ck_assert_int_eq(exco_task_cancel(task[2]), 0);
  c0.fn = cancel_task;
  c0.arg = task[0];
  call_later(&t, 20, &c0);
  c3.fn = cancel_cancellable;
  c3.arg = &p[3];
  call_later(&t, 20, &c3);
  h_thread_start(&th, thread_cancel, task[1]);
  ck_assert_int_eq(tloop_run(&t), 0);
  ck_assert_int_eq((int)(intptr_t)h_thread_join(th), 0);
  ck_assert_int_eq(exco_executor_live(t.ex), 0);
  for (i = 0; i < 3; i++) {
    ck_assert_msg(p[i].done, "task %d did not finish", i);
    ck_assert_int_eq(p[i].r, EXCO_ECANCELED);
    ck_assert(p[i].cancellable_cancelled);
    exco_task_release(task[i]);
  }
  ck_assert(p[3].done);
  ck_assert_int_eq(p[3].r, 0);
  ck_assert(p[3].cancelled_err);
  exco_task_release(task[3]);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The end of the loop                                                     */
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

START_TEST(run_until_idle_blocks) {
  tloop t;
  exit_state es;
  pthread_t th;
  unsigned iters;
  double t0;

  tloop_init(&t);
  memset(&es, 0, sizeof(es));
  atomic_init(&es.waiting, 0);
  es.r_sleep = es.r_await = 1;
  ck_assert_int_eq(exco_promise_new(&es.p), 0);
  /* Nothing to do: it returns at once. */
  t0 = h_now();
  ck_assert_int_eq(tloop_run(&t), 0);
  ck_assert_msg(h_now() - t0 < 5.0, "an empty run took %.1f s", h_now() - t0);
  /* A sleep and a wait on another thread keep it in, blocked. */
  ck_assert_int_eq(exco_spawn(t.ex, fn_sleep, &es, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_await, &es, NULL, NULL), 0);
  h_thread_start(&th, thread_resolve_later, &es);
  iters = t.counter->prepares;
  tloop_run(&t);
  iters = t.counter->prepares - iters;
  h_thread_join(th);
  ck_assert_int_eq(es.wait_failed, 0);
  ck_assert_int_eq(es.r_sleep, 0);
  ck_assert_msg(es.slept >= 20, "slept %lld ms", (long long)es.slept);
  ck_assert_int_eq(es.r_await, 0);
  ck_assert_int_eq(exco_driver_live(t.ex), 0);
  ck_assert_msg(iters < 100,
                "%u context iterations over a 50 ms wait: spinning", iters);
  /* And again at once. */
  t0 = h_now();
  ck_assert_int_eq(tloop_run(&t), 0);
  ck_assert_msg(h_now() - t0 < 5.0, "an empty run took %.1f s", h_now() - t0);
  exco_promise_unref(es.p);
  tloop_fini(&t, 0);
}
END_TEST

/* The idle callback quits a GMainLoop; the second time it also frees the
 * executor, which must then succeed: the timed-out GIO call's stack hold
 * is gone by then. */
typedef struct idle_state {
  GMainLoop *loop;
  exco_executor *ex;
  int calls;
  int free_in_cb;
  int free_err;
  long live_at_cb;
} idle_state;

static void on_idle(void *arg) {
  idle_state *is = arg;

  is->calls++;
  is->live_at_cb = exco_executor_live(is->ex);
  if (is->free_in_cb)
    is->free_err = exco_executor_free(is->ex);
  g_main_loop_quit(is->loop);
}

START_TEST(idle_callback_quits_loop) {
  tloop t;
  idle_state is;
  exit_state es;
  pending_read pr;
  int pfd[2];
  pthread_t th;

  tloop_init(&t);
  memset(&is, 0, sizeof(is));
  memset(&es, 0, sizeof(es));
  atomic_init(&es.waiting, 0);
  is.loop = g_main_loop_new(t.ctx, FALSE);
  is.ex = t.ex;
  ck_assert_int_eq(exco_promise_new(&es.p), 0);
  ck_assert_int_eq(exco_glib_executor_on_idle(t.ex, on_idle, &is), 0);
  /* Never called for an executor that had no task: nothing runs. */
  ck_assert(!g_main_context_iteration(t.ctx, FALSE));
  ck_assert_int_eq(is.calls, 0);
  /* A sleep and a task woken by another thread. */
  ck_assert_int_eq(exco_spawn(t.ex, fn_sleep, &es, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_await, &es, NULL, NULL), 0);
  h_thread_start(&th, thread_resolve_later, &es);
  g_main_loop_run(is.loop);
  h_thread_join(th);
  ck_assert_int_eq(is.calls, 1);
  ck_assert_int_eq(is.live_at_cb, 0);
  ck_assert_int_eq(es.r_sleep, 0);
  ck_assert_int_eq(es.r_await, 0);
  /* A GIO call that times out: the task ends before its callback, and the
   * idle callback waits for it. */
  ck_assert_int_eq(pipe(pfd), 0);
  memset(&pr, 0, sizeof(pr));
  pr.fd = pfd[0];
  pr.how = PR_DEADLINE;
  is.free_in_cb = 1;
  is.free_err = 1;
  ck_assert_int_eq(exco_spawn(t.ex, fn_pending_read, &pr, NULL, NULL), 0);
  g_main_loop_run(is.loop);
  ck_assert_int_eq(is.calls, 2);
  ck_assert(pr.done);
  ck_assert_int_eq(pr.r, EXCO_ETIMEDOUT);
  ck_assert_int_eq(is.live_at_cb, 0);
  ck_assert_int_eq(is.free_err, 0);
  g_main_loop_unref(is.loop);
  exco_promise_unref(es.p);
  close(pfd[0]);
  close(pfd[1]);
  tloop_fini(&t, 1);
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
  ck_assert_int_eq(exco_glib_executor_set_budget(t.ex, budget), 0);
  for (i = 0; i < BUDGET_TASKS; i++)
    ck_assert_int_eq(exco_spawn(t.ex, fn_yields, &n[i], NULL, NULL), 0);
  iters = t.counter->prepares;
  tloop_run(&t);
  iters = t.counter->prepares - iters;
  *total = 0;
  for (i = 0; i < BUDGET_TASKS; i++)
    *total += n[i];
  tloop_fini(&t, 0);
  return iters;
}

START_TEST(budget) {
  int total;
  unsigned iters;

  /* One poll per dispatch: at least one iteration per poll. */
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
/* Closing from a GLib callback                                            */
/* ---------------------------------------------------------------------- */

typedef struct closing {
  tloop *t;
  exco_promise *p;
  int pfd[2];
  int r_wait, r_sleep, r_await, r_yield, r_gio;
  int finished;
  int close_err, spawn_after;
  int closed_calls;
  int closed_on_loop;
  pthread_t loop_thread;
} closing;

static void *fn_c_wait(void *arg) {
  closing *c = arg;

  c->r_wait = exco_glib_wait_fd(c->pfd[0], G_IO_IN);
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

static void *fn_c_gio(void *arg) {
  closing *c = arg;
  GInputStream *in = g_unix_input_stream_new(c->pfd[0], FALSE);
  exco_glib_async *a;
  char buf[16];

  exco_glib_async_new(&a);
  g_input_stream_read_async(in, buf, sizeof(buf), G_PRIORITY_DEFAULT,
                            exco_glib_async_cancellable(a), exco_glib_async_cb,
                            a);
  c->r_gio = exco_glib_async_await(a, NULL);
  exco_glib_async_free(a);
  g_object_unref(in);
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

static void close_now(void *arg) {
  closing *c = arg;

  c->close_err = exco_executor_close(c->t->ex, on_closed, c);
  c->spawn_after = exco_spawn(c->t->ex, fn_never_runs, NULL, NULL, NULL);
}

START_TEST(close_from_callback) {
  tloop t;
  closing c;
  timed_call tc;

  tloop_init(&t);
  memset(&c, 0, sizeof(c));
  c.t = &t;
  c.loop_thread = pthread_self();
  c.r_wait = c.r_sleep = c.r_await = c.r_yield = c.r_gio = 1;
  ck_assert_int_eq(pipe(c.pfd), 0);
  ck_assert_int_eq(exco_promise_new(&c.p), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_wait, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_sleep, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_await, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_yield, &c, NULL, NULL), 0);
  ck_assert_int_eq(exco_spawn(t.ex, fn_c_gio, &c, NULL, NULL), 0);
  tc.fn = close_now;
  tc.arg = &c;
  call_later(&t, 20, &tc);
  /* Live tasks: the synchronous free refuses. */
  ck_assert_int_eq(exco_executor_free(t.ex), EXCO_EBUSY);
  /* 1: the executor was closed and freed during the run. */
  ck_assert_int_eq(tloop_run(&t), 1);
  ck_assert_int_eq(c.close_err, 0);
  ck_assert_int_eq(c.spawn_after, EXCO_ESHUTDOWN);
  ck_assert_int_eq(c.finished, 5);
  ck_assert_int_eq(c.r_wait, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_sleep, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_await, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_yield, EXCO_ECANCELED);
  ck_assert_int_eq(c.r_gio, EXCO_ECANCELED);
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
  Suite *s = suite_create("glib");
  TCase *tc = h_tcase("glib", 60);

  tcase_add_test(tc, wait_fd_ready);
  tcase_add_test(tc, wait_fd_pipe_other_thread);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, wait_fd_hangup_and_closed);
  tcase_add_test(tc, wait_fd_deadline);
  tcase_add_test(tc, wait_fd_cancel);
  tcase_add_test(tc, async_read_file);
  tcase_add_test(tc, async_deadline);
  tcase_add_test(tc, async_cancel);
  tcase_add_test(tc, run_until_idle_blocks);
  tcase_add_test(tc, idle_callback_quits_loop);
  tcase_add_test(tc, cross_thread_wakes);
  tcase_add_test(tc, budget);
  tcase_add_test(tc, close_from_callback);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
