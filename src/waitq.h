/*
 * waitq.h -- a wait queue: coroutines waiting for something that another
 * party signals, from any thread (waitq.c).
 *
 * It is the one mechanism behind join, promises and the synchronisation
 * primitives: a waiter is a node on the waiting coroutine's stack, linked
 * under the queue's lock; a signaller unlinks waiters under the same lock,
 * marks them signalled and wakes their tasks before it lets go of the
 * lock.  The waiting side checks "signalled, or the condition holds"
 * under that lock too, so a signal can't fall between its check and its
 * sleep, and it unlinks itself under the lock when it gives up
 * (cancellation, deadline), so a signaller never touches a dead frame.
 * The object's own state lives under the queue's lock as well.
 */
#ifndef EXCO_WAITQ_H
#define EXCO_WAITQ_H

#include <stdatomic.h>

#include "exco.h"
#include "queue.h"

typedef struct exco__waiter {
  exco__list link; /* in the queue while waiting */
  exco_task *task; /* the waiting task (its waker) */
  int signalled;   /* set by a signal, under the lock */
  void *value;     /* what the signaller hands over, if anything */
} exco__waiter;

typedef struct exco__waitq {
  exco__list waiters; /* FIFO */
  atomic_int count;   /* linked waiters; read without the lock */
  atomic_flag lock;
  unsigned char lockfree; /* exco__waitq_broadcast() is used on it */
} exco__waitq;

/* @lockfree: the queue is signalled with exco__waitq_broadcast(), without
 * the lock, so waiters must check their condition again once linked. */
void exco__waitq_init(exco__waitq *q, int lockfree);
void exco__waitq_lock(exco__waitq *q);
void exco__waitq_unlock(exco__waitq *q);

/* exco__waitq_wait()'s future, for exco_await(). */
typedef struct exco__waitq_wait_arg {
  exco__waitq *q;
  exco__waiter *w;
  int (*ready)(void *arg);
  void *arg;
} exco__waitq_wait_arg;
int exco__waitq_poll(void *arg, exco_waker *waker);
void exco__waitq_cancel(void *arg);

/*
 * Waits on @q until a signal or until @ready(@arg) returns nonzero; both
 * checked under the lock, which the caller does not hold.  @ready may be
 * NULL (only a signal ends the wait).  Returns 0 with *@w filled in
 * (w->signalled says which), or exco_await()'s EXCO_ECANCELED /
 * EXCO_ETIMEDOUT with @w unlinked (w->signalled may still be set, if a
 * signal raced the cancellation: the caller decides whether to pass it on).
 * Inline, so that the await is called straight from the primitive: each
 * frame between a coroutine's switch and its caller is a return that
 * mispredicts after the switch (measured: 3-4 ns of a promise hop).
 */
static inline int exco__waitq_wait(exco__waitq *q, exco__waiter *w,
                                   int (*ready)(void *arg), void *arg) {
  exco__waitq_wait_arg a = {q, w, ready, arg};
  int err;

  exco__list_init(&w->link);
  w->task = NULL;
  w->signalled = 0;
  w->value = NULL;
  err = exco_await(exco__waitq_poll, exco__waitq_cancel, &a);
  if (err != 0) {
    /* exco_await() fails before the first poll only if the task was
     * cancelled already; the waiter is unlinked either way. */
    exco__waitq_cancel(&a);
  }
  return err;
}

/* With the lock held: wakes the first waiter with @value; 0 if none. */
int exco__waitq_signal_locked(exco__waitq *q, void *value);
/* With the lock held: wakes every waiter with @value; returns how many. */
long exco__waitq_broadcast_locked(exco__waitq *q, void *value);
/* Without the lock: wakes every waiter if any may be linked.  The queue
 * must have been set up @lockfree, and the condition made true, and read
 * by the waiters' ready function, with sequentially consistent operations
 * (waitq.c says why). */
void exco__waitq_broadcast(exco__waitq *q, void *value);

/* Linked waiters (may be stale unless the lock is held). */
static inline int exco__waitq_count(exco__waitq *q) {
  return atomic_load_explicit(&q->count, memory_order_seq_cst);
}

#endif
