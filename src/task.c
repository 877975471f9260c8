/*
 * task.c -- the task lifecycle: spawn, wake, poll, drop and finish.
 *
 * A task is a control block (struct exco_task) plus a stack.  The control
 * block is reference counted: the host holds one reference from spawn to
 * drop, a join handle holds one, every cloned waker and every stack hold
 * holds one.  So a waker can be woken from another thread long after the
 * task was dropped: it finds EXCO__DROPPED in the state word and does
 * nothing, and its memory is still there to say so.
 *
 * The stack has its own, shorter life: it is released once the function
 * has returned and every stack hold is gone.  It is always released from
 * the poller's side (or a hold's owner), never from the coroutine itself,
 * because the coroutine's last switch away happens on that very stack: it
 * cannot give the stack back to the pool while it is still standing on it.
 *
 * The task state machine (docs/ARCHITECTURE.md, checked by tests/model):
 * one atomic word of RUNNING, NOTIFIED, DONE and DROPPED bits that wakes,
 * polls and drops change with compare-and-swap.
 */
#include "config.h"

#include <stddef.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "resume.h"
#include "switch.h"

/* Largest stack a spawn may ask for: far beyond any sane use, low enough
 * that rounding it up to pages cannot overflow. */
#define EXCO__STACK_MAX ((size_t)1 << 40)

int exco__task_valid(const exco_task *t) {
  return t != NULL && t->magic == EXCO__TASK_MAGIC;
}

void exco__task_ref(exco_task *t) {
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

/*
 * Counters below are often at their last count when we come to drop one,
 * and a plain load is much cheaper than a locked read-modify-write.  If
 * the load shows we hold the last count, nobody else can take a new one
 * (that needs a count already), so the object is ours alone.
 */
static int exco__put_last(atomic_int *count) {
  if (atomic_load_explicit(count, memory_order_acquire) == 1)
    return 1;
  return atomic_fetch_sub_explicit(count, 1, memory_order_acq_rel) == 1;
}

/*
 * Tasks start on a cache-line boundary, so that the fields a resume
 * touches (the first two lines of exco_task) are two lines, whatever
 * alignment the allocator (exco_replace_allocator()) gives.
 */
enum { EXCO__LINE = 64 };

#if !defined(EXCO_CONTEXT_UCONTEXT) && !defined(EXCO_CONTEXT_SWAPCONTEXT) &&   \
    UINTPTR_MAX == UINT64_MAX
_Static_assert(offsetof(exco_task, magic) == EXCO__LINE,
               "a kept yield's fields of exco_task fill line 0 exactly");
_Static_assert(offsetof(exco_task, was_cancelled) == 2 * EXCO__LINE,
               "a poll's fields of exco_task fill two lines exactly");
#if !defined(EXCO__HAVE_ASAN) && !defined(EXCO__HAVE_TSAN)
_Static_assert(sizeof(exco_task) == 4 * EXCO__LINE,
               "exco_task is four lines (W5: memory per parked task)");
#endif
#endif

/*
 * Each thread keeps up to EXCO__TASK_CACHE freed task blocks for its next
 * spawns: a batch of tasks that finish together would otherwise free more
 * than malloc's per-thread cache takes (seven blocks a size in glibc) and
 * pay its slow path, twice per task (W1 measured malloc and free at 240
 * instructions a task with callgrind).  Only while exco allocates with
 * malloc() itself: a block from malloc goes back to free() whatever the
 * allocator is by then, and a replaced allocator (exco_replace_allocator())
 * sees every allocation and every free, as its users expect.  A cache
 * holds at most EXCO__TASK_CACHE blocks (about 100 KiB) and is freed when
 * its thread exits.
 */
enum { EXCO__TASK_CACHE = 256 };

typedef struct exco__task_cache {
  struct exco__task_cache *prev, *next; /* every thread's (tcaches_lock) */
  int n;
  void *blocks[EXCO__TASK_CACHE];
} exco__task_cache;

/* Every thread's cache, so that a fork()'s child can free those of the
 * threads it doesn't have (exco__task_fork()). */
static pthread_mutex_t exco__tcaches_lock = PTHREAD_MUTEX_INITIALIZER;
static exco__task_cache *exco__tcaches;

static void exco__tcache_link(exco__task_cache *c) {
  pthread_mutex_lock(&exco__tcaches_lock);
  c->prev = NULL;
  c->next = exco__tcaches;
  if (exco__tcaches != NULL)
    exco__tcaches->prev = c;
  exco__tcaches = c;
  pthread_mutex_unlock(&exco__tcaches_lock);
}

static void exco__tcache_free(exco__task_cache *c) {
  while (c->n > 0)
    free(c->blocks[--c->n]);
  free(c);
}

static __thread exco__task_cache *exco__tls_tcache
    __attribute__((tls_model("initial-exec")));
static pthread_key_t exco__tcache_key;
static pthread_once_t exco__tcache_once = PTHREAD_ONCE_INIT;
static int exco__tcache_ok; /* the key was made */

static void exco__tcache_destroy(void *p) {
  exco__task_cache *c = p;

  /* A later use on this thread (another key's destructor) starts a new
   * cache. */
  exco__tls_tcache = NULL;
  pthread_mutex_lock(&exco__tcaches_lock);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    exco__tcaches = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  pthread_mutex_unlock(&exco__tcaches_lock);
  exco__tcache_free(c);
}

static void exco__tcache_init(void) {
  exco__tcache_ok =
      pthread_key_create(&exco__tcache_key, exco__tcache_destroy) == 0;
}

/* This thread's cache, made on first use; NULL if it can't be. */
static exco__task_cache *exco__tcache_get(void) {
  exco__task_cache *c = exco__tls_tcache;

  if (c != NULL)
    return c;
  pthread_once(&exco__tcache_once, exco__tcache_init);
  if (!exco__tcache_ok || (c = malloc(sizeof(*c))) == NULL)
    return NULL;
  c->n = 0;
  if (pthread_setspecific(exco__tcache_key, c) != 0) {
    free(c);
    return NULL;
  }
  exco__tcache_link(c);
  exco__tls_tcache = c;
  return c;
}

void exco__task_fork(int phase) {
  exco__task_cache *c, *next, *mine = exco__tls_tcache;

  switch (phase) {
  case EXCO__FORK_PREPARE:
    pthread_once(&exco__tcache_once, exco__tcache_init);
    pthread_mutex_lock(&exco__tcaches_lock);
    break;
  case EXCO__FORK_PARENT:
    pthread_mutex_unlock(&exco__tcaches_lock);
    break;
  default:
    /* Only this thread is left: the others' caches went with them. */
    for (c = exco__tcaches; c != NULL; c = next) {
      next = c->next;
      if (c != mine)
        exco__tcache_free(c);
    }
    exco__tcaches = mine;
    if (mine != NULL)
      mine->prev = mine->next = NULL;
    pthread_mutex_unlock(&exco__tcaches_lock);
    break;
  }
}

/*
 * What a block needs beyond the task to hold it on a line boundary: malloc
 * returns memory aligned for max_align_t (16 bytes on x86-64 and AArch64),
 * so 48 bytes there, which with a 256-byte task makes a 320-byte chunk
 * rather than 336; a replaced allocator may align less (63).
 */
static size_t exco__task_pad(int libc) {
  return libc ? EXCO__LINE - _Alignof(max_align_t) : EXCO__LINE - 1;
}

static exco_task *exco__task_alloc(void) {
  exco__task_cache *c = exco__tls_tcache;
  unsigned char libc = exco__alloc_libc != 0;
  void *p;
  exco_task *t;

  if (libc && c != NULL && c->n > 0)
    p = c->blocks[--c->n];
  else if ((p = exco__malloc(sizeof(exco_task) + exco__task_pad(libc))) == NULL)
    return NULL;
  t = (exco_task *)(((uintptr_t)p + EXCO__LINE - 1) &
                    ~(uintptr_t)(EXCO__LINE - 1));
  t->alloc_off = (unsigned char)((char *)t - (char *)p);
  t->alloc_libc = libc;
  return t;
}

static void exco__task_free(exco_task *t) {
  exco__task_cache *c;
  void *p = (char *)t - t->alloc_off;

  t->magic = 0;
  if (!t->alloc_libc) {
    exco__free(p);
    return;
  }
  c = exco__tcache_get();
  if (c != NULL && c->n < EXCO__TASK_CACHE && exco__alloc_libc)
    c->blocks[c->n++] = p;
  else
    free(p);
}

void exco__task_unref(exco_task *t) {
  if (!exco__put_last(&t->refs))
    return;
  exco__task_free(t);
}

/* ---------------------------------------------------------------------- */
/* Stakes: the host's drop and the stack's release                         */
/* ---------------------------------------------------------------------- */

static void exco__task_release_stake(exco_task *t) {
  if (exco__put_last(&t->unreleased))
    exco__executor_unstake(t->ex, t);
}

static void exco__task_release_stack(exco_task *t) {
  exco__stack_put(t->ex->pool, t->stack);
  t->stack = NULL;
  exco__task_release_stake(t);
}

static inline void exco__task_unhold_inline(exco_task *t) {
  if (exco__put_last(&t->holds))
    exco__task_release_stack(t);
}

void exco__task_unhold(exco_task *t) {
  exco__task_unhold_inline(t);
}

/* ---------------------------------------------------------------------- */
/* Spawn                                                                   */
/* ---------------------------------------------------------------------- */

static void exco__entry(void *arg) {
  exco_task *t = arg;

  exco__switch_started(t);
  errno = 0;
  t->u.result = t->u.fn(t->arg);
  if (t->tls != NULL)
    exco__tls_finish(t);
  t->finished = 1;
  exco__switch_out(t, 1);
  /* A finished context is never resumed. */
  abort();
}

int exco_spawn(exco_executor *ex, exco_fn fn, void *arg,
               const exco_spawn_opts *opts, exco_task **out) {
  exco_spawn_opts o = {0, NULL, 0};
  exco_task *t;
  int err;

  if (fn == NULL)
    return EXCO_EINVAL;
  if (opts != NULL)
    o = *opts;
  if ((o.flags & ~EXCO_SPAWN_NOGUARD) != 0 || o.stack_size > EXCO__STACK_MAX)
    return EXCO_EINVAL;
  if (ex == NULL) {
    ex = exco_current_executor();
    if (ex == NULL && (err = exco__default_executor_get(&ex)) != 0)
      return err;
  }
  if (!exco__executor_valid(ex))
    return EXCO_EINVAL;

  t = exco__task_alloc();
  if (t == NULL)
    return EXCO_ENOMEM;
  t->magic = EXCO__TASK_MAGIC;
  /* The initial poll is already owed: task_run schedules it. */
  atomic_init(&t->state, EXCO__NOTIFIED);
  atomic_init(&t->flags, 0);
  atomic_init(&t->refs, out != NULL ? 2 : 1);
  atomic_init(&t->wakes_inflight, 0);
  atomic_init(&t->holds, 1);
  atomic_init(&t->unreleased, 2);
  t->started = 0;
  t->finished = 0;
  t->yielded = 0;
  t->noguard = 0;
  atomic_init(&t->kept, 0);
  t->site_set = 0;
  t->was_cancelled = 0;
  t->deadline = EXCO_NO_DEADLINE;
  t->host_fn = NULL;
  t->eh.caught = NULL;
  t->eh.uncaught = 0;
  atomic_init(&t->wait_kind, NULL);
  atomic_init(&t->site_file, NULL);
  atomic_init(&t->site_line, 0);
  atomic_init(&t->polls, 0);
  atomic_init(&t->poll_start, 0);
  t->watch_reported = 0;
  t->spawn_ms = (uint32_t)(exco__coarse_now_ns() / 1000000u);
  atomic_init(&t->home, 0);
  t->ex = ex;
  t->ext = NULL;
  t->u.fn = fn;
  t->arg = arg;
  t->name = o.name;
  t->rq_next = NULL;
  t->tls = NULL;
  exco__waitq_init(&t->joiners, 1);

  err = exco__stack_get(ex->pool, o.stack_size, o.flags, &t->stack);
  if (err != 0)
    goto fail;
  t->noguard = (t->stack->flags & EXCO_SPAWN_NOGUARD) != 0;
  /* Linked first: a closing executor refuses before the host is asked
   * for a handle it could never get back. */
  err = exco__executor_task_add(ex, t);
  if (err != 0)
    goto fail_stack;
  /* On the shared run queue the task is its own node. */
  t->ext = ex->task_new != NULL ? ex->task_new(ex->cb_data) : t;
  if (t->ext == NULL) {
    exco__stack_put(ex->pool, t->stack);
    exco__executor_unstake(ex, t);
    err = EXCO_ENOMEM;
    goto fail;
  }
  if (out != NULL)
    *out = t;
  ex->task_run(t->ext, t);
  return 0;

fail_stack:
  exco__stack_put(ex->pool, t->stack);
fail:
  exco__task_free(t);
  return err;
}

/* ---------------------------------------------------------------------- */
/* Wake                                                                    */
/* ---------------------------------------------------------------------- */

/*
 * Calls the host's task_wake.  wakes_inflight tells a concurrent drop that
 * a thread is inside task_wake for this task: exco_drop() sets DROPPED and
 * then waits for the count to fall to zero, so once it returns the host
 * can free its handle without a wake landing on it.  The count is raised
 * *before* the state change that decides to call the host, so whichever
 * of the two (wake's CAS, drop's fetch_or) comes first in the state word's
 * order, the other one sees it.
 *
 * The state accesses here, the poll's claiming CAS, and the CANCEL flag's
 * set and test are all sequentially consistent.  A canceller sets CANCEL
 * in one word and then wakes through the other; a poll claims the task in
 * one and then tests CANCEL in the other.  That is the store-buffering
 * shape, and release/acquire would let both sides read the old values: the
 * wake coalesces with a poll that then misses CANCEL.  seq_cst forbids it
 * (tests/model/README.md), and on x86-64 and AArch64 it compiles to the
 * same instructions.
 */
void exco__task_wake(exco_task *t) {
  unsigned s = atomic_load_explicit(&t->state, memory_order_seq_cst);

  for (;;) {
    if (s & (EXCO__DONE | EXCO__DROPPED | EXCO__NOTIFIED))
      return; /* finished, gone, or a poll is owed already: coalesce */
    if (s & EXCO__RUNNING) {
      /* The poll in progress will see NOTIFIED when the coroutine
       * suspends and reschedule it: no host call from here. */
      if (atomic_compare_exchange_weak_explicit(
              &t->state, &s, s | EXCO__NOTIFIED, memory_order_seq_cst,
              memory_order_seq_cst))
        return;
      continue;
    }
    atomic_fetch_add_explicit(&t->wakes_inflight, 1, memory_order_seq_cst);
    if (atomic_compare_exchange_strong_explicit(
            &t->state, &s, s | EXCO__NOTIFIED, memory_order_seq_cst,
            memory_order_seq_cst)) {
      t->ex->task_wake(t->ext);
      atomic_fetch_sub_explicit(&t->wakes_inflight, 1, memory_order_release);
      return;
    }
    atomic_fetch_sub_explicit(&t->wakes_inflight, 1, memory_order_release);
  }
}

exco_waker *exco_waker_current(void) {
  exco_task *t = exco__current();

  if (t == NULL)
    return NULL;
  exco__task_ref(t);
  return (exco_waker *)t;
}

exco_waker *exco_waker_clone(exco_waker *w) {
  if (w != NULL)
    exco__task_ref((exco_task *)w);
  return w;
}

void exco_waker_wake(exco_waker *w) {
  if (w != NULL)
    exco__task_wake((exco_task *)w);
}

void exco_waker_drop(exco_waker *w) {
  if (w != NULL)
    exco__task_unref((exco_task *)w);
}

/* ---------------------------------------------------------------------- */
/* Poll and drop                                                           */
/* ---------------------------------------------------------------------- */

/* The out-of-line parts of a resume (resume.h). */
void exco__task_host_calls(exco_task *t) {
  void (*fn)(void *);

  exco__inplace *in = exco__tls_inplace;
  exco_task *cur = NULL;

  /* The resumes here come back to this loop only: no yield may switch
   * away directly, nor yield in place (see exco__inplace). */
  if (in != NULL) {
    cur = in->cur;
    in->cur = NULL;
  }
  while ((fn = t->host_fn) != NULL) {
    t->host_fn = NULL;
    fn(t->host_arg);
    t->host_errno = errno;
    exco__switch_in(t);
  }
  if (in != NULL)
    in->cur = cur;
}

int exco__task_first_resume(exco_task *t) {
  t->started = 1;
  exco__switch_fiber_new(t);
  if (exco__ctx_make(&t->ctx, t->stack->lo, t->stack->size - t->stack->color,
                     exco__entry, t) != 0) {
    /* Only the ucontext backend can fail here, and then the task can't
     * ever run: it ends as if cancelled before it started. */
    atomic_fetch_or_explicit(&t->flags, EXCO__CANCEL, memory_order_relaxed);
    t->u.result = NULL;
    t->finished = 1;
    return -1;
  }
  return 0;
}

/*
 * The function has returned (or will never run): publish DONE (with
 * @also: EXCO__DROPPED for a queue that drops the task next), wake the
 * joiners, and let go of the stack.  Runs on the poller's side.
 */
void exco__task_finish(exco_task *t, unsigned also) {
  if (t->started)
    exco__switch_fiber_free(t);
  else
    t->u.result = NULL; /* never ran: no function pointer as a result */
  /* Joiners link themselves, then look for DONE; we set DONE, then look
   * for joiners (exco__waitq_broadcast()).  Both sides sequentially
   * consistent: at least one of them sees the other's write. */
  t->was_cancelled = exco__task_cancelled(t);
  atomic_fetch_or_explicit(&t->state, EXCO__DONE | also, memory_order_seq_cst);
  exco__waitq_broadcast(&t->joiners, NULL);
  if (atomic_load_explicit(&t->holds, memory_order_acquire) > 1)
    exco__switch_stack_lent(t);
  exco__task_unhold_inline(t);
}

/*
 * A poll on the wrong thread: nothing runs, and the poll that was owed is
 * handed back to the host.  @s is the state our CAS replaced (it cleared
 * NOTIFIED and set RUNNING).  A wake that came since only added NOTIFIED
 * without calling the host (RUNNING): clearing RUNNING and finding
 * NOTIFIED, we call task_wake for it, as a poll's tail does.  Otherwise,
 * if a poll was owed before, the wake our CAS consumed is made again
 * through the ordinary wake path, which copes with whatever happened
 * since the clear (another wake, or another thread's poll already
 * running, which its own tail then reschedules).  tests/model checks it
 * (-DREFUSE).
 */
static int exco__task_poll_refuse(exco_task *t, unsigned s) {
  unsigned now;

  now = atomic_fetch_and_explicit(&t->state, ~(unsigned)EXCO__RUNNING,
                                  memory_order_seq_cst);
  if (now & EXCO__NOTIFIED)
    t->ex->task_wake(t->ext);
  else if (s & EXCO__NOTIFIED)
    exco__task_wake(t);
  return EXCO_EXDEV;
}

int exco__task_suspend_tail(exco_task *t) {
  exco_task_wake_cb wake = t->ex->task_wake;
  void *ext = t->ext;
  unsigned s;

  s = atomic_fetch_and_explicit(&t->state, ~(unsigned)EXCO__RUNNING,
                                memory_order_acq_rel);
  /* From here on the task may be another thread's: touch nothing of it. */
  if (s & EXCO__NOTIFIED)
    wake(ext);
  return 1;
}

static inline int exco__task_poll_inline(exco_task *t, int keep) {
  unsigned s, ns;
  uintptr_t home, self;

  if (exco__tls_current != NULL)
    return EXCO_EBUSY;

  s = atomic_load_explicit(&t->state, memory_order_seq_cst);
  do {
    if (s & EXCO__DROPPED)
      return EXCO_EALREADY;
    if (s & EXCO__DONE)
      return 0;
    if (s & EXCO__RUNNING)
      return EXCO_EBUSY;
    ns = (s & ~(unsigned)EXCO__NOTIFIED) | EXCO__RUNNING;
  } while (!atomic_compare_exchange_weak_explicit(
      &t->state, &s, ns, memory_order_seq_cst, memory_order_seq_cst));

  /* A task stays on its first poller's thread (unless the executor allows
   * migration).  Checked once RUNNING is ours, so that two first polls
   * can't both take the task. */
  home = atomic_load_explicit(&t->home, memory_order_relaxed);
  self = exco__thread_id();
  if (home != self) {
    if (home == 0)
      atomic_store_explicit(&t->home, self, memory_order_relaxed);
    else if (!t->ex->migrate)
      return exco__task_poll_refuse(t, s);
  }
  return exco__task_run_claimed(
      t, keep,
      atomic_load_explicit(&t->ex->watch_ns, memory_order_relaxed) != 0, 0);
}

/* Not polled yet, or polled on this thread. */
static inline int exco__task_at_home(exco_task *t) {
  uintptr_t home = atomic_load_explicit(&t->home, memory_order_relaxed);

  return home == 0 || home == exco__thread_id();
}

/* DROPPED is set: no new host wake can start now; waits out the ones
 * already inside task_wake (a few instructions of the host's code). */
static inline void exco__task_wait_wakes(exco_task *t) {
  while (atomic_load_explicit(&t->wakes_inflight, memory_order_acquire) != 0)
    sched_yield();
}

static inline int exco__task_drop_inline(exco_task *t) {
  exco_task *cur = exco__current();
  unsigned s;

  if (cur == t)
    return EXCO_EBUSY;
  s = atomic_load_explicit(&t->state, memory_order_acquire);
  do {
    if (s & EXCO__DROPPED)
      return EXCO_EALREADY;
    if (s & EXCO__RUNNING)
      return EXCO_EBUSY;
    /* Cancelling a started task resumes it: on its own thread only. */
    if (!(s & EXCO__DONE) && !t->ex->migrate && !exco__task_at_home(t))
      return EXCO_EXDEV;
    /* Cancelling a started task means resuming it; from inside another
     * coroutine that would nest one coroutine in another's poll. */
    if (cur != NULL && t->started && !(s & EXCO__DONE))
      return EXCO_EBUSY;
  } while (!atomic_compare_exchange_weak_explicit(
      &t->state, &s, s | EXCO__DROPPED | EXCO__RUNNING, memory_order_seq_cst,
      memory_order_acquire));
  if (!(s & EXCO__DONE))
    atomic_fetch_or_explicit(&t->flags, EXCO__CANCEL, memory_order_seq_cst);

  exco__task_wait_wakes(t);

  if (!(s & EXCO__DONE)) {
    /* Every await now returns EXCO_ECANCELED without suspending, so one
     * resume normally runs the function to its end.  The loop is for a
     * function that ignores the error and awaits again. */
    while (t->started && !t->finished)
      (void)exco__resume_inline(t, 0);
    t->finished = 1;
    exco__task_finish(t, 0);
  }
  exco__task_release_stake(t);
  exco__task_unref(t);
  return 0;
}

int exco__task_poll(exco_task *t, int keep) {
  return exco__task_poll_inline(t, keep);
}

int exco__task_drop(exco_task *t) {
  return exco__task_drop_inline(t);
}

void exco__task_drop_finished(exco_task *t) {
  unsigned s = atomic_load_explicit(&t->state, memory_order_relaxed);

  if ((s & (EXCO__DONE | EXCO__DROPPED)) != (EXCO__DONE | EXCO__DROPPED)) {
    /* Not from a kept poll's finish (a poll that found DONE already). */
    (void)exco__task_drop_inline(t);
    return;
  }
  exco__task_wait_wakes(t);
  exco__task_release_stake(t);
  exco__task_unref(t);
}

/*
 * The host's entry points.  The shared run queue owns the polls and drops
 * of its tasks: a host (or user) calling these on one of them would race
 * the queue, so they refuse.
 */
int exco_poll(exco_task *t) {
  if (!exco__task_valid(t))
    return EXCO_EINVAL;
  if (t->ex->kind != EXCO__KIND_CALLBACKS)
    return EXCO_EPERM;
  return exco__task_poll_inline(t, 0);
}

int exco_drop(exco_task *t) {
  if (!exco__task_valid(t))
    return EXCO_EINVAL;
  if (t->ex->kind != EXCO__KIND_CALLBACKS)
    return EXCO_EPERM;
  return exco__task_drop_inline(t);
}

/* ---------------------------------------------------------------------- */
/* Cancel and accessors                                                    */
/* ---------------------------------------------------------------------- */

int exco_task_done(exco_task *task) {
  if (!exco__task_valid(task))
    return EXCO_EINVAL;
  return (atomic_load_explicit(&task->state, memory_order_acquire) &
          EXCO__DONE) != 0;
}

int exco_task_cancel(exco_task *task) {
  if (!exco__task_valid(task))
    return EXCO_EINVAL;
  if (atomic_load_explicit(&task->state, memory_order_acquire) & EXCO__DONE)
    return EXCO_EALREADY;
  atomic_fetch_or_explicit(&task->flags, EXCO__CANCEL, memory_order_seq_cst);
  exco__task_wake(task);
  return 0;
}

void exco_task_release(exco_task *task) {
  if (exco__task_valid(task))
    exco__task_unref(task);
}

const char *exco_task_name(exco_task *task) {
  return exco__task_valid(task) ? task->name : NULL;
}
