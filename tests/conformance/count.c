/*
 * count.c -- counts a contract-shaped host's calls (count.h).
 *
 * Each task gets a record (the ext exco sees) that points to the host's
 * own ext.  exco_poll() and exco_drop() name the task by its intern
 * handle, so a process-wide table maps intern handles to records from
 * task_run until the drop.  Records stay allocated until the counter is
 * freed, so a task_wake after the drop is counted instead of crashing
 * (and is not passed on to the host, whose ext may be gone).  One lock
 * guards everything: simple, and the tests care about exactness here,
 * not speed.
 */
#include "count.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct cf_rec cf_rec;

struct cf_rec {
  cf_counter *c;
  void *inner;       /* the host's ext */
  exco_task *intern; /* from task_run */
  cf_rec *all_next;  /* the counter's records */
  cf_rec *map_next;  /* hash chain */
  int runs;          /* task_run calls */
  int mapped;        /* in the table */
  int dropped;       /* exco_drop() returned 0 */
  unsigned long wakes_since_poll;
};

struct cf_counter {
  exco_task_new_cb task_new;
  exco_task_run_cb task_run;
  exco_task_wake_cb task_wake;
  void *data;
  cf_rec *all;
  cf_counts n;
};

enum { MAP_SIZE = 4096 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cf_rec *map[MAP_SIZE];

static size_t slot(const exco_task *t) {
  uintptr_t v = (uintptr_t)t;

  return (size_t)((v >> 4) ^ (v >> 16)) % MAP_SIZE;
}

/* Called with the lock held. */
static cf_rec *find(const exco_task *t) {
  cf_rec *r;

  for (r = map[slot(t)]; r != NULL; r = r->map_next)
    if (r->intern == t)
      return r;
  return NULL;
}

/* Called with the lock held. */
static void unmap(cf_rec *r) {
  cf_rec **pp;

  if (!r->mapped)
    return;
  for (pp = &map[slot(r->intern)]; *pp != NULL; pp = &(*pp)->map_next) {
    if (*pp == r) {
      *pp = r->map_next;
      break;
    }
  }
  r->mapped = 0;
}

cf_counter *cf_counter_new(exco_task_new_cb task_new, exco_task_run_cb task_run,
                           exco_task_wake_cb task_wake, void *data) {
  cf_counter *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return NULL;
  c->task_new = task_new;
  c->task_run = task_run;
  c->task_wake = task_wake;
  c->data = data;
  return c;
}

void cf_counter_free(cf_counter *c) {
  cf_rec *r, *next;

  if (c == NULL)
    return;
  pthread_mutex_lock(&lock);
  for (r = c->all; r != NULL; r = next) {
    next = r->all_next;
    unmap(r);
    free(r);
  }
  pthread_mutex_unlock(&lock);
  free(c);
}

void cf_counter_get(cf_counter *c, cf_counts *out) {
  pthread_mutex_lock(&lock);
  *out = c->n;
  pthread_mutex_unlock(&lock);
}

void *cf_count_task_new(void *counter) {
  cf_counter *c = counter;
  cf_rec *r = calloc(1, sizeof(*r));
  void *inner;

  pthread_mutex_lock(&lock);
  c->n.task_new++;
  pthread_mutex_unlock(&lock);
  if (r == NULL)
    return NULL;
  inner = c->task_new(c->data);
  if (inner == NULL) {
    free(r);
    return NULL;
  }
  r->c = c;
  r->inner = inner;
  pthread_mutex_lock(&lock);
  r->all_next = c->all;
  c->all = r;
  pthread_mutex_unlock(&lock);
  return r;
}

void cf_count_task_run(void *ext, exco_task *intern) {
  cf_rec *r = ext;
  cf_counter *c = r->c;

  pthread_mutex_lock(&lock);
  c->n.task_run++;
  if (r->runs++ != 0) {
    c->n.v_run_twice++;
  } else {
    r->intern = intern;
    r->map_next = map[slot(intern)];
    map[slot(intern)] = r;
    r->mapped = 1;
  }
  /* task_run counts as the first wake: a task_wake before the first
   * poll would be a second one. */
  r->wakes_since_poll = 1;
  pthread_mutex_unlock(&lock);
  c->task_run(r->inner, intern);
}

void cf_count_task_wake(void *ext) {
  cf_rec *r = ext;
  cf_counter *c = r->c;
  int forward = 1;

  pthread_mutex_lock(&lock);
  c->n.task_wake++;
  if (r->runs == 0)
    c->n.v_wake_unknown++;
  if (r->dropped) {
    c->n.v_wake_dropped++;
    forward = 0;
  } else if (++r->wakes_since_poll > 1) {
    c->n.v_wake_extra++;
  }
  pthread_mutex_unlock(&lock);
  if (forward)
    c->task_wake(r->inner);
}

int cf_count_poll(int (*real)(exco_task *), exco_task *t) {
  cf_rec *r;
  int ret;

  pthread_mutex_lock(&lock);
  r = find(t);
  if (r != NULL) {
    r->c->n.polls++;
    r->wakes_since_poll = 0;
  }
  pthread_mutex_unlock(&lock);
  ret = real(t);
  if (r != NULL && ret < 0) {
    pthread_mutex_lock(&lock);
    r->c->n.v_host_error++;
    pthread_mutex_unlock(&lock);
  }
  return ret;
}

int cf_count_drop(int (*real)(exco_task *), exco_task *t) {
  cf_rec *r;
  int ret;

  pthread_mutex_lock(&lock);
  r = find(t);
  pthread_mutex_unlock(&lock);
  ret = real(t);
  if (r != NULL) {
    pthread_mutex_lock(&lock);
    if (ret == 0) {
      r->c->n.drops++;
      r->dropped = 1;
      unmap(r);
    } else {
      r->c->n.v_host_error++;
    }
    pthread_mutex_unlock(&lock);
  }
  return ret;
}
