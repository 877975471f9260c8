/*
 * waitq.c -- wait queues (see waitq.h): the one waiter list that join,
 * promises and the synchronisation primitives share.
 */
#include "config.h"

#include "exco-internal.h"

void exco__waitq_init(exco__waitq *q, int lockfree) {
  atomic_flag_clear(&q->lock);
  q->lockfree = lockfree != 0;
  exco__list_init(&q->waiters);
  atomic_init(&q->count, 0);
}

void exco__waitq_lock(exco__waitq *q) {
  exco__spin_lock(&q->lock);
}

void exco__waitq_unlock(exco__waitq *q) {
  exco__spin_unlock(&q->lock);
}

/*
 * The count changes only under the lock.  On a queue that is signalled
 * without the lock it is published with a sequentially consistent
 * read-modify-write (see exco__waitq_poll()); elsewhere a plain store is
 * enough, and cheaper (6 ns of a promise's ping-pong hop here).
 */
static void exco__waitq_count_add(exco__waitq *q, int n) {
  if (q->lockfree)
    atomic_fetch_add_explicit(&q->count, n, memory_order_seq_cst);
  else
    atomic_store_explicit(
        &q->count, atomic_load_explicit(&q->count, memory_order_relaxed) + n,
        memory_order_relaxed);
}

static void exco__waitq_unlink_locked(exco__waitq *q, exco__waiter *w) {
  if (!exco__list_empty(&w->link)) {
    exco__list_remove(&w->link);
    exco__waitq_count_add(q, -1);
  }
}

/*
 * The waiter links itself and publishes the count before it checks the
 * condition again; a lock-free signaller (exco__waitq_broadcast()) makes
 * the condition true before it reads the count.  That is the
 * store-buffering shape: with the count's update and the condition's read
 * on one side, and the condition's update and the count's read on the
 * other, all sequentially consistent, one of the two sees the other.
 * Queues signalled only under the lock need neither the second check nor
 * the ordering.
 */
int exco__waitq_poll(void *arg, exco_waker *waker) {
  exco__waitq_wait_arg *a = arg;
  exco__waiter *w = a->w;
  int done;

  exco__waitq_lock(a->q);
  done = w->signalled || (a->ready != NULL && a->ready(a->arg));
  if (!done && exco__list_empty(&w->link)) {
    w->task = (exco_task *)waker;
    exco__list_insert_tail(&a->q->waiters, &w->link);
    exco__waitq_count_add(a->q, 1);
    /* Again, now that a lock-free signaller can see the count. */
    done = a->q->lockfree && a->ready != NULL && a->ready(a->arg);
  }
  if (done)
    exco__waitq_unlink_locked(a->q, w);
  exco__waitq_unlock(a->q);
  return done;
}

void exco__waitq_cancel(void *arg) {
  exco__waitq_wait_arg *a = arg;

  exco__waitq_lock(a->q);
  exco__waitq_unlink_locked(a->q, a->w);
  exco__waitq_unlock(a->q);
}

/* Wakes under the lock: the waiter can't leave (and its frame can't go)
 * before it gets the lock back, and its task can't end before that. */
static void exco__waitq_wake_one(exco__waitq *q, exco__waiter *w, void *value) {
  exco__waitq_unlink_locked(q, w);
  w->signalled = 1;
  w->value = value;
  exco__task_wake(w->task);
}

int exco__waitq_signal_locked(exco__waitq *q, void *value) {
  if (exco__list_empty(&q->waiters))
    return 0;
  exco__waitq_wake_one(
      q, exco__container_of(q->waiters.next, exco__waiter, link), value);
  return 1;
}

long exco__waitq_broadcast_locked(exco__waitq *q, void *value) {
  long n = 0;

  while (exco__waitq_signal_locked(q, value))
    n++;
  return n;
}

void exco__waitq_broadcast(exco__waitq *q, void *value) {
  if (exco__waitq_count(q) == 0)
    return;
  exco__waitq_lock(q);
  exco__waitq_broadcast_locked(q, value);
  exco__waitq_unlock(q);
}
