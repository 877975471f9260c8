/*
 * test-uv-cancel.c -- every awaitable kind, cancelled while pending and
 * timed out, with its libuv request or handle released only by libuv's
 * own callback (run this under valgrind: make check-valgrind, or
 * CK_FORK=no valgrind tests/test-uv-cancel).
 *
 * Three modes per kind:
 *   cancel   exco_task_cancel() from a sibling coroutine, on exco's uv
 *            driver;
 *   drop     exco_drop() of the pending task by a minimal host of the
 *            test's own (registered with exco_uv_attach), which runs the
 *            cancelled coroutine inside exco_drop, outside uv_run;
 *   timeout  the _timeout variant, with a 20 ms deadline.
 *
 * Determinism: the victim resolves a promise right before the awaitable
 * call and the canceller waits on that promise.  The wake puts the
 * canceller on the ready queue behind the victim, so it runs in the same
 * pass of the driver, after the victim suspended and before the loop
 * polls for I/O or thread-pool completions: the operation is still
 * pending when the cancellation lands.  In drop mode the host drops the
 * victim right after the poll that resolved the promise.
 *
 * Thread-pool operations are kept pending by a gate: jobs that occupy
 * every pool thread (UV_THREADPOOL_SIZE is forced to 4) until the test
 * opens it.  A pipe read and a FIFO open block a pool thread by
 * themselves: their cancellation can't stop them, and the test checks
 * that their late completion neither writes into the caller's buffer nor
 * leaks the descriptor.
 *
 * Coroutines record results; asserts come after the loop returns.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"

#define POOL_THREADS 4
#define TIMEOUT_MS 20
#define BIG_WRITE (32 * 1024 * 1024)

enum mode { M_CANCEL, M_DROP, M_TIMEOUT };

static const char *mode_names[] = {"cancel", "drop", "timeout"};

/* ---------------------------------------------------------------------- */
/* The gate: thread-pool jobs that wait until the test opens it            */
/* ---------------------------------------------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open_flag;
static uv_work_t gate_reqs[POOL_THREADS];
static int gate_done;

static void gate_wait(void) {
  pthread_mutex_lock(&gate_mu);
  while (!gate_open_flag)
    pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
}

static void gate_job(uv_work_t *req) {
  (void)req;
  gate_wait();
}

static void gate_after(uv_work_t *req, int status) {
  (void)req;
  (void)status;
  gate_done++;
}

static void gate_close(void) {
  pthread_mutex_lock(&gate_mu);
  gate_open_flag = 0;
  pthread_mutex_unlock(&gate_mu);
}

static void gate_open(void) {
  pthread_mutex_lock(&gate_mu);
  gate_open_flag = 1;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
}

/* Queues one gate job per pool thread: later jobs wait behind them. */
static void gate_fill(uv_loop_t *loop) {
  int i;

  gate_done = 0;
  for (i = 0; i < POOL_THREADS; i++)
    ck_assert_int_eq(uv_queue_work(loop, &gate_reqs[i], gate_job, gate_after),
                     0);
}

/* ---------------------------------------------------------------------- */
/* The per-case context                                                    */
/* ---------------------------------------------------------------------- */

typedef struct ctx ctx;
struct ctx {
  enum mode mode;
  uv_loop_t *loop;
  exco_promise *ready; /* resolved when the operation is (about to be)
                             pending */
  exco_task *victim;   /* join handle, cancel and timeout modes */
  int reached;         /* the victim reached its awaitable */
  ssize_t result;      /* what the awaitable returned */
  int after;           /* a later awaitable's result */
  int setup_err;       /* a setup step inside the victim failed */
  /* Resources. */
  int pipefd[2];
  char fifo[64];
  pthread_t fifo_writer;
  int fifo_writer_started;
  char buf[64]; /* fs reads target this; must stay untouched */
  atomic_int work_ran;
  atomic_int work_abandoned;
  int writer_result; /* the shutdown case's sibling writer */
  int fd, fd2;       /* the fs_close case's descriptors */
  int close2;
};

static ctx c;

static uint64_t timeout_of(ctx *x) {
  return x->mode == M_TIMEOUT ? TIMEOUT_MS : EXCO_UV_NO_TIMEOUT;
}

static void mark_reached(ctx *x) {
  x->reached = 1;
  exco_promise_resolve(x->ready, NULL);
}

/* Every awaitable after a cancellation is cancelled too; after a timeout
 * the task carries on normally. */
static void check_after(ctx *x) {
  x->after = exco_uv_sleep(0);
}

static int listen_any(exco_uv_tcp **server, struct sockaddr_in *bound) {
  return h_uv_listen_any(server, bound, 16);
}

/* A listener, a client connected to it, and the accepted end. */
static int tcp_pair(exco_uv_tcp **server, exco_uv_tcp **client,
                    exco_uv_tcp **conn) {
  struct sockaddr_in addr;
  int err;

  if ((err = listen_any(server, &addr)) != 0)
    return err;
  if ((err = exco_uv_tcp_connect((struct sockaddr *)&addr, client)) != 0) {
    exco_uv_tcp_close(*server);
    return err;
  }
  if ((err = exco_uv_tcp_accept(*server, conn)) != 0) {
    exco_uv_tcp_close(*client);
    exco_uv_tcp_close(*server);
  }
  return err;
}

/* Closes what tcp_pair() opened. */
static void tcp_pair_close(exco_uv_tcp *server, exco_uv_tcp *client,
                           exco_uv_tcp *conn) {
  exco_uv_tcp_close(conn);
  exco_uv_tcp_close(client);
  exco_uv_tcp_close(server);
}

/* ---------------------------------------------------------------------- */
/* The kinds                                                               */
/* ---------------------------------------------------------------------- */

static void *k_sleep(void *arg) {
  ctx *x = arg;

  mark_reached(x);
  x->result = exco_uv_sleep(60000);
  check_after(x);
  return NULL;
}

static void s_pipe(ctx *x) {
  ck_assert_int_eq(pipe(x->pipefd), 0);
  memset(x->buf, 0x5a, sizeof(x->buf));
}

static void *k_fs_read_pipe(void *arg) {
  ctx *x = arg;

  mark_reached(x);
  /* Blocks a pool thread in read(2) until the test writes: the
   * cancellation can't stop it. */
  x->result = exco_uv_fs_read_timeout(x->pipefd[0], x->buf, sizeof(x->buf), -1,
                                      timeout_of(x));
  check_after(x);
  return NULL;
}

static void r_pipe(ctx *x) {
  ck_assert_int_eq(write(x->pipefd[1], "late", 4), 4);
}

static void v_pipe(ctx *x) {
  size_t i;

  /* The late read went into the private copy, never into x->buf. */
  for (i = 0; i < sizeof(x->buf); i++)
    ck_assert_int_eq((unsigned char)x->buf[i], 0x5a);
  close(x->pipefd[0]);
  close(x->pipefd[1]);
}

static void s_fifo(ctx *x) {
  int fd;

  snprintf(x->fifo, sizeof(x->fifo), "/tmp/exco-test-uv-fifo-XXXXXX");
  fd = mkstemp(x->fifo);
  ck_assert_int_ge(fd, 0);
  close(fd);
  unlink(x->fifo);
  ck_assert_int_eq(mkfifo(x->fifo, 0600), 0);
}

static void *k_fs_open_fifo(void *arg) {
  ctx *x = arg;

  mark_reached(x);
  /* open(O_RDONLY) of a FIFO blocks a pool thread until a writer comes. */
  x->result = exco_uv_fs_open_timeout(x->fifo, O_RDONLY, 0, timeout_of(x));
  if (x->result >= 0)
    exco_uv_fs_close((uv_file)x->result);
  check_after(x);
  return NULL;
}

static void *fifo_writer(void *arg) {
  ctx *x = arg;
  int fd = open(x->fifo, O_WRONLY);

  if (fd >= 0)
    close(fd);
  return NULL;
}

static void r_fifo(ctx *x) {
  /* Pairs with the pool thread's open if it is running; otherwise (it was
   * taken off the queue) v_fifo's own reader releases this thread. */
  h_thread_start(&x->fifo_writer, fifo_writer, x);
  x->fifo_writer_started = 1;
}

static void v_fifo(ctx *x) {
  int fd = open(x->fifo, O_RDONLY | O_NONBLOCK);

  ck_assert_int_ge(fd, 0);
  h_thread_join(x->fifo_writer);
  close(fd);
  unlink(x->fifo);
}

static void s_fd(ctx *x) {
  x->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  x->fd2 = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge(x->fd, 0);
  ck_assert_int_ge(x->fd2, 0);
}

static void *k_fs_close(void *arg) {
  ctx *x = arg;

  mark_reached(x);
  /* Queued behind the gate, then cancelled: the descriptor must be
   * closed anyway (the fd count check sees it). */
  x->result = exco_uv_fs_close_timeout(x->fd, timeout_of(x));
  check_after(x);
  /* Clean-up code of a cancelled task can still close.  (A task that
   * only timed out would queue behind the gate: close directly.) */
  if (x->mode != M_TIMEOUT)
    x->close2 = exco_uv_fs_close(x->fd2);
  else
    x->close2 = close(x->fd2);
  return NULL;
}

static void v_fs_close(ctx *x) {
  ck_assert_int_eq(x->close2, 0);
  ck_assert_int_eq(fcntl(x->fd2, F_GETFD), -1);
}

static void *k_dns(void *arg) {
  ctx *x = arg;
  struct addrinfo *res = NULL;

  mark_reached(x);
  x->result =
      exco_uv_getaddrinfo_timeout("localhost", NULL, NULL, &res, timeout_of(x));
  if (x->result == 0)
    uv_freeaddrinfo(res);
  check_after(x);
  return NULL;
}

static void *k_read_file(void *arg) {
  ctx *x = arg;
  char *data = NULL;

  mark_reached(x);
  x->result = exco_uv_fs_read_file_timeout("/proc/self/status", &data, NULL,
                                           timeout_of(x));
  if (x->result == 0)
    free(data);
  check_after(x);
  return NULL;
}

static void *k_stat(void *arg) {
  ctx *x = arg;
  uv_stat_t st;

  mark_reached(x);
  x->result = exco_uv_fs_stat_timeout("/", &st, timeout_of(x));
  check_after(x);
  return NULL;
}

static void count_run(void *arg) {
  ctx *x = arg;

  atomic_fetch_add(&x->work_ran, 1);
}

static void count_abandon(void *arg) {
  ctx *x = arg;

  atomic_fetch_add(&x->work_abandoned, 1);
}

static void *k_work_queued(void *arg) {
  ctx *x = arg;

  mark_reached(x);
  x->result = exco_uv_work_timeout(count_run, x, count_abandon, timeout_of(x));
  check_after(x);
  return NULL;
}

static void v_work_queued(ctx *x) {
  /* Taken off the queue before it ran; the abandon function ran once. */
  ck_assert_int_eq(atomic_load(&x->work_ran), 0);
  ck_assert_int_eq(atomic_load(&x->work_abandoned), 1);
}

static void running_job(void *arg) {
  ctx *x = arg;

  atomic_fetch_add(&x->work_ran, 1);
  /* Tell the canceller (from this pool thread) that the job runs now. */
  if (x->mode != M_TIMEOUT)
    exco_promise_resolve(x->ready, NULL);
  gate_wait();
}

static void *k_work_running(void *arg) {
  ctx *x = arg;

  x->reached = 1;
  x->result =
      exco_uv_work_timeout(running_job, x, count_abandon, timeout_of(x));
  check_after(x);
  return NULL;
}

static void r_gate(ctx *x) {
  (void)x;
  gate_open();
}

static void v_work_running(ctx *x) {
  if (x->mode != M_TIMEOUT)
    ck_assert_int_eq(atomic_load(&x->work_ran), 1);
  ck_assert_int_eq(atomic_load(&x->work_abandoned), 1);
}

static void *k_accept(void *arg) {
  ctx *x = arg;
  struct sockaddr_in addr;
  exco_uv_tcp *server, *client;

  if ((x->setup_err = listen_any(&server, &addr)) != 0)
    return NULL;
  mark_reached(x);
  x->result = exco_uv_tcp_accept_timeout(server, &client, timeout_of(x));
  if (x->result == 0)
    exco_uv_tcp_close(client);
  check_after(x);
  exco_uv_tcp_close(server);
  return NULL;
}

static void *k_connect(void *arg) {
  ctx *x = arg;
  struct sockaddr_in addr;
  exco_uv_tcp *server, *client;

  if ((x->setup_err = listen_any(&server, &addr)) != 0)
    return NULL;
  mark_reached(x);
  /* Completes in the loop's next I/O poll: cancelled before that. */
  x->result = exco_uv_tcp_connect((struct sockaddr *)&addr, &client);
  if (x->result == 0)
    exco_uv_tcp_close(client);
  check_after(x);
  exco_uv_tcp_close(server);
  return NULL;
}

static void *k_read(void *arg) {
  ctx *x = arg;
  exco_uv_tcp *server, *client, *conn;

  if ((x->setup_err = tcp_pair(&server, &client, &conn)) != 0)
    return NULL;
  mark_reached(x);
  x->result =
      exco_uv_tcp_read_timeout(client, x->buf, sizeof(x->buf), timeout_of(x));
  check_after(x);
  tcp_pair_close(server, client, conn);
  return NULL;
}

static void *k_write(void *arg) {
  ctx *x = arg;
  exco_uv_tcp *server, *client, *conn;
  char *big;

  if ((x->setup_err = tcp_pair(&server, &client, &conn)) != 0)
    return NULL;
  big = calloc(1, BIG_WRITE);
  mark_reached(x);
  /* The peer never reads: what the kernel can't take stays queued. */
  x->result = exco_uv_tcp_write_timeout(client, big, BIG_WRITE, timeout_of(x));
  /* Our buffer is ours again, whatever libuv still has to write. */
  free(big);
  check_after(x);
  /* Closing makes libuv end the queued write (UV_ECANCELED) and free the
   * copy from its callback. */
  tcp_pair_close(server, client, conn);
  return NULL;
}

typedef struct writer_job {
  exco_uv_tcp *t;
  int *result;
} writer_job;

static void *big_writer(void *arg) {
  writer_job *w = arg;
  exco_uv_tcp *t = w->t;
  int *result = w->result;
  char *big = calloc(1, BIG_WRITE);

  free(w);
  *result = exco_uv_tcp_write(t, big, BIG_WRITE);
  free(big);
  return NULL;
}

static void *k_shutdown(void *arg) {
  ctx *x = arg;
  exco_uv_tcp *server, *client, *conn;
  writer_job *w;

  if ((x->setup_err = tcp_pair(&server, &client, &conn)) != 0)
    return NULL;
  /* A sibling's write that never drains keeps the shutdown pending. */
  w = malloc(sizeof(*w));
  w->t = client;
  w->result = &x->writer_result;
  x->writer_result = 1;
  if (exco_spawn(NULL, big_writer, w, NULL, NULL) != 0) {
    free(w);
    x->setup_err = EXCO_ENOMEM;
  } else {
    exco_yield(); /* the writer runs and queues its write */
    mark_reached(x);
    x->result = exco_uv_tcp_shutdown_timeout(client, timeout_of(x));
    check_after(x);
  }
  tcp_pair_close(server, client, conn);
  return NULL;
}

static void v_shutdown(ctx *x) {
  /* The sibling's write was ended by the close. */
  ck_assert_int_eq(x->writer_result, UV_ECANCELED);
}

static void *k_udp_recv(void *arg) {
  ctx *x = arg;
  struct sockaddr_in addr;
  exco_uv_udp *u;

  uv_ip4_addr("127.0.0.1", 0, &addr);
  if ((x->setup_err = exco_uv_udp_open((struct sockaddr *)&addr, &u)) != 0)
    return NULL;
  mark_reached(x);
  x->result =
      exco_uv_udp_recv_timeout(u, x->buf, sizeof(x->buf), NULL, timeout_of(x));
  check_after(x);
  exco_uv_udp_close(u);
  return NULL;
}

static void *k_signal(void *arg) {
  ctx *x = arg;

  mark_reached(x);
  x->result = exco_uv_signal_timeout(SIGUSR1, timeout_of(x));
  check_after(x);
  return NULL;
}

typedef struct kind {
  const char *name;
  exco_fn body;
  void (*setup)(ctx *);   /* before the loop runs the victim */
  void (*release)(ctx *); /* after the victim returned */
  void (*verify)(ctx *);  /* after everything ran */
  int gated;              /* fill the pool with gate jobs first */
  int no_timeout;         /* no _timeout variant, or none testable */
  int fd_check;           /* descriptors must be back to the start
                              (not for getaddrinfo: libc may cache) */
} kind;

static const kind kinds[] = {
    {"sleep", k_sleep, NULL, NULL, NULL, 0, 1, 1},
    {"fs_read(pipe)", k_fs_read_pipe, s_pipe, r_pipe, v_pipe, 0, 0, 1},
    {"fs_open(fifo)", k_fs_open_fifo, s_fifo, r_fifo, v_fifo, 0, 0, 1},
    {"fs_stat", k_stat, NULL, r_gate, NULL, 1, 0, 1},
    {"fs_close", k_fs_close, s_fd, r_gate, v_fs_close, 1, 0, 1},
    {"fs_read_file", k_read_file, NULL, r_gate, NULL, 1, 0, 1},
    {"getaddrinfo", k_dns, NULL, r_gate, NULL, 1, 0, 0},
    {"work(queued)", k_work_queued, NULL, r_gate, v_work_queued, 1, 0, 1},
    {"work(running)", k_work_running, NULL, r_gate, v_work_running, 0, 0, 1},
    {"tcp_accept", k_accept, NULL, NULL, NULL, 0, 0, 1},
    {"tcp_connect", k_connect, NULL, NULL, NULL, 0, 1, 1},
    {"tcp_read", k_read, NULL, NULL, NULL, 0, 0, 1},
    {"tcp_write", k_write, NULL, NULL, NULL, 0, 0, 1},
    {"tcp_shutdown", k_shutdown, NULL, NULL, v_shutdown, 0, 0, 1},
    {"udp_recv", k_udp_recv, NULL, NULL, NULL, 0, 0, 1},
    {"signal", k_signal, NULL, NULL, NULL, 0, 0, 1},
};

#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    n++;
  closedir(d);
  return n;
}

/* Starts a run of @mode on @loop with a clean context. */
static void ctx_reset(enum mode mode, uv_loop_t *loop) {
  memset(&c, 0, sizeof(c));
  c.mode = mode;
  c.loop = loop;
  c.result = 12345;
  c.after = 12345;
}

/* What comes before the victim is spawned: the promise it resolves, the
 * gate (closed, and filling the pool if the kind needs it), and the
 * kind's own setup. */
static void kind_prepare(const kind *k, uv_loop_t *loop) {
  ck_assert_int_eq(exco_promise_new(&c.ready), 0);
  gate_close();
  if (k->gated)
    gate_fill(loop);
  if (k->setup != NULL)
    k->setup(&c);
}

/* ---------------------------------------------------------------------- */
/* Cancel and timeout modes, on exco's uv driver                           */
/* ---------------------------------------------------------------------- */

static void *canceller(void *arg) {
  ctx *x = arg;

  exco_promise_await(x->ready, NULL);
  exco_task_cancel(x->victim);
  return NULL;
}

static void run_on_driver(const kind *k, enum mode mode) {
  tloop t;
  int fds;

  ctx_reset(mode, &t.loop);
  fds = count_fds();
  tl_init(&t);
  kind_prepare(k, &t.loop);
  tl_spawn(&t, k->body, &c, &c.victim);
  if (mode == M_CANCEL)
    tl_spawn(&t, canceller, &c, NULL);
  /* Until the victim has returned (the thing it waits for never comes:
   * only the cancellation or the deadline ends it). */
  while (exco_task_done(c.victim) != 1)
    uv_run(&t.loop, UV_RUN_ONCE);
  if (k->release != NULL)
    k->release(&c);
  tl_run(&t);
  if (k->gated)
    ck_assert_int_eq(gate_done, POOL_THREADS);

  ck_assert_msg(c.setup_err == 0, "%s/%s: setup failed: %s", k->name,
                mode_names[mode], uv_strerror(c.setup_err));
  ck_assert_int_eq(c.reached, 1);
  ck_assert_msg(c.result == (mode == M_TIMEOUT ? UV_ETIMEDOUT : EXCO_ECANCELED),
                "%s/%s: returned %zd", k->name, mode_names[mode], c.result);
  ck_assert_msg(c.after == (mode == M_TIMEOUT ? 0 : EXCO_ECANCELED),
                "%s/%s: later await returned %d", k->name, mode_names[mode],
                c.after);
  if (k->verify != NULL)
    k->verify(&c);
  exco_task_release(c.victim);
  exco_promise_unref(c.ready);
  /* Every handle the awaitable opened was closed (the loop closes)... */
  tl_fini(&t);
  /* ...and every descriptor (the loop's own ones included). */
  if (k->fd_check)
    ck_assert_int_eq(count_fds(), fds);
}

START_TEST(cancel_each_kind) {
  run_on_driver(&kinds[_i], M_CANCEL);
}
END_TEST

START_TEST(timeout_each_kind) {
  if (kinds[_i].no_timeout)
    return;
  run_on_driver(&kinds[_i], M_TIMEOUT);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Drop mode, on a minimal host of the test's own                          */
/* ---------------------------------------------------------------------- */

typedef struct mh_ext mh_ext;
struct mh_ext {
  exco_task *task;
  mh_ext *next;
  int queued;
};

typedef struct mhost {
  pthread_mutex_t mu;
  mh_ext *head, *tail;
  long live;
} mhost;

static void mh_push(mh_ext *e, mhost *h) {
  pthread_mutex_lock(&h->mu);
  if (!e->queued) {
    e->queued = 1;
    e->next = NULL;
    if (h->tail != NULL)
      h->tail->next = e;
    else
      h->head = e;
    h->tail = e;
  }
  pthread_mutex_unlock(&h->mu);
}

static mhost host;

static void *mh_new(void *data) {
  mh_ext *e = calloc(1, sizeof(*e));

  (void)data;
  if (e != NULL)
    host.live++;
  return e;
}

static void mh_run(void *ext, exco_task *intern) {
  mh_ext *e = ext;

  e->task = intern;
  mh_push(e, &host);
}

static void mh_wake(void *ext) {
  mh_push(ext, &host);
}

static mh_ext *mh_pop(void) {
  mh_ext *e;

  pthread_mutex_lock(&host.mu);
  e = host.head;
  if (e != NULL) {
    host.head = e->next;
    if (host.head == NULL)
      host.tail = NULL;
    e->queued = 0;
  }
  pthread_mutex_unlock(&host.mu);
  return e;
}

static void mh_unqueue(mh_ext *e) {
  mh_ext **p;

  pthread_mutex_lock(&host.mu);
  for (p = &host.head; *p != NULL; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      break;
    }
  host.tail = NULL;
  for (p = &host.head; *p != NULL; p = &(*p)->next)
    host.tail = *p;
  e->queued = 0;
  pthread_mutex_unlock(&host.mu);
}

/* Polls what is ready once; finished tasks are dropped. */
static void mh_poll_ready(mh_ext *victim, mh_ext **victim_slot) {
  mh_ext *e, *batch = NULL, **tailp = &batch;

  while ((e = mh_pop()) != NULL) {
    *tailp = e;
    tailp = &e->next;
  }
  *tailp = NULL;
  while ((e = batch) != NULL) {
    batch = e->next;
    if (exco_poll(e->task) == 0) {
      ck_assert_int_eq(exco_drop(e->task), 0);
      if (e == victim)
        *victim_slot = NULL;
      host.live--;
      mh_unqueue(e);
      free(e);
    }
  }
}

static void run_dropped(const kind *k) {
  exco_executor *ex;
  uv_loop_t loop;
  mh_ext *victim;
  exco_task *t;
  int fds;

  ctx_reset(M_DROP, &loop);
  memset(&host, 0, sizeof(host));
  pthread_mutex_init(&host.mu, NULL);
  fds = count_fds();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(exco_executor_new(&ex, mh_new, mh_run, mh_wake, &host), 0);
  ck_assert_int_eq(exco_uv_attach(ex, &loop), 0);
  kind_prepare(k, &loop);
  ck_assert_int_eq(exco_spawn(ex, k->body, &c, NULL, &t), 0);
  victim = host.head;
  ck_assert_ptr_nonnull(victim);
  /* Poll until the operation is pending; no uv_run between that poll and
   * the drop, so nothing can have completed it. */
  for (;;) {
    mh_poll_ready(victim, &victim);
    ck_assert_ptr_nonnull(victim);
    if (exco_promise_is_resolved(c.ready) == 1)
      break;
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  ck_assert_int_eq(exco_task_done(t), 0);
  /* The cancelled coroutine runs to its end inside exco_drop. */
  mh_unqueue(victim);
  ck_assert_int_eq(exco_drop(victim->task), 0);
  host.live--;
  free(victim);
  ck_assert_int_eq(exco_task_done(t), 1);
  if (k->release != NULL)
    k->release(&c);
  /* Let the abandoned requests' callbacks and the closes run. */
  while (host.head != NULL || uv_loop_alive(&loop)) {
    mh_poll_ready(NULL, &victim);
    uv_run(&loop, UV_RUN_ONCE);
  }
  if (k->gated)
    ck_assert_int_eq(gate_done, POOL_THREADS);

  ck_assert_int_eq(c.setup_err, 0);
  ck_assert_int_eq(c.reached, 1);
  ck_assert_msg(c.result == EXCO_ECANCELED, "%s/drop: returned %zd", k->name,
                c.result);
  ck_assert_int_eq(c.after, EXCO_ECANCELED);
  if (k->verify != NULL)
    k->verify(&c);
  exco_task_release(t);
  exco_promise_unref(c.ready);
  ck_assert_int_eq(host.live, 0);
  ck_assert_int_eq(exco_uv_detach(ex), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  if (k->fd_check)
    ck_assert_int_eq(count_fds(), fds);
  pthread_mutex_destroy(&host.mu);
}

START_TEST(drop_each_kind) {
  run_dropped(&kinds[_i]);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A completed operation wins over a cancellation seen at the same time    */
/* ---------------------------------------------------------------------- */

static ssize_t won_result;
static int won_after;
static exco_task *won_task;
static uv_timer_t won_timer;

static void *sleep_briefly(void *arg) {
  (void)arg;
  won_result = exco_uv_sleep(1);
  won_after = exco_uv_sleep(1);
  return NULL;
}

static void fire_cancel(uv_timer_t *timer) {
  exco_task_cancel(timer->data);
}

static void *arm_cancel(void *arg) {
  (void)arg;
  /* Same pass as the sleep's start, so the same loop time: due at the
   * same moment as the sleep's timer and started after it, this timer
   * fires right after it in the same timer phase.  The sleep is then
   * complete and its task woken but not yet polled when the
   * cancellation arrives. */
  uv_timer_init(exco_uv_loop(), &won_timer);
  won_timer.data = won_task;
  uv_timer_start(&won_timer, fire_cancel, 1, 0);
  return NULL;
}

START_TEST(done_wins_over_cancel) {
  tloop t;

  tl_init(&t);
  won_result = 12345;
  won_after = 12345;
  tl_spawn(&t, sleep_briefly, NULL, &won_task);
  tl_spawn(&t, arm_cancel, NULL, NULL);
  tl_run(&t);
  uv_close((uv_handle_t *)&won_timer, NULL);
  ck_assert_int_eq(won_result, 0);
  ck_assert_int_eq(won_after, EXCO_ECANCELED);
  exco_task_release(won_task);
  tl_fini(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-cancel");
  TCase *tc = h_tcase("cancel", 120);

  /* The gate needs to know how many pool threads there are; libuv reads
   * this when the pool first starts. */
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  /* libuv makes a process-wide pipe at its first loop: have it before
   * the tests count descriptors. */
  {
    uv_loop_t warm;

    uv_loop_init(&warm);
    uv_loop_close(&warm);
  }
  tcase_add_loop_test(tc, cancel_each_kind, 0, NKINDS);
  tcase_add_loop_test(tc, drop_each_kind, 0, NKINDS);
  tcase_add_loop_test(tc, timeout_each_kind, 0, NKINDS);
  tcase_add_test(tc, done_wins_over_cancel);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
