/*
 * registry.c -- which uv_loop_t an executor runs on.
 *
 * Awaitables find their loop from the running coroutine's executor:
 * exco_executor_data(exco_current_executor()) gives the executor's user
 * data, and this registry maps that pointer to a loop.  It is keyed by the
 * data pointer, compared and never dereferenced, so executors of other
 * drivers (whose data may be anything, or NULL) are simply not found, and
 * a seed-style driver whose data is the loop itself can register with
 * exco_uv_attach(loop, loop).
 *
 * Lookups happen at every awaitable call, so each thread keeps its last
 * answer.  A global generation number, bumped by every removal, tells a
 * thread when that answer may be stale (the data pointer could have been
 * freed and reused for another executor).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "uv-internal.h"

typedef struct exco__uv_entry {
  void *data;
  uv_loop_t *loop;
  exco__uv_driver *driver;
} exco__uv_entry;

static pthread_mutex_t exco__uv_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static exco__uv_entry *exco__uv_reg;
static size_t exco__uv_reg_len;
static size_t exco__uv_reg_cap;
/* Starts at 1 so that a thread's zeroed cache never matches. */
static atomic_ulong exco__uv_reg_gen = 1;

static __thread struct {
  void *data;
  uv_loop_t *loop;
  unsigned long gen;
} exco__uv_cache;

/* Index of @data, or -1.  Caller holds the lock. */
static long exco__uv_reg_find(void *data) {
  size_t i;

  for (i = 0; i < exco__uv_reg_len; i++)
    if (exco__uv_reg[i].data == data)
      return (long)i;
  return -1;
}

int exco__uv_registry_add(void *data, uv_loop_t *loop,
                          exco__uv_driver *driver) {
  int err = 0;

  pthread_mutex_lock(&exco__uv_reg_lock);
  if (exco__uv_reg_find(data) >= 0) {
    err = EXCO_EBUSY;
  } else {
    if (exco__uv_reg_len == exco__uv_reg_cap) {
      size_t cap = exco__uv_reg_cap ? exco__uv_reg_cap * 2 : 8;
      exco__uv_entry *n = realloc(exco__uv_reg, cap * sizeof(*n));

      if (n == NULL) {
        err = EXCO_ENOMEM;
        goto out;
      }
      exco__uv_reg = n;
      exco__uv_reg_cap = cap;
    }
    exco__uv_reg[exco__uv_reg_len].data = data;
    exco__uv_reg[exco__uv_reg_len].loop = loop;
    exco__uv_reg[exco__uv_reg_len].driver = driver;
    exco__uv_reg_len++;
  }
out:
  pthread_mutex_unlock(&exco__uv_reg_lock);
  return err;
}

int exco__uv_registry_remove(void *data, exco__uv_driver *driver) {
  long i;
  int err = EXCO_EINVAL;

  pthread_mutex_lock(&exco__uv_reg_lock);
  i = exco__uv_reg_find(data);
  if (i >= 0 && exco__uv_reg[i].driver == driver) {
    exco__uv_reg[i] = exco__uv_reg[exco__uv_reg_len - 1];
    exco__uv_reg_len--;
    if (exco__uv_reg_len == 0) {
      /* Don't keep the array past the last user (valgrind's leak check
       * at exit would see it as still reachable, which is fine, but an
       * empty registry owning nothing is simpler to reason about). */
      free(exco__uv_reg);
      exco__uv_reg = NULL;
      exco__uv_reg_cap = 0;
    }
    atomic_fetch_add_explicit(&exco__uv_reg_gen, 1, memory_order_release);
    err = 0;
  }
  pthread_mutex_unlock(&exco__uv_reg_lock);
  return err;
}

uv_loop_t *exco__uv_registry_loop(void *data) {
  unsigned long gen;
  uv_loop_t *loop = NULL;
  long i;

  if (data == NULL)
    return NULL;
  gen = atomic_load_explicit(&exco__uv_reg_gen, memory_order_acquire);
  if (exco__uv_cache.data == data && exco__uv_cache.gen == gen)
    return exco__uv_cache.loop;
  pthread_mutex_lock(&exco__uv_reg_lock);
  gen = atomic_load_explicit(&exco__uv_reg_gen, memory_order_relaxed);
  i = exco__uv_reg_find(data);
  if (i >= 0)
    loop = exco__uv_reg[i].loop;
  pthread_mutex_unlock(&exco__uv_reg_lock);
  if (loop != NULL) {
    exco__uv_cache.data = data;
    exco__uv_cache.loop = loop;
    exco__uv_cache.gen = gen;
  }
  return loop;
}

exco__uv_driver *exco__uv_registry_driver(void *data) {
  exco__uv_driver *d = NULL;
  long i;

  if (data == NULL)
    return NULL;
  pthread_mutex_lock(&exco__uv_reg_lock);
  i = exco__uv_reg_find(data);
  if (i >= 0)
    d = exco__uv_reg[i].driver;
  pthread_mutex_unlock(&exco__uv_reg_lock);
  return d;
}

int exco_uv_attach(void *data, uv_loop_t *loop) {
  if (data == NULL || loop == NULL)
    return EXCO_EINVAL;
  return exco__uv_registry_add(data, loop, NULL);
}

int exco_uv_detach(void *data) {
  if (data == NULL)
    return EXCO_EINVAL;
  return exco__uv_registry_remove(data, NULL);
}

uv_loop_t *exco_uv_executor_loop(exco_executor *ex) {
  return exco__uv_registry_loop(exco_executor_data(ex));
}

uv_loop_t *exco_uv_loop(void) {
  exco_executor *ex = exco_current_executor();

  return ex != NULL ? exco__uv_registry_loop(exco_executor_data(ex)) : NULL;
}
