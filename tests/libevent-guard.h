/*
 * libevent-guard.h -- a guard for event_base_dispatch() in the libevent
 * driver's tests and conformance adapter: a thread that breaks the loop
 * (event_base_loopbreak(), safe from another thread on a base made after
 * evthread_use_pthreads()) if it is still running after a time limit.
 *
 * A libevent timer can't be the guard: an added event keeps the base's
 * loop running, and the point of these runs is that the loop returns by
 * itself.  The guard thread waits on a condition variable with a timeout;
 * stopping it signals the variable, so it costs nothing when the run ends
 * in time.  Header only (static inline), no Check assertions: the
 * conformance adapter uses it too.
 */
#ifndef EXCO_TESTS_LIBEVENT_GUARD_H
#define EXCO_TESTS_LIBEVENT_GUARD_H

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <event2/event.h>

typedef struct lg_guard {
  struct event_base *base;
  double seconds;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC */
  int stop;            /* set by lg_stop() */
  int fired;           /* the guard broke the loop */
} lg_guard;

static inline void *lg_main(void *arg) {
  lg_guard *g = arg;
  struct timespec until;
  double whole;

  clock_gettime(CLOCK_MONOTONIC, &until);
  whole = (double)(long)g->seconds;
  until.tv_sec += (time_t)whole;
  until.tv_nsec += (long)((g->seconds - whole) * 1e9);
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&g->lock);
  while (!g->stop) {
    if (pthread_cond_timedwait(&g->cond, &g->lock, &until) == ETIMEDOUT) {
      if (!g->stop) {
        g->fired = 1;
        event_base_loopbreak(g->base);
      }
      break;
    }
  }
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

/* Starts a guard of @p seconds on @p base; 0 or an errno value. */
static inline int lg_start(lg_guard *g, struct event_base *base,
                           double seconds) {
  pthread_condattr_t ca;
  int err;

  g->base = base;
  g->seconds = seconds;
  g->stop = 0;
  g->fired = 0;
  pthread_mutex_init(&g->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->cond, &ca);
  pthread_condattr_destroy(&ca);
  err = pthread_create(&g->thread, NULL, lg_main, g);
  if (err != 0) {
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
  }
  return err;
}

/* Stops the guard; returns 1 if it broke the loop, else 0. */
static inline int lg_stop(lg_guard *g) {
  pthread_mutex_lock(&g->lock);
  g->stop = 1;
  pthread_cond_signal(&g->cond);
  pthread_mutex_unlock(&g->lock);
  pthread_join(g->thread, NULL);
  pthread_cond_destroy(&g->cond);
  pthread_mutex_destroy(&g->lock);
  return g->fired;
}

#endif
