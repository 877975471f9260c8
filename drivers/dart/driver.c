/*
 * driver.c -- the Dart host driver (<exco/dart.h>): the contract's three
 * callbacks over a Dart port, the listener's poll and drop, stranded
 * tasks and shutdown, and the seed's process-default trio.
 *
 * Each task has a record (the contract's "extern" handle), whose address
 * is the message posted to the port.  The records of the tasks not yet
 * dropped are linked on their driver's list, under the driver's lock, so
 * that a shutdown can find and drop them all.  A record's state word
 * says whether a message for it is on its way (INFLIGHT) and whether the
 * task has been dropped (DROPPED): a task dropped while its message is on
 * the way keeps its record until the listener has handled that message.
 *
 * Lifetimes.  A record lives from task_new until its drop (or until the
 * message on its way is handled, as above).  The driver's state is
 * reference counted: the executor holds one reference (given back by the
 * close hook) and a running shutdown another, so a shutdown can go on
 * using it after the executor was freed under it by the last drop.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "exco/dart.h"
#include "exco/driver.h"
#include "rust_async_executor.h"

typedef struct exco__dart_driver exco__dart_driver;
typedef struct exco__dart_task exco__dart_task;

/* Bits of a record's state word. */
enum {
  EXCO__DART_INFLIGHT = 1u, /* a message for it was posted, not handled */
  EXCO__DART_DROPPED = 2u   /* exco_drop() returned for its task */
};

struct exco__dart_task {
  exco__dart_task *prev, *next; /* the driver's list, under its lock */
  exco__dart_driver *d;
  exco_task *intern;
  atomic_uint state;
  unsigned char stranded; /* under the lock: its post failed */
  unsigned char linked;   /* under the lock: on the driver's list */
};

struct exco__dart_driver {
  int64_t port;
  exco_dart_post_fn post;             /* one of the two is set */
  bool (*post_void)(int64_t, void *); /* the seed's type */
  atomic_int refs;
  atomic_int shut; /* a shutdown has begun: post nothing */
  pthread_mutex_t lock;
  exco__dart_task tasks; /* the list's sentinel */
  long stranded;
};

/* The layout Dart's VM expects (see <exco/dart.h>, "ABI"), where it can
 * be written down: LP64, where the union is 8-aligned and 40 bytes. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(exco_dart_cobject) == 48,
               "exco_dart_cobject must be Dart_CObject's 48 bytes");
_Static_assert(offsetof(exco_dart_cobject, value.as_int64) == 8,
               "Dart_CObject's value.as_int64 is at offset 8");
#endif

/* ---------------------------------------------------------------------- */
/* The driver's state                                                      */
/* ---------------------------------------------------------------------- */

static exco__dart_driver *
exco__dart_driver_new(int64_t port, exco_dart_post_fn post,
                      bool (*post_void)(int64_t, void *)) {
  exco__dart_driver *d = calloc(1, sizeof(*d));

  if (d == NULL)
    return NULL;
  if (pthread_mutex_init(&d->lock, NULL) != 0) {
    free(d);
    return NULL;
  }
  d->port = port;
  d->post = post;
  d->post_void = post_void;
  atomic_init(&d->refs, 1);
  atomic_init(&d->shut, 0);
  d->tasks.prev = d->tasks.next = &d->tasks;
  return d;
}

static void exco__dart_unref(exco__dart_driver *d) {
  if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1) {
    pthread_mutex_destroy(&d->lock);
    free(d);
  }
}

/* Posts @value as an Int64 message; true if the port took it. */
static bool exco__dart_post(exco__dart_driver *d, int64_t value) {
  exco_dart_cobject msg;

  memset(&msg, 0, sizeof(msg));
  msg.type = EXCO_DART_COBJECT_INT64;
  msg.value.as_int64 = value;
  if (d->post != NULL)
    return d->post(d->port, &msg);
  return d->post_void(d->port, &msg);
}

/* The list, under the lock. */
static void exco__dart_link(exco__dart_driver *d, exco__dart_task *t,
                            int stranded) {
  t->prev = d->tasks.prev;
  t->next = &d->tasks;
  d->tasks.prev->next = t;
  d->tasks.prev = t;
  t->linked = 1;
  t->stranded = (unsigned char)stranded;
  d->stranded += stranded;
}

/* Returns whether @t was stranded, for a link back if its drop fails. */
static int exco__dart_unlink(exco__dart_driver *d, exco__dart_task *t) {
  int stranded = t->stranded;

  t->prev->next = t->next;
  t->next->prev = t->prev;
  t->linked = 0;
  t->stranded = 0;
  d->stranded -= stranded;
  return stranded;
}

/*
 * Posts @t's handle.  If the port refuses it, the task is stranded: it
 * stays linked (a shutdown drops it) and is counted.  Called with the
 * task live and its record linked, or being unlinked by a drop that waits
 * for this wake to end (exco_drop() waits out task_wake): then it is not
 * counted, since the drop takes it.
 */
static void exco__dart_send(exco__dart_task *t, int locked) {
  exco__dart_driver *d = t->d;

  if (!atomic_load_explicit(&d->shut, memory_order_acquire)) {
    /* Before the post: the listener may poll the task at once. */
    atomic_fetch_or_explicit(&t->state, EXCO__DART_INFLIGHT,
                             memory_order_acq_rel);
    if (exco__dart_post(d, (int64_t)(intptr_t)t))
      return;
    atomic_fetch_and_explicit(&t->state, ~(unsigned)EXCO__DART_INFLIGHT,
                              memory_order_acq_rel);
  }
  if (!locked)
    pthread_mutex_lock(&d->lock);
  if (t->linked && !t->stranded) {
    t->stranded = 1;
    d->stranded++;
  }
  if (!locked)
    pthread_mutex_unlock(&d->lock);
}

/* ---------------------------------------------------------------------- */
/* The contract                                                            */
/* ---------------------------------------------------------------------- */

static void *exco__dart_task_new(void *data) {
  exco__dart_task *t = calloc(1, sizeof(*t));

  if (t == NULL)
    return NULL;
  t->d = data;
  atomic_init(&t->state, 0);
  return t;
}

static void exco__dart_task_run(void *ext, exco_task *intern) {
  exco__dart_task *t = ext;
  exco__dart_driver *d = t->d;

  t->intern = intern;
  pthread_mutex_lock(&d->lock);
  if (!atomic_load_explicit(&d->shut, memory_order_relaxed)) {
    /* Linked and posted under the lock, so a shutdown that begins now
     * finds the record whole. */
    exco__dart_link(d, t, 0);
    exco__dart_send(t, 1);
    pthread_mutex_unlock(&d->lock);
    return;
  }
  pthread_mutex_unlock(&d->lock);
  /* A spawn that got past the close of a shutdown executor (or onto the
   * default executor after its shutdown): nobody would ever poll it, so
   * it is dropped before it runs; a join sees EXCO_ECANCELED.  Should the
   * drop be refused, it strands instead (counted, and on the list). */
  if (exco_drop(intern) == 0) {
    free(t);
    return;
  }
  pthread_mutex_lock(&d->lock);
  exco__dart_link(d, t, 1);
  pthread_mutex_unlock(&d->lock);
}

static void exco__dart_task_wake(void *ext) {
  exco__dart_send(ext, 0);
}

/* The executor is freed: tell the listener (message 0), let go. */
static void exco__dart_close(void *data) {
  exco__dart_driver *d = data;

  if (!atomic_load_explicit(&d->shut, memory_order_acquire))
    (void)exco__dart_post(d, 0);
  exco__dart_unref(d);
}

static const exco_driver_ops exco__dart_ops = {
    .version = EXCO_DRIVER_VERSION,
    .name = "dart",
    .task_new = exco__dart_task_new,
    .task_run = exco__dart_task_run,
    .task_wake = exco__dart_task_wake,
    .close = exco__dart_close,
};

/* ---------------------------------------------------------------------- */
/* Executors                                                               */
/* ---------------------------------------------------------------------- */

int exco_dart_executor_new(exco_executor **out, int64_t port,
                           exco_dart_post_fn post) {
  exco__dart_driver *d;
  int err;

  if (out == NULL || post == NULL || port == 0)
    return EXCO_EINVAL;
  d = exco__dart_driver_new(port, post, NULL);
  if (d == NULL)
    return EXCO_ENOMEM;
  err = exco_driver_executor_new(out, &exco__dart_ops, d);
  if (err != 0)
    exco__dart_unref(d);
  else
    /* An isolate hops between the VM's threads: its tasks must too. */
    exco_executor_set_migration(*out, 1);
  return err;
}

static int exco__dart_init(int64_t port, exco_dart_post_fn post,
                           bool (*post_void)(int64_t, void *)) {
  exco__dart_driver *d;
  int err;

  if ((post == NULL && post_void == NULL) || port == 0)
    return EXCO_EINVAL;
  d = exco__dart_driver_new(port, post, post_void);
  if (d == NULL)
    return EXCO_ENOMEM;
  /* A driver this replaces is closed by exco (its close hook). */
  err = exco_driver_init(&exco__dart_ops, d);
  if (err != 0)
    exco__dart_unref(d);
  else
    exco_executor_set_migration(exco_default_executor(), 1);
  return err;
}

int exco_dart_init(int64_t port, exco_dart_post_fn post) {
  return exco__dart_init(port, post, NULL);
}

/* ---------------------------------------------------------------------- */
/* The listener's calls                                                    */
/* ---------------------------------------------------------------------- */

int exco_dart_poll(intptr_t task) {
  exco__dart_task *t = (exco__dart_task *)task;
  unsigned s;

  if (t == NULL)
    return 0;
  s = atomic_fetch_and_explicit(&t->state, ~(unsigned)EXCO__DART_INFLIGHT,
                                memory_order_acq_rel);
  /* Dropped while this message was on its way: over. */
  if (s & EXCO__DART_DROPPED)
    return 0;
  return exco_poll(t->intern);
}

int exco_dart_drop(intptr_t task) {
  exco__dart_task *t = (exco__dart_task *)task;
  exco__dart_driver *d;
  unsigned s;
  int stranded, err;

  if (t == NULL)
    return EXCO_EINVAL;
  if (atomic_load_explicit(&t->state, memory_order_acquire) &
      EXCO__DART_DROPPED) {
    /* The message that was on its way when the task was dropped. */
    free(t);
    return 0;
  }
  /* The task is live, so its executor and driver are. */
  d = t->d;
  pthread_mutex_lock(&d->lock);
  stranded = t->linked ? exco__dart_unlink(d, t) : -1;
  pthread_mutex_unlock(&d->lock);
  err = exco_drop(t->intern);
  if (err != 0) {
    if (stranded >= 0) {
      pthread_mutex_lock(&d->lock);
      exco__dart_link(d, t, stranded);
      pthread_mutex_unlock(&d->lock);
    }
    return err;
  }
  /* No wake can come now, and the executor may be gone: only the record
   * is touched from here on. */
  s = atomic_fetch_or_explicit(&t->state, EXCO__DART_DROPPED,
                               memory_order_acq_rel);
  if (!(s & EXCO__DART_INFLIGHT))
    free(t);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* A closed port, and shutdown                                             */
/* ---------------------------------------------------------------------- */

long exco_dart_executor_stranded(exco_executor *ex) {
  exco__dart_driver *d = exco_driver_data(ex, &exco__dart_ops);
  long n;

  if (d == NULL)
    return EXCO_EINVAL;
  pthread_mutex_lock(&d->lock);
  n = d->stranded;
  pthread_mutex_unlock(&d->lock);
  return n;
}

long exco_dart_executor_shutdown(exco_executor *ex, exco_close_cb cb,
                                 void *arg) {
  exco__dart_driver *d;
  exco__dart_task *t;
  long n = 0;
  int stranded = 0, err = 0;

  if (exco_current() != NULL)
    return EXCO_EBUSY;
  d = exco_driver_data(ex, &exco__dart_ops);
  if (d == NULL)
    return EXCO_EINVAL;
  /* Our own reference: the last drop below may free the executor, whose
   * close hook gives back the executor's. */
  atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
  pthread_mutex_lock(&d->lock);
  atomic_store_explicit(&d->shut, 1, memory_order_release);
  pthread_mutex_unlock(&d->lock);
  /* EXCO_EALREADY: closed before, still closing; its callback stays.
   * EXCO_EINVAL: the default executor, which can't be closed. */
  if (ex != exco_default_executor())
    (void)exco_executor_close(ex, cb, arg);
  for (;;) {
    pthread_mutex_lock(&d->lock);
    t = d->tasks.next != &d->tasks ? d->tasks.next : NULL;
    if (t != NULL)
      stranded = exco__dart_unlink(d, t);
    pthread_mutex_unlock(&d->lock);
    if (t == NULL)
      break;
    err = exco_drop(t->intern);
    if (err != 0) {
      /* Polled right now elsewhere: the caller broke the rules.  Leave
       * it (and the rest) linked, as they were. */
      pthread_mutex_lock(&d->lock);
      exco__dart_link(d, t, stranded);
      pthread_mutex_unlock(&d->lock);
      err = EXCO_EBUSY;
      break;
    }
    /* The port is closed: a message on its way will never be handled. */
    free(t);
    n++;
  }
  exco__dart_unref(d);
  return err != 0 ? err : n;
}

/* ---------------------------------------------------------------------- */
/* The seed's trio                                                         */
/* ---------------------------------------------------------------------- */

void rust_async_executor_dart_init(int64_t port,
                                   bool (*post_cobject)(int64_t, void *)) {
  (void)exco__dart_init(port, NULL, post_cobject);
}

bool rust_async_executor_dart_poll(void *task) {
  return exco_dart_poll((intptr_t)task) != 0;
}

void rust_async_executor_dart_drop(void *task) {
  (void)exco_dart_drop((intptr_t)task);
}
