/*
 * timer.h -- timer queues: one per executor, or the helper thread's one
 * for executors whose driver has no timers of its own (timer.c).
 *
 * A timer is a node on the stack of the coroutine that waits for it
 * (exco_sleep(), an await with a deadline), kept in a pairing heap ordered
 * by due time, then by arming order.  Arming allocates nothing, so a
 * deadline can never fail for want of memory.  Firing removes the node
 * and marks it fired under the queue's lock, then wakes its task (with a
 * reference held, and without the lock); the coroutine disarms its node
 * under the same lock before its frame goes, so the firer never touches a
 * dead frame.
 */
#ifndef EXCO_TIMER_H
#define EXCO_TIMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "exco.h"

typedef struct exco__timer exco__timer;
struct exco__timer {
  exco__timer *child; /* pairing heap: first child */
  exco__timer *next;  /* next sibling */
  exco__timer *prev;  /* previous sibling, or the parent of a first child */
  uint64_t due;       /* nanoseconds of exco_driver_now_ns() */
  uint64_t seq;       /* arming order, for equal due times */
  exco_task *task;    /* woken when due */
  int queued;         /* in the heap (under the queue's lock) */
  atomic_int fired;   /* set when it fired */
};

typedef struct exco__timers {
  pthread_mutex_t lock;
  exco__timer *root;
  uint64_t seq;
  uint64_t armed;    /* the due time the driver was last armed for */
  exco_executor *ex; /* whose driver's timer_arm to call; NULL for the
                         helper thread's queue */
} exco__timers;

/* Sets up or tears down a queue; @ex NULL makes the helper's queue. */
int exco__timers_init(exco__timers *q, exco_executor *ex);
void exco__timers_fini(exco__timers *q);

/* The helper thread's queue (started on first use by an arm). */
exco__timers *exco__timers_helper(void);

/* Arms @tm for @due on @q, to wake @task. */
void exco__timer_arm(exco__timers *q, exco__timer *tm, uint64_t due,
                     exco_task *task);
/* Disarms @tm if it has not fired; returns whether it fired. */
int exco__timer_disarm(exco__timers *q, exco__timer *tm);

/* Fires every due timer of @q and re-arms the driver for the next one. */
void exco__timers_fire(exco__timers *q);
/* The earliest due time of @q, or UINT64_MAX. */
uint64_t exco__timers_next(exco__timers *q);

/* exco_now() in nanoseconds; converts deadlines in ms. */
uint64_t exco__now_ns(void);
/* The same clock, as cheaply as it can be read (a few milliseconds of
 * resolution where the system has a coarse clock): for task ages. */
uint64_t exco__coarse_now_ns(void);
uint64_t exco__ms_to_due(int64_t deadline_ms);

#endif
