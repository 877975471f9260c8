/*
 * debug.c -- seeing what coroutines do: task snapshots and listings, the
 * labels and sites of awaits, the stall watchdog, and the list of all
 * executors that the watchdog and the gdb script (tools/exco-gdb.py)
 * walk.
 *
 * Everything here reads tasks from other threads while they run: the
 * fields it reads are atomics written with relaxed stores on the hot
 * paths (a plain store on x86-64 and AArch64), and a snapshot may be a
 * moment out of date.  Tasks are reached through their executor's task
 * list under its lock, which keeps them alive while they are looked at.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "switch.h"
#include "timer.h"

/* ---------------------------------------------------------------------- */
/* The list of all executors                                               */
/* ---------------------------------------------------------------------- */

/* Non-static so that gdb finds it by name (tools/exco-gdb.py). */
exco__list exco__executors = {&exco__executors, &exco__executors};
static pthread_mutex_t exco__registry_lock = PTHREAD_MUTEX_INITIALIZER;

void exco__registry_add(exco_executor *ex) {
  pthread_mutex_lock(&exco__registry_lock);
  exco__list_insert_tail(&exco__executors, &ex->reg_link);
  pthread_mutex_unlock(&exco__registry_lock);
}

void exco__registry_remove(exco_executor *ex) {
  pthread_mutex_lock(&exco__registry_lock);
  exco__list_remove(&ex->reg_link);
  pthread_mutex_unlock(&exco__registry_lock);
}

/* ---------------------------------------------------------------------- */
/* Labels and sites                                                        */
/* ---------------------------------------------------------------------- */

void exco_await_label(const char *kind) {
  exco_task *t = exco__current();

  if (t != NULL)
    atomic_store_explicit(&t->wait_kind, kind, memory_order_relaxed);
}

void exco_await_site(const char *file, int line) {
  exco_task *t = exco__current();

  if (t != NULL) {
    atomic_store_explicit(&t->site_line, line, memory_order_relaxed);
    atomic_store_explicit(&t->site_file, file, memory_order_relaxed);
    t->site_set = 1;
  }
}

/* ---------------------------------------------------------------------- */
/* Snapshots                                                               */
/* ---------------------------------------------------------------------- */

static const char *const exco__state_names[] = {
    "spawned", "ready", "running", "pending", "cancelling", "finished",
};

const char *exco_task_state_name(exco_task_state state) {
  if ((unsigned)state >= sizeof(exco__state_names) / sizeof(char *))
    return "unknown";
  return exco__state_names[state];
}

/* From the top of the stack down to the lowest resident page. */
static size_t exco__stack_used(const exco__stack *st) {
  long psl = sysconf(_SC_PAGESIZE);
  size_t ps = psl > 0 ? (size_t)psl : 4096, npages, i;
  uintptr_t lo, hi, base;
  unsigned char vec[64];

  if (st == NULL)
    return 0;
  lo = (uintptr_t)st->lo;
  hi = lo + st->size;
  base = lo / ps * ps;
  npages = (hi - base + ps - 1) / ps;
  /* In chunks, lowest first: the first resident page found is the mark. */
  for (i = 0; i < npages; i += sizeof(vec)) {
    size_t n = npages - i < sizeof(vec) ? npages - i : sizeof(vec), j;

    if (mincore((void *)(base + i * ps), n * ps, vec) != 0)
      return 0;
    for (j = 0; j < n; j++)
      if (vec[j] & 1) {
        uintptr_t page = base + (i + j) * ps;
        return page <= lo ? st->size : (size_t)(hi - page);
      }
  }
  return 0;
}

int exco_task_get_info(exco_task *t, exco_task_info *out) {
  unsigned s, f;
  uint64_t now = exco__now_ns();

  if (!exco__task_valid(t) || out == NULL)
    return EXCO_EINVAL;
  memset(out, 0, sizeof(*out));
  s = atomic_load_explicit(&t->state, memory_order_acquire);
  f = atomic_load_explicit(&t->flags, memory_order_relaxed);
  out->name = t->name;
  out->polls = atomic_load_explicit(&t->polls, memory_order_relaxed);
  if (s & EXCO__DONE)
    out->state = EXCO_TASK_FINISHED;
  else if (f & EXCO__CANCEL)
    out->state = EXCO_TASK_CANCELLING;
  else if ((s & EXCO__RUNNING) &&
           !atomic_load_explicit(&t->kept, memory_order_relaxed))
    out->state = EXCO_TASK_RUNNING;
  else if (s & EXCO__RUNNING)
    out->state = EXCO_TASK_READY; /* a yield, queued (kept RUNNING) */
  else if (s & EXCO__NOTIFIED)
    out->state = out->polls == 0 ? EXCO_TASK_SPAWNED : EXCO_TASK_READY;
  else
    out->state = EXCO_TASK_PENDING;
  /* Ages wrap after 49 days (a 32-bit count of milliseconds). */
  out->age_ms = (uint32_t)((uint32_t)(now / 1000000u) - t->spawn_ms);
  if (out->state != EXCO_TASK_RUNNING && out->state != EXCO_TASK_FINISHED) {
    out->waiting_on = atomic_load_explicit(&t->wait_kind, memory_order_relaxed);
    out->file = atomic_load_explicit(&t->site_file, memory_order_relaxed);
    out->line = atomic_load_explicit(&t->site_line, memory_order_relaxed);
  }
  if (t->stack != NULL) {
    out->stack_size = t->stack->size;
    out->stack_used = exco__stack_used(t->stack);
  }
  return 0;
}

typedef struct exco__dump {
  FILE *f;
  int n;
} exco__dump;

static int exco__dump_one(exco_task *t, void *arg) {
  exco__dump *d = arg;
  exco_task_info i;

  if (exco_task_get_info(t, &i) != 0)
    return 0;
  d->n++;
  fprintf(d->f, "  \"%s\"  %s  age %llu ms  polls %lu  stack %zu/%zu\n",
          i.name != NULL ? i.name : "(unnamed)", exco_task_state_name(i.state),
          (unsigned long long)i.age_ms, i.polls, i.stack_used, i.stack_size);
  if (i.waiting_on != NULL || i.file != NULL) {
    fprintf(d->f, "      waiting on %s", i.waiting_on ? i.waiting_on : "?");
    if (i.file != NULL)
      fprintf(d->f, " at %s:%d", i.file, i.line);
    fputc('\n', d->f);
  }
  return 0;
}

int exco_executor_dump(exco_executor *ex, FILE *f) {
  exco__dump d = {f, 0};
  int err;

  if (!exco__executor_valid(ex) || f == NULL)
    return EXCO_EINVAL;
  fprintf(f, "exco executor %p (%s): %ld live tasks\n", (void *)ex,
          ex->ops != NULL && ex->ops->name != NULL ? ex->ops->name : "?",
          exco_executor_live(ex));
  err = exco_executor_foreach(ex, exco__dump_one, &d);
  return err < 0 ? err : d.n;
}

/* ---------------------------------------------------------------------- */
/* The watchdog                                                            */
/* ---------------------------------------------------------------------- */

static pthread_mutex_t exco__wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exco__wd_cond = PTHREAD_COND_INITIALIZER;
static int exco__wd_running; /* the thread exists */
static int exco__wd_quit;
static pthread_t exco__wd_thread;

/* A stalled poll found under the task list's lock, reported after it. */
typedef struct exco__stall {
  exco_task *task; /* referenced */
  uint64_t ms;
} exco__stall;

#define EXCO__WD_BATCH 16

typedef struct exco__wd_scan {
  uint64_t now, threshold;
  exco__stall found[EXCO__WD_BATCH];
  int n;
} exco__wd_scan;

static int exco__wd_check(exco_task *t, void *arg) {
  exco__wd_scan *sc = arg;
  uint64_t start = atomic_load_explicit(&t->poll_start, memory_order_relaxed);
  unsigned long polls = atomic_load_explicit(&t->polls, memory_order_relaxed);

  if (start == 0 || sc->now < start || sc->now - start < sc->threshold)
    return 0;
  /* Once per poll: the watchdog thread is the only one to touch this. */
  if (t->watch_reported == (unsigned)polls)
    return 0;
  t->watch_reported = (unsigned)polls;
  exco__task_ref(t);
  sc->found[sc->n].task = t;
  sc->found[sc->n].ms = (sc->now - start) / 1000000u;
  return ++sc->n == EXCO__WD_BATCH;
}

static void exco__wd_default(exco_executor *ex, exco_task *t,
                             uint64_t running_ms, void *arg) {
  (void)arg;
  fprintf(stderr,
          "exco: task \"%s\" (executor %s) has run %llu ms in one poll "
          "without suspending\n",
          t->name != NULL ? t->name : "(unnamed)",
          ex->ops != NULL && ex->ops->name != NULL ? ex->ops->name : "?",
          (unsigned long long)running_ms);
}

/* One pass over every watched executor.  Returns the smallest threshold
 * in force (0: none). */
static uint64_t exco__wd_pass(void) {
  exco__list *n;
  uint64_t smallest = 0;

  pthread_mutex_lock(&exco__registry_lock);
  for (n = exco__executors.next; n != &exco__executors; n = n->next) {
    exco_executor *ex = exco__container_of(n, exco_executor, reg_link);
    exco__wd_scan sc;
    int i;

    sc.threshold = atomic_load_explicit(&ex->watch_ns, memory_order_relaxed);
    if (sc.threshold == 0)
      continue;
    if (smallest == 0 || sc.threshold < smallest)
      smallest = sc.threshold;
    sc.now = exco__now_ns();
    sc.n = 0;
    exco_executor_foreach(ex, exco__wd_check, &sc);
    /* The registry lock keeps @ex from being freed (exco__registry_remove
     * waits for it); the references keep the tasks. */
    for (i = 0; i < sc.n; i++) {
      (ex->watch_fn != NULL ? ex->watch_fn : exco__wd_default)(
          ex, sc.found[i].task, sc.found[i].ms, ex->watch_arg);
      exco__task_unref(sc.found[i].task);
    }
  }
  pthread_mutex_unlock(&exco__registry_lock);
  return smallest;
}

static void *exco__wd_main(void *arg) {
  uint64_t every, due;
  struct timespec ts;

  (void)arg;
  pthread_mutex_lock(&exco__wd_lock);
  while (!exco__wd_quit) {
    pthread_mutex_unlock(&exco__wd_lock);
    every = exco__wd_pass() / 4;
    pthread_mutex_lock(&exco__wd_lock);
    if (every < 1000000u)
      every = every == 0 ? 100000000u : 1000000u;
    due = exco__now_ns() + every;
    ts.tv_sec = (time_t)(due / 1000000000u);
    ts.tv_nsec = (long)(due % 1000000000u);
    if (!exco__wd_quit)
      pthread_cond_timedwait(&exco__wd_cond, &exco__wd_lock, &ts);
  }
  pthread_mutex_unlock(&exco__wd_lock);
  return NULL;
}

int exco_executor_watchdog(exco_executor *ex, uint64_t threshold_ms,
                           exco_watchdog_fn fn, void *arg) {
  pthread_condattr_t attr;
  int err = 0;

  if (!exco__executor_valid(ex))
    return EXCO_EINVAL;
  pthread_mutex_lock(&exco__wd_lock);
  if (threshold_ms != 0 && !exco__wd_running) {
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&exco__wd_cond);
    pthread_cond_init(&exco__wd_cond, &attr);
    pthread_condattr_destroy(&attr);
    exco__wd_quit = 0;
    if (pthread_create(&exco__wd_thread, NULL, exco__wd_main, NULL) != 0)
      err = EXCO_ENOMEM;
    else
      exco__wd_running = 1;
  }
  if (err == 0) {
    /* Under the registry lock: a pass in progress sees all three or the
     * old ones. */
    pthread_mutex_lock(&exco__registry_lock);
    ex->watch_fn = fn;
    ex->watch_arg = arg;
    atomic_store_explicit(&ex->watch_ns,
                          threshold_ms > UINT64_MAX / 1000000u
                              ? UINT64_MAX
                              : threshold_ms * 1000000u,
                          memory_order_relaxed);
    pthread_mutex_unlock(&exco__registry_lock);
    pthread_cond_signal(&exco__wd_cond);
  }
  pthread_mutex_unlock(&exco__wd_lock);
  return err;
}

/* At exit: no thread of exco's left behind. */
__attribute__((destructor)) static void exco__wd_fini(void) {
  int join;

  pthread_mutex_lock(&exco__wd_lock);
  join = exco__wd_running;
  exco__wd_running = 0;
  exco__wd_quit = 1;
  pthread_cond_signal(&exco__wd_cond);
  pthread_mutex_unlock(&exco__wd_lock);
  if (join)
    pthread_join(exco__wd_thread, NULL);
}

/* fork(): the locks are consistent in the child, which has no watchdog
 * thread (the next exco_executor_watchdog() starts one). */
void exco__debug_fork(int phase) {
  if (phase == EXCO__FORK_PREPARE) {
    pthread_mutex_lock(&exco__wd_lock);
    pthread_mutex_lock(&exco__registry_lock);
    return;
  }
  if (phase == EXCO__FORK_CHILD)
    exco__wd_running = 0;
  pthread_mutex_unlock(&exco__registry_lock);
  pthread_mutex_unlock(&exco__wd_lock);
}
