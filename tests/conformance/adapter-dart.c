/*
 * adapter-dart.c -- the conformance suite on the Dart driver
 * (<exco/dart.h>: exco_dart_executor_new()) with a stand-in isolate
 * (tests/dart-standin.{c,h}): a port whose own thread, the isolate, runs
 * the listener of drivers/dart/exco.dart (poll each task handle posted,
 * drop it when the poll says 0; the message 0 closes the port).
 *
 * The isolate runs on a thread of its own, concurrently with the test, so
 * between two runs the adapter parks it: a call queued on the port (a
 * gate) blocks the isolate until the next run opens it, and the messages
 * posted meanwhile wait behind it, as they would for a Dart isolate busy
 * elsewhere.  A run opens the gate and waits until the listener, after a
 * message, finds no task live (or the executor closed); then it queues
 * the next gate.  A Dart isolate's loop doesn't end when the tasks do, so
 * there is no CF_LOOP_EXIT; the driver posts to the port, so there are no
 * host calls to wrap and count (the stand-in's own counters are checked
 * for errors in fini).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conformance.h"
#include "dart-standin.h"
#include "harness.h"

typedef struct dart_rig {
  cf_rig *r;
  dart_standin *port;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned long gate_gen;  /* the generation of the last gate queued */
  unsigned long gate_open; /* gates up to this generation are open */
  int done;                /* no task live, or the executor closed */
  int freed;               /* the message 0 came */
} dart_rig;

/* A gate: parks the isolate until its generation is opened. */
typedef struct gate_arg {
  dart_rig *d;
  unsigned long gen;
} gate_arg;

static void gate(void *arg) {
  gate_arg *g = arg;
  dart_rig *d = g->d;

  pthread_mutex_lock(&d->mu);
  while (d->gate_open < g->gen)
    pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
  free(g);
}

/* Queues the next gate. */
static int park(dart_rig *d) {
  gate_arg *g = malloc(sizeof(*g));

  if (g == NULL)
    return EXCO_ENOMEM;
  g->d = d;
  pthread_mutex_lock(&d->mu);
  g->gen = ++d->gate_gen;
  pthread_mutex_unlock(&d->mu);
  if (dart_standin_call(d->port, gate, g) != 0) {
    free(g);
    return EXCO_ENOMEM;
  }
  return 0;
}

/* The listener: exco.dart's, then a look at whether the run is over. */
static void listen(dart_standin *p, int64_t message, void *arg) {
  dart_rig *d = arg;
  int done;

  dart_standin_exco_listen(p, message);
  /* The executor may have been freed inside that drop (a close) or be
   * gone (the message 0): look at it only while neither happened.  It is
   * only ever freed on this thread, or by fini once the runs are over. */
  if (message == 0)
    done = 1;
  else
    done = atomic_load(&d->r->closed) || exco_executor_live(d->r->ex) == 0;
  pthread_mutex_lock(&d->mu);
  if (message == 0)
    d->freed = 1;
  if (done)
    d->done = 1;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

static int dart_make(cf_rig *r) {
  dart_rig *d = calloc(1, sizeof(*d));
  int err;

  if (d == NULL)
    return EXCO_ENOMEM;
  d->r = r;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  if (dart_standin_open(&d->port, listen, d) != 0) {
    snprintf(r->msg, sizeof(r->msg), "dart_standin_open failed");
    free(d);
    return CF_ERR_OTHER;
  }
  r->priv = d;
  err = park(d);
  if (err == 0)
    err = exco_dart_executor_new(&r->ex, dart_standin_port(d->port),
                                 dart_standin_post);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_dart_executor_new: %d", err);
    pthread_mutex_lock(&d->mu);
    d->gate_open = d->gate_gen;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    dart_standin_free(d->port);
    free(d);
    r->priv = NULL;
  }
  return err;
}

/* Messages the isolate has handled so far: the run's measure of
 * progress. */
static unsigned long handled(dart_rig *d) {
  dart_standin_stats st;

  dart_standin_stats_get(d->port, &st);
  return st.handled;
}

static int dart_run(cf_rig *r) {
  dart_rig *d = r->priv;
  struct timespec deadline;
  unsigned long seen;
  int err = 0, w = 0;

  /* The isolate is parked: nothing polls or frees the executor now. */
  if (atomic_load(&r->closed) || exco_executor_live(r->ex) == 0)
    return 0;
  seen = handled(d);
  pthread_mutex_lock(&d->mu);
  d->done = 0;
  d->gate_open = d->gate_gen;
  pthread_cond_broadcast(&d->cv);
  /* A run fails only after a whole window in which the isolate handled
   * no message (a lost wakeup): a slow one (the scale check under
   * ThreadSanitizer on a loaded machine) makes progress and goes on. */
  while (!d->done) {
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)h_wait_timeout();
    w = 0;
    while (!d->done && w == 0)
      w = pthread_cond_timedwait(&d->cv, &d->mu, &deadline);
    if (!d->done) {
      unsigned long now = handled(d);

      if (now == seen)
        break;
      seen = now;
    }
  }
  if (!d->done) {
    snprintf(r->msg, sizeof(r->msg),
             "tasks still live, no message handled in %.0f s",
             h_wait_timeout());
    err = CF_ERR_TIMEOUT;
  }
  pthread_mutex_unlock(&d->mu);
  if (err == 0 && !atomic_load(&r->closed))
    err = park(d);
  return err;
}

static int dart_fini(cf_rig *r) {
  dart_rig *d = r->priv;
  dart_standin_stats st;
  int err = 0;

  /* Unpark the isolate for good, then free the executor from here: it
   * has no task, so nothing on the isolate touches it any more. */
  pthread_mutex_lock(&d->mu);
  d->gate_open = (unsigned long)-1;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  if (!atomic_load(&r->closed))
    err = exco_executor_free(r->ex);
  if (err != 0)
    snprintf(r->msg, sizeof(r->msg), "exco_executor_free: %d", err);
  /* The message 0 comes in either case (the close hook posts it), and
   * the listener closes the port. */
  if (err == 0 && dart_standin_wait_idle(d->port, h_wait_timeout()) != 0) {
    snprintf(r->msg, sizeof(r->msg), "the isolate did not go idle");
    err = CF_ERR_TIMEOUT;
  }
  dart_standin_stats_get(d->port, &st);
  if (err == 0 && (!d->freed || st.gone != 1)) {
    snprintf(r->msg, sizeof(r->msg), "message 0 seen %lu times", st.gone);
    err = CF_ERR_OTHER;
  }
  if (err == 0 && (st.poll_errors != 0 || st.drop_errors != 0 ||
                   st.bad_type != 0 || st.refused != 0 || st.discarded != 0)) {
    snprintf(r->msg, sizeof(r->msg),
             "stand-in: %lu poll errors, %lu drop errors, %lu bad types, "
             "%lu refused, %lu discarded",
             st.poll_errors, st.drop_errors, st.bad_type, st.refused,
             st.discarded);
    err = CF_ERR_OTHER;
  }
  dart_standin_free(d->port);
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
  r->priv = NULL;
  return err;
}

static int dart_on_loop_thread(cf_rig *r) {
  dart_rig *d = r->priv;

  return dart_standin_on_thread(d->port);
}

const cf_adapter cf_this_adapter = {
    .name = "dart",
    .caps = 0,
    .make = dart_make,
    .run = dart_run,
    .fini = dart_fini,
    .on_loop_thread = dart_on_loop_thread,
};
