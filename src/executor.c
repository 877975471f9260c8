/*
 * executor.c -- executors: host-driven and local ones, and the process
 * default.
 *
 * An executor is the host's three callbacks plus what its tasks share: a
 * stack pool and the count of live tasks.  The process-default executor is
 * a static object, set up on first use as a local executor and switched to
 * a host's callbacks by exco_init() -- the shape of extern_executor's
 * process globals, so a seed-style driver ports line for line.
 */
#include "config.h"

#include "exco-internal.h"

static exco_executor exco__default;
static int exco__default_ready;
static pthread_mutex_t exco__default_lock = PTHREAD_MUTEX_INITIALIZER;

int exco__executor_init(exco_executor *ex, exco_task_new_cb task_new,
                        exco_task_run_cb task_run,
                        exco_task_wake_cb task_wake, void *data) {
  int err = exco__stack_pool_new(&ex->pool);

  if (err != 0)
    return err;
  ex->task_new = task_new;
  ex->task_run = task_run;
  ex->task_wake = task_wake;
  ex->data = data;
  ex->local = NULL;
  ex->is_default = 0;
  atomic_init(&ex->live, 0);
  ex->magic = EXCO__EXEC_MAGIC;
  return 0;
}

void exco__executor_fini(exco_executor *ex) {
  ex->magic = 0;
  if (ex->local != NULL)
    exco__local_free(ex->local);
  ex->local = NULL;
  exco__stack_pool_free(ex->pool);
  ex->pool = NULL;
}

int exco__executor_valid(const exco_executor *ex) {
  return ex != NULL && ex->magic == EXCO__EXEC_MAGIC;
}

void exco__executor_task_gone(exco_executor *ex) {
  atomic_fetch_sub_explicit(&ex->live, 1, memory_order_release);
}

/* Sets up @ex as a local executor: the common parts and its run queue,
 * whose callbacks get the queue as their data.  On failure nothing is
 * left to free. */
static int exco__executor_init_local(exco_executor *ex) {
  struct exco__local *local;
  int err = exco__executor_init(ex, exco__local_task_new,
                                exco__local_task_run, exco__local_task_wake,
                                NULL);

  if (err != 0)
    return err;
  err = exco__local_new(&local);
  if (err != 0) {
    exco__executor_fini(ex);
    return err;
  }
  ex->local = local;
  ex->data = local;
  return 0;
}

/* Sets up the default executor as a local one if nothing has yet.  It can
 * fail only for lack of memory, and is tried again at the next call. */
static int exco__default_setup(void) {
  int err = 0;

  pthread_mutex_lock(&exco__default_lock);
  if (!exco__default_ready) {
    err = exco__executor_init_local(&exco__default);
    if (err == 0) {
      exco__default.is_default = 1;
      exco__default_ready = 1;
    }
  }
  pthread_mutex_unlock(&exco__default_lock);
  return err;
}

exco_executor *exco_default_executor(void) {
  /* On failure the object is returned unset-up (its magic is zero), and
   * whatever is called with it reports EXCO_EINVAL; exco_spawn() with a
   * NULL executor reports EXCO_ENOMEM instead, see below. */
  (void)exco__default_setup();
  return &exco__default;
}

int exco__default_executor_get(exco_executor **out) {
  int err = exco__default_setup();

  *out = &exco__default;
  return err;
}

int exco_init(exco_task_new_cb task_new, exco_task_run_cb task_run,
              exco_task_wake_cb task_wake, void *data) {
  exco_executor *ex;
  int err;

  if (task_new == NULL || task_run == NULL || task_wake == NULL)
    return EXCO_EINVAL;
  err = exco__default_executor_get(&ex);
  if (err != 0)
    return err;
  pthread_mutex_lock(&exco__default_lock);
  if (atomic_load_explicit(&ex->live, memory_order_acquire) != 0) {
    pthread_mutex_unlock(&exco__default_lock);
    return EXCO_EBUSY;
  }
  if (ex->local != NULL)
    exco__local_free(ex->local);
  ex->local = NULL;
  ex->task_new = task_new;
  ex->task_run = task_run;
  ex->task_wake = task_wake;
  ex->data = data;
  pthread_mutex_unlock(&exco__default_lock);
  return 0;
}

int exco_executor_new(exco_executor **out, exco_task_new_cb task_new,
                      exco_task_run_cb task_run, exco_task_wake_cb task_wake,
                      void *data) {
  exco_executor *ex;
  int err;

  if (out == NULL || task_new == NULL || task_run == NULL ||
      task_wake == NULL)
    return EXCO_EINVAL;
  ex = exco__malloc(sizeof(*ex));
  if (ex == NULL)
    return EXCO_ENOMEM;
  err = exco__executor_init(ex, task_new, task_run, task_wake, data);
  if (err != 0) {
    exco__free(ex);
    return err;
  }
  *out = ex;
  return 0;
}

int exco_executor_new_local(exco_executor **out) {
  exco_executor *ex;
  int err;

  if (out == NULL)
    return EXCO_EINVAL;
  ex = exco__malloc(sizeof(*ex));
  if (ex == NULL)
    return EXCO_ENOMEM;
  err = exco__executor_init_local(ex);
  if (err != 0) {
    exco__free(ex);
    return err;
  }
  *out = ex;
  return 0;
}

int exco_executor_free(exco_executor *ex) {
  if (!exco__executor_valid(ex) || ex->is_default)
    return EXCO_EINVAL;
  if (atomic_load_explicit(&ex->live, memory_order_acquire) != 0)
    return EXCO_EBUSY;
  exco__executor_fini(ex);
  exco__free(ex);
  return 0;
}

void *exco_executor_data(exco_executor *ex) {
  if (!exco__executor_valid(ex) || ex->local != NULL)
    return NULL;
  return ex->data;
}

long exco_executor_live(exco_executor *ex) {
  if (!exco__executor_valid(ex))
    return EXCO_EINVAL;
  return atomic_load_explicit(&ex->live, memory_order_acquire);
}
