/*
 * soak.c -- `make check-soak`: millions of cross-thread wakes with random
 * cancels, host drops and spawns, across three kinds of executor at once,
 * with exact counts at the end.  Not part of `make check` (it runs for a
 * while); CI runs a shortened form under ASan (EXCO_SOAK_WAKES).
 *
 * NSLOTS slots each hold one task.  The task waits on its slot's mailbox:
 * a counter that producer threads raise under the slot's lock, waking the
 * task's waker; the task takes everything sent so far and waits again.
 * Four executors run the tasks: two local executors (one runner thread
 * each), a libuv executor (its loop on a thread of its own) and an
 * executor of the three callbacks (a host thread with its own queue),
 * which also drops tasks on request.  A controller thread
 * keeps replacing tasks: it cancels one (exco_task_cancel()), or has the
 * host drop it (exco_drop() of a pending task), waits for its end, and
 * spawns a new one on a random executor from its own thread.
 *
 * The counts that must add up, exactly:
 *   - every send is either taken by a task, or still in the mailbox when
 *     its task ended (cancelled or dropped): sent == taken + left;
 *   - at the end, with the producers stopped, every live task takes all
 *     that was sent to it (a lost wakeup would leave it waiting: the run
 *     fails after a timeout);
 *   - every task spawned ends, and each executor is freed with no task
 *     live.
 *
 * Environment (EXCO_TEST_VALGRIND, set by check-valgrind, makes it 20,000
 * wakes): EXCO_SOAK_WAKES (wakes of waiting tasks from the producer
 * threads, default 10,000,000; sends that find their task busy just add
 * to its mailbox and are not counted as wakes),
 * EXCO_SOAK_SEED.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exco.h"
#include "exco/uv.h"

#define NSLOTS 256
#define NPRODUCERS 3
#define NLOCAL 2

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "soak: FAIL: " __VA_ARGS__);                               \
    fputc('\n', stderr);                                                       \
    exit(1);                                                                   \
  } while (0)

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift, one state per thread. */
static unsigned rnd(unsigned *s) {
  unsigned x = *s;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* ---------------------------------------------------------------------- */
/* Slots                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct slot {
  pthread_mutex_t mu;
  int active;         /* a task takes from the mailbox */
  unsigned long sent; /* sends since the task started */
  unsigned long taken;
  exco_waker *waker;         /* the task's, while it waits */
  _Atomic(exco_task *) task; /* join handle (the controller's) */
  int on_host;               /* the task runs on the callbacks host */
  atomic_int drop_req;
} slot;

static slot slots[NSLOTS];
static exco_executor *uv_ex;
static atomic_ulong total_sent, total_taken, total_left, total_wakes;
static atomic_ulong spawned, ended, cancels, drops, never_ran;
static atomic_int stop_producers, stop_all;

static int mailbox_poll(void *arg, exco_waker *w) {
  slot *s = arg;
  int ready;

  pthread_mutex_lock(&s->mu);
  ready = s->sent > s->taken;
  if (ready) {
    atomic_fetch_add(&total_taken, s->sent - s->taken);
    s->taken = s->sent;
  } else if (s->waker == NULL) {
    s->waker = exco_waker_clone(w);
  }
  pthread_mutex_unlock(&s->mu);
  return ready;
}

static void mailbox_cancel(void *arg) {
  slot *s = arg;
  exco_waker *w;

  pthread_mutex_lock(&s->mu);
  w = s->waker;
  s->waker = NULL;
  pthread_mutex_unlock(&s->mu);
  exco_waker_drop(w);
}

static void *soak_task(void *arg) {
  slot *s = arg;
  exco_waker *w;
  unsigned n = 0;

  while (exco_await(mailbox_poll, mailbox_cancel, s) == 0)
    if (++n % 64 == 0 && exco_yield() != 0)
      break;
  /* Ended (cancelled or dropped): what is left in the mailbox stays. */
  pthread_mutex_lock(&s->mu);
  s->active = 0;
  atomic_fetch_add(&total_left, s->sent - s->taken);
  w = s->waker;
  s->waker = NULL;
  pthread_mutex_unlock(&s->mu);
  exco_waker_drop(w);
  atomic_fetch_add(&ended, 1);
  return NULL;
}

/* One send to slot @i, if its task takes them; 2 if it woke the task. */
static int send_one(int i) {
  slot *s = &slots[i];
  exco_waker *w = NULL;
  int ok;

  pthread_mutex_lock(&s->mu);
  ok = s->active;
  if (ok) {
    s->sent++;
    w = s->waker;
    s->waker = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  if (w != NULL) {
    exco_waker_wake(w);
    exco_waker_drop(w);
    atomic_fetch_add(&total_wakes, 1);
    return 2;
  }
  return ok;
}

/* The slot whose task @t is (NULL while its spawn hasn't returned). */
static slot *slot_of(exco_task *t) {
  int i;

  for (i = 0; i < NSLOTS; i++)
    if (atomic_load(&slots[i].task) == t)
      return &slots[i];
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The callbacks host: a queue, polled by its own thread                   */
/* ---------------------------------------------------------------------- */

typedef struct hnode {
  struct hnode *next;
  exco_task *intern;
  slot *s;
  int queued;
} hnode;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hnode *head, *tail;
  exco_executor *ex;
} host = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL,
          NULL};

static void *h_new(void *data) {
  hnode *n = calloc(1, sizeof(*n));

  (void)data;
  if (n == NULL)
    FAIL("out of memory");
  return n;
}

static void h_push(hnode *n) {
  pthread_mutex_lock(&host.mu);
  if (!n->queued) {
    n->queued = 1;
    n->next = NULL;
    if (host.tail != NULL)
      host.tail->next = n;
    else
      host.head = n;
    host.tail = n;
    pthread_cond_signal(&host.cv);
  }
  pthread_mutex_unlock(&host.mu);
}

static void h_run(void *ext, exco_task *intern) {
  ((hnode *)ext)->intern = intern;
  h_push(ext);
}

static void h_wake(void *ext) {
  h_push(ext);
}

static void *host_main(void *arg) {
  struct timespec ts;
  hnode *n;
  int r;

  (void)arg;
  for (;;) {
    pthread_mutex_lock(&host.mu);
    while (host.head == NULL && !atomic_load(&stop_all)) {
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 10000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&host.cv, &host.mu, &ts);
    }
    n = host.head;
    if (n == NULL) {
      pthread_mutex_unlock(&host.mu);
      return NULL;
    }
    host.head = n->next;
    if (host.head == NULL)
      host.tail = NULL;
    n->queued = 0;
    pthread_mutex_unlock(&host.mu);
    if (n->s == NULL)
      n->s = slot_of(n->intern);
    if (n->s != NULL && atomic_load(&n->s->drop_req)) {
      /* The host lets go of a pending task: exco cancels it here. */
      if (exco_drop(n->intern) != 0)
        FAIL("exco_drop of a pending task failed");
      atomic_fetch_add(&drops, 1);
      free(n);
      continue;
    }
    r = exco_poll(n->intern);
    if (r < 0)
      FAIL("exco_poll: %s", exco_strerror(r));
    if (r == 0) {
      if (exco_drop(n->intern) != 0)
        FAIL("exco_drop after the end failed");
      free(n);
    }
  }
}

/* ---------------------------------------------------------------------- */
/* Local executors, producers, controller                                  */
/* ---------------------------------------------------------------------- */

static exco_executor *locals[NLOCAL];

static void *local_main(void *arg) {
  exco_executor *ex = arg;

  while (!atomic_load(&stop_all) || exco_executor_live(ex) > 0)
    if (exco_run(ex) < 0)
      FAIL("exco_run failed");
  return NULL;
}

/* The libuv executor: made on its loop's thread, which runs the loop
 * until the end and then frees both. */
static pthread_mutex_t uv_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t uv_cv = PTHREAD_COND_INITIALIZER;

static uv_async_t uv_keep; /* keeps the loop running until the end */

static void uv_keep_cb(uv_async_t *a) {
  if (atomic_load(&stop_all))
    uv_close((uv_handle_t *)a, NULL);
}

static void *uv_main(void *arg) {
  uv_loop_t loop;

  (void)arg;
  if (uv_loop_init(&loop) != 0)
    FAIL("uv_loop_init");
  /* A loop with no live task returns from uv_run() at once, before it has
   * taken in a task spawned into it from another thread (its wake-up
   * handle doesn't keep the loop alive): like a server's listening
   * socket, this referenced handle keeps it running. */
  uv_async_init(&loop, &uv_keep, uv_keep_cb);
  pthread_mutex_lock(&uv_mu);
  if (exco_uv_executor_new(&uv_ex, &loop) != 0)
    FAIL("no uv executor");
  pthread_cond_signal(&uv_cv);
  pthread_mutex_unlock(&uv_mu);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (exco_uv_executor_free(uv_ex) != 0)
    FAIL("the uv executor still had live tasks");
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    FAIL("uv_loop_close: handles left");
  return NULL;
}

static unsigned long wakes_target;

static void *producer_main(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;

  int r;

  while (!atomic_load(&stop_producers)) {
    r = send_one((int)(rnd(&seed) % NSLOTS));
    if (r != 0)
      atomic_fetch_add(&total_sent, 1);
    if (r == 2 && atomic_load(&total_wakes) >= wakes_target)
      atomic_store(&stop_producers, 1);
  }
  return NULL;
}

static void spawn_into(slot *s, unsigned *seed) {
  unsigned which = rnd(seed) % (NLOCAL + 2);
  exco_executor *ex;
  exco_task *t;
  int err;

  ex = which < NLOCAL ? locals[which] : which == NLOCAL ? host.ex : uv_ex;
  pthread_mutex_lock(&s->mu);
  s->active = 1;
  s->sent = s->taken = 0;
  pthread_mutex_unlock(&s->mu);
  atomic_store(&s->drop_req, 0);
  s->on_host = ex == host.ex;
  err = exco_spawn(ex, soak_task, s, NULL, &t);
  if (err != 0)
    FAIL("exco_spawn: %s", exco_strerror(err));
  atomic_store(&s->task, t);
  atomic_fetch_add(&spawned, 1);
}

/* Waits for the end of the slot's task (bounded: a hang is a failure). */
static void wait_end(slot *s) {
  double end = now_s() + 60;

  exco_task *t = atomic_load(&s->task);

  while (!exco_task_done(t)) {
    if (now_s() > end)
      FAIL("a cancelled or dropped task never ended");
    sched_yield();
  }
  atomic_store(&s->task, NULL);
  exco_task_release(t);
  /* A task the host dropped before its first poll never ran, so it never
   * closed its mailbox: what was sent to it is left there. */
  pthread_mutex_lock(&s->mu);
  if (s->active) {
    s->active = 0;
    atomic_fetch_add(&total_left, s->sent - s->taken);
    atomic_fetch_add(&ended, 1);
    atomic_fetch_add(&never_ran, 1);
  }
  pthread_mutex_unlock(&s->mu);
}

static void *controller_main(void *arg) {
  unsigned seed = 12345u + (unsigned)(uintptr_t)arg;
  slot *s;

  while (!atomic_load(&stop_producers)) {
    s = &slots[rnd(&seed) % NSLOTS];
    if (s->on_host && rnd(&seed) % 2 == 0) {
      /* Have the host drop it at its next poll: make sure there is one. */
      atomic_store(&s->drop_req, 1);
      exco_task_cancel(atomic_load(&s->task)); /* onto the host's queue */
    } else {
      exco_task_cancel(atomic_load(&s->task));
      atomic_fetch_add(&cancels, 1);
    }
    wait_end(s);
    spawn_into(s, &seed);
  }
  return NULL;
}

int main(void) {
  pthread_t prod[NPRODUCERS], ctl, run[NLOCAL], hth, uvth;
  const char *env = getenv("EXCO_SOAK_WAKES");
  unsigned seed = env != NULL ? 1u : 7u;
  double t0 = now_s(), end;
  unsigned long sent, taken, left;
  int i;

  wakes_target = env != NULL ? strtoul(env, NULL, 10) : 10000000ul;
  /* check-valgrind runs every check program: a short soak there. */
  if (env == NULL && getenv("EXCO_TEST_VALGRIND") != NULL)
    wakes_target = 20000;
  if (getenv("EXCO_SOAK_SEED") != NULL)
    seed = (unsigned)strtoul(getenv("EXCO_SOAK_SEED"), NULL, 10) | 1u;
  for (i = 0; i < NSLOTS; i++) {
    pthread_mutex_init(&slots[i].mu, NULL);
    atomic_init(&slots[i].drop_req, 0);
  }
  for (i = 0; i < NLOCAL; i++) {
    if (exco_executor_new_local(&locals[i]) != 0)
      FAIL("no local executor");
    /* Spawned from the controller, run by the runner: pinned to it. */
  }
  if (exco_executor_new(&host.ex, h_new, h_run, h_wake, NULL) != 0)
    FAIL("no callbacks executor");
  pthread_mutex_lock(&uv_mu);
  pthread_create(&uvth, NULL, uv_main, NULL);
  while (uv_ex == NULL)
    pthread_cond_wait(&uv_cv, &uv_mu);
  pthread_mutex_unlock(&uv_mu);
  for (i = 0; i < NSLOTS; i++)
    spawn_into(&slots[i], &seed);
  for (i = 0; i < NLOCAL; i++)
    pthread_create(&run[i], NULL, local_main, locals[i]);
  pthread_create(&hth, NULL, host_main, NULL);
  for (i = 0; i < NPRODUCERS; i++)
    pthread_create(&prod[i], NULL, producer_main, (void *)(uintptr_t)(i + 1));
  pthread_create(&ctl, NULL, controller_main, NULL);
  for (i = 0; i < NPRODUCERS; i++)
    pthread_join(prod[i], NULL);
  pthread_join(ctl, NULL);

  /* Producers stopped: every live task must take all it was sent. */
  end = now_s() + 60;
  for (i = 0; i < NSLOTS; i++) {
    slot *s = &slots[i];
    int done;

    for (;;) {
      pthread_mutex_lock(&s->mu);
      done = !s->active || s->taken == s->sent;
      pthread_mutex_unlock(&s->mu);
      if (done)
        break;
      if (now_s() > end)
        FAIL("slot %d: sent %lu, taken %lu: a wakeup was lost", i, s->sent,
             s->taken);
      sched_yield();
    }
  }
  /* Then end every task. */
  for (i = 0; i < NSLOTS; i++) {
    exco_task_cancel(atomic_load(&slots[i].task));
    wait_end(&slots[i]);
  }
  atomic_store(&stop_all, 1);
  uv_async_send(&uv_keep);
  for (i = 0; i < NLOCAL; i++)
    pthread_join(run[i], NULL);
  pthread_join(hth, NULL);
  pthread_join(uvth, NULL);
  for (i = 0; i < NLOCAL; i++)
    if (exco_executor_free(locals[i]) != 0)
      FAIL("a local executor still had live tasks");
  if (exco_executor_free(host.ex) != 0)
    FAIL("the callbacks executor still had live tasks");

  sent = atomic_load(&total_sent);
  taken = atomic_load(&total_taken);
  left = atomic_load(&total_left);
  printf("soak: %lu cross-thread wakes, %lu sends in %.1f s: %lu taken, "
         "%lu left in mailboxes of ended tasks; %lu tasks spawned, %lu ended "
         "(%lu cancels, %lu host drops, %lu of them before the first poll)\n",
         atomic_load(&total_wakes), sent, now_s() - t0, taken, left,
         atomic_load(&spawned), atomic_load(&ended), atomic_load(&cancels),
         atomic_load(&drops), atomic_load(&never_ran));
  if (atomic_load(&total_wakes) < wakes_target)
    FAIL("only %lu wakes of %lu", atomic_load(&total_wakes), wakes_target);
  if (sent != taken + left)
    FAIL("sent %lu != taken %lu + left %lu", sent, taken, left);
  if (atomic_load(&spawned) != atomic_load(&ended))
    FAIL("%lu spawned, %lu ended", atomic_load(&spawned), atomic_load(&ended));
  puts("soak: all counts exact");
  return 0;
}
