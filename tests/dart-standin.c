/*
 * dart-standin.c -- a stand-in for a Dart isolate's ReceivePort (see
 * dart-standin.h): a registry of ports, each a queue with a thread.
 *
 * One lock guards the registry and every port's queue and counters: the
 * tests need correctness, not throughput.  Handlers and calls run without
 * it, so they may post (exco's poll tail posts the task's next wake) and
 * call into exco freely.
 */
#include "dart-standin.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct ds_node {
  struct ds_node *next;
  int is_call;
  int64_t message;
  void (*fn)(void *arg);
  void *arg;
} ds_node;

struct dart_standin {
  dart_standin *next; /* the registry */
  int64_t port;
  dart_standin_handler handler;
  void *arg;
  pthread_t thread;
  pthread_cond_t cv;      /* work queued, or stop */
  pthread_cond_t idle_cv; /* queue empty and nothing running, or a call
                             done */
  ds_node *head, *tail;
  int running; /* a handler or call runs */
  int closed;
  int stopping;
  dart_standin_stats st;
};

static pthread_mutex_t ds_lock = PTHREAD_MUTEX_INITIALIZER;
static dart_standin *ds_ports;
/* Port numbers: never 0 (ILLEGAL_PORT), never reused. */
static int64_t ds_next_port = 0x5eed0001;

static dart_standin *ds_find(int64_t port) {
  dart_standin *p;

  for (p = ds_ports; p != NULL; p = p->next)
    if (p->port == port)
      return p;
  return NULL;
}

static void ds_push(dart_standin *p, ds_node *n) {
  n->next = NULL;
  if (p->tail != NULL)
    p->tail->next = n;
  else
    p->head = n;
  p->tail = n;
  pthread_cond_signal(&p->cv);
}

/* Under the lock: drops the queued messages (calls stay). */
static void ds_discard(dart_standin *p) {
  ds_node **pp = &p->head, *n;

  p->tail = NULL;
  while ((n = *pp) != NULL) {
    if (!n->is_call) {
      *pp = n->next;
      free(n);
      p->st.discarded++;
    } else {
      p->tail = n;
      pp = &n->next;
    }
  }
  if (p->head == NULL && !p->running)
    pthread_cond_broadcast(&p->idle_cv);
}

static void *ds_thread(void *arg) {
  dart_standin *p = arg;
  ds_node *n;

  pthread_mutex_lock(&ds_lock);
  for (;;) {
    while (p->head == NULL && !p->stopping)
      pthread_cond_wait(&p->cv, &ds_lock);
    if (p->head == NULL)
      break;
    n = p->head;
    p->head = n->next;
    if (p->head == NULL)
      p->tail = NULL;
    p->running = 1;
    if (n->is_call)
      p->st.calls++;
    else
      p->st.handled++;
    pthread_mutex_unlock(&ds_lock);
    if (n->is_call)
      n->fn(n->arg);
    else if (p->handler != NULL)
      p->handler(p, n->message, p->arg);
    else
      dart_standin_exco_listen(p, n->message);
    free(n);
    pthread_mutex_lock(&ds_lock);
    p->running = 0;
    pthread_cond_broadcast(&p->idle_cv);
  }
  pthread_mutex_unlock(&ds_lock);
  return NULL;
}

int dart_standin_open(dart_standin **out, dart_standin_handler handler,
                      void *arg) {
  dart_standin *p = calloc(1, sizeof(*p));

  if (p == NULL)
    return -1;
  p->handler = handler;
  p->arg = arg;
  pthread_cond_init(&p->cv, NULL);
  pthread_cond_init(&p->idle_cv, NULL);
  pthread_mutex_lock(&ds_lock);
  p->port = ds_next_port++;
  p->next = ds_ports;
  ds_ports = p;
  pthread_mutex_unlock(&ds_lock);
  if (pthread_create(&p->thread, NULL, ds_thread, p) != 0) {
    pthread_mutex_lock(&ds_lock);
    ds_ports = p->next;
    pthread_mutex_unlock(&ds_lock);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->idle_cv);
    free(p);
    return -1;
  }
  *out = p;
  return 0;
}

int64_t dart_standin_port(const dart_standin *p) {
  return p->port;
}

bool dart_standin_post(int64_t port, exco_dart_cobject *message) {
  dart_standin *p;
  ds_node *n = malloc(sizeof(*n));
  bool ok = false;

  pthread_mutex_lock(&ds_lock);
  p = ds_find(port);
  if (p == NULL || n == NULL) {
    /* No such port: Dart refuses it too. */
  } else if (message == NULL || message->type != EXCO_DART_COBJECT_INT64) {
    p->st.bad_type++;
  } else if (p->closed) {
    p->st.refused++;
  } else {
    /* Copied, as Dart_PostCObject does. */
    n->is_call = 0;
    n->message = message->value.as_int64;
    ds_push(p, n);
    p->st.posted++;
    n = NULL;
    ok = true;
  }
  pthread_mutex_unlock(&ds_lock);
  free(n);
  return ok;
}

bool dart_standin_post_void(int64_t port, void *message) {
  return dart_standin_post(port, message);
}

int dart_standin_call(dart_standin *p, void (*fn)(void *arg), void *arg) {
  ds_node *n = malloc(sizeof(*n));

  if (n == NULL)
    return -1;
  n->is_call = 1;
  n->fn = fn;
  n->arg = arg;
  pthread_mutex_lock(&ds_lock);
  ds_push(p, n);
  pthread_mutex_unlock(&ds_lock);
  return 0;
}

static void ds_deadline(struct timespec *ts, double timeout) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += (time_t)timeout;
  ts->tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

typedef struct ds_waited {
  void (*fn)(void *arg);
  void *arg;
  int done; /* under ds_lock */
  dart_standin *p;
} ds_waited;

static void ds_waited_run(void *arg) {
  ds_waited *w = arg;

  w->fn(w->arg);
  pthread_mutex_lock(&ds_lock);
  w->done = 1;
  pthread_cond_broadcast(&w->p->idle_cv);
  pthread_mutex_unlock(&ds_lock);
}

int dart_standin_call_wait(dart_standin *p, void (*fn)(void *arg), void *arg,
                           double timeout) {
  /* On the heap: a call that times out still runs later. */
  ds_waited *w = calloc(1, sizeof(*w));
  struct timespec ts;
  int err = 0, done;

  if (w == NULL)
    return -1;
  w->fn = fn;
  w->arg = arg;
  w->p = p;
  if (dart_standin_call(p, ds_waited_run, w) != 0) {
    free(w);
    return -1;
  }
  ds_deadline(&ts, timeout);
  pthread_mutex_lock(&ds_lock);
  while (!w->done && err != ETIMEDOUT)
    err = pthread_cond_timedwait(&p->idle_cv, &ds_lock, &ts);
  done = w->done;
  pthread_mutex_unlock(&ds_lock);
  if (!done)
    return -1; /* w leaks: the call may still run and write it */
  free(w);
  return 0;
}

void dart_standin_exco_listen(dart_standin *p, int64_t message) {
  int r, d = 0, dropped = 0;

  if (message == 0) {
    pthread_mutex_lock(&ds_lock);
    p->st.gone++;
    pthread_mutex_unlock(&ds_lock);
    dart_standin_close(p);
    return;
  }
  r = exco_dart_poll((intptr_t)message);
  if (r == 0) {
    d = exco_dart_drop((intptr_t)message);
    dropped = 1;
  }
  pthread_mutex_lock(&ds_lock);
  p->st.polls++;
  if (r > 0)
    p->st.pending++;
  else if (r == 0)
    p->st.finished++;
  else
    p->st.poll_errors++;
  if (dropped && d == 0)
    p->st.drops++;
  else if (dropped)
    p->st.drop_errors++;
  pthread_mutex_unlock(&ds_lock);
}

int dart_standin_on_thread(dart_standin *p) {
  return pthread_equal(pthread_self(), p->thread);
}

void dart_standin_close(dart_standin *p) {
  int self = dart_standin_on_thread(p);

  pthread_mutex_lock(&ds_lock);
  p->closed = 1;
  ds_discard(p);
  /* A handler that runs now is the listener's last. */
  while (!self && p->running)
    pthread_cond_wait(&p->idle_cv, &ds_lock);
  pthread_mutex_unlock(&ds_lock);
}

int dart_standin_closed(dart_standin *p) {
  int c;

  pthread_mutex_lock(&ds_lock);
  c = p->closed;
  pthread_mutex_unlock(&ds_lock);
  return c;
}

int dart_standin_wait_idle(dart_standin *p, double timeout) {
  struct timespec ts;
  int err = 0, idle;

  ds_deadline(&ts, timeout);
  pthread_mutex_lock(&ds_lock);
  while ((p->head != NULL || p->running) && err != ETIMEDOUT)
    err = pthread_cond_timedwait(&p->idle_cv, &ds_lock, &ts);
  idle = p->head == NULL && !p->running;
  pthread_mutex_unlock(&ds_lock);
  return idle ? 0 : -1;
}

void dart_standin_stats_get(dart_standin *p, dart_standin_stats *out) {
  pthread_mutex_lock(&ds_lock);
  *out = p->st;
  pthread_mutex_unlock(&ds_lock);
}

void dart_standin_free(dart_standin *p) {
  dart_standin **pp;
  ds_node *n;

  if (p == NULL)
    return;
  pthread_mutex_lock(&ds_lock);
  p->closed = 1;
  ds_discard(p);
  p->stopping = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&ds_lock);
  pthread_join(p->thread, NULL);
  pthread_mutex_lock(&ds_lock);
  for (pp = &ds_ports; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  pthread_mutex_unlock(&ds_lock);
  while ((n = p->head) != NULL) {
    p->head = n->next;
    free(n);
  }
  pthread_cond_destroy(&p->cv);
  pthread_cond_destroy(&p->idle_cv);
  free(p);
}
