/*
 * executor.c -- executors: their drivers, their tasks, closing them, and
 * the process default.
 *
 * An executor is its driver (an exco_driver_ops and the driver's data),
 * plus what its tasks share: a stack pool, a timer queue, the list of live
 * tasks and a few attachment slots.  Three kinds of host sit behind the
 * ops: a host of the three callbacks (exco_init(), exco_executor_new()),
 * the built-in local executor (local.c) and drivers on the shared run
 * queue (runq.c).  The process-default executor is a static object, set up
 * on first use as a local executor and switched to a host's driver by
 * exco_init() or exco_driver_init() -- the shape of extern_executor's
 * process globals, so a seed-style driver ports line for line.
 */
#include "config.h"

#include <string.h>

#include "exco-internal.h"

static exco_executor exco__default;
static int exco__default_ready;
static pthread_mutex_t exco__default_lock = PTHREAD_MUTEX_INITIALIZER;

/* fork(): the default executor's set-up lock is consistent in the child. */
void exco__executor_fork(int phase) {
  if (phase == EXCO__FORK_PREPARE)
    pthread_mutex_lock(&exco__default_lock);
  else
    pthread_mutex_unlock(&exco__default_lock);
}

int exco__executor_valid(const exco_executor *ex) {
  return ex != NULL && ex->magic == EXCO__EXEC_MAGIC;
}

/* ---------------------------------------------------------------------- */
/* Drivers                                                                 */
/* ---------------------------------------------------------------------- */

static int exco__ops_kind(const exco_driver_ops *ops) {
  int contract;

  if (ops == NULL || ops->version != EXCO_DRIVER_VERSION)
    return -1;
  contract = (ops->task_new != NULL) + (ops->task_run != NULL) +
             (ops->task_wake != NULL);
  if (contract == 3)
    return EXCO__KIND_CALLBACKS;
  if (contract == 0 && ops->schedule != NULL && ops->notify != NULL)
    return EXCO__KIND_RUNQ;
  return -1;
}

/* Tears down what belongs to the executor's kind of host. */
static void exco__executor_drop_driver(exco_executor *ex) {
  if (ex->local != NULL)
    exco__local_free(ex->local);
  ex->local = NULL;
  if (ex->runq != NULL)
    exco__runq_free(ex->runq);
  ex->runq = NULL;
}

/*
 * Gives @ex the driver @ops with @data (the local executor's when @ops is
 * &exco__local_ops).  On failure @ex keeps no driver.
 */
static int exco__executor_set_driver(exco_executor *ex,
                                     const exco_driver_ops *ops, void *data) {
  int err = 0;

  exco__executor_drop_driver(ex);
  ex->own_timers.armed = UINT64_MAX;
  ex->ops = ops;
  ex->data = data;
  ex->task_new = ops->task_new;
  ex->task_run = ops->task_run;
  ex->task_wake = ops->task_wake;
  ex->cb_data = data;
  if (ops == &exco__local_ops) {
    ex->kind = EXCO__KIND_LOCAL;
    err = exco__local_new(ex, &ex->local);
    ex->data = ex->cb_data = ex->local;
  } else if (ops->task_new == NULL) {
    ex->kind = EXCO__KIND_RUNQ;
    err = exco__runq_new(ex, &ex->runq);
    ex->task_new = NULL;
    ex->task_run = exco__runq_task_run;
    ex->task_wake = exco__runq_task_wake;
    ex->cb_data = ex->runq;
  } else {
    ex->kind = EXCO__KIND_CALLBACKS;
  }
  /* Without timers of its own, the driver's tasks use the helper's. */
  ex->timers = ops->timer_arm != NULL ? &ex->own_timers : exco__timers_helper();
  return err;
}

/* Sets up @ex with the driver @ops; on failure nothing is left to free. */
static int exco__executor_init(exco_executor *ex, const exco_driver_ops *ops,
                               void *data) {
  int err, i;

  memset(ex, 0, sizeof(*ex));
  err = exco__stack_pool_new(&ex->pool);
  if (err != 0)
    return err;
  err = exco__timers_init(&ex->own_timers, ex);
  if (err != 0) {
    exco__stack_pool_free(ex->pool);
    return err;
  }
  atomic_flag_clear(&ex->tasks_lock);
  exco__list_init(&ex->tasks);
  atomic_init(&ex->live, 0);
  for (i = 0; i < EXCO_ATTACH_MAX; i++) {
    atomic_init(&ex->attach[i].key, NULL);
    atomic_init(&ex->attach[i].value, NULL);
  }
  err = exco__executor_set_driver(ex, ops, data);
  if (err != 0) {
    exco__timers_fini(&ex->own_timers);
    exco__stack_pool_free(ex->pool);
    return err;
  }
  ex->magic = EXCO__EXEC_MAGIC;
  exco__registry_add(ex);
  return 0;
}

static int exco__executor_make(exco_executor **out, const exco_driver_ops *ops,
                               void *data) {
  exco_executor *ex = exco__malloc(sizeof(*ex));
  int err;

  if (ex == NULL)
    return EXCO_ENOMEM;
  err = exco__executor_init(ex, ops, data);
  if (err != 0) {
    exco__free(ex);
    return err;
  }
  *out = ex;
  return 0;
}

void exco__executor_destroy(exco_executor *ex) {
  exco_close_cb cb = ex->close_cb;
  void *arg = ex->close_arg;

  exco__registry_remove(ex);
  ex->magic = 0;
  if (ex->ops->close != NULL)
    ex->ops->close(ex->data);
  exco__executor_drop_driver(ex);
  exco__timers_fini(&ex->own_timers);
  exco__stack_pool_free(ex->pool);
  ex->pool = NULL;
  if (!ex->is_default)
    exco__free(ex);
  if (cb != NULL)
    cb(arg);
}

int exco_driver_executor_new(exco_executor **out, const exco_driver_ops *ops,
                             void *data) {
  if (out == NULL || exco__ops_kind(ops) < 0)
    return EXCO_EINVAL;
  return exco__executor_make(out, ops, data);
}

void *exco_driver_data(exco_executor *ex, const exco_driver_ops *ops) {
  if (!exco__executor_valid(ex) || ops == NULL || ex->ops != ops)
    return NULL;
  return ex->data;
}

const char *exco_driver_name(exco_executor *ex) {
  return exco__executor_valid(ex) ? ex->ops->name : NULL;
}

/* ---------------------------------------------------------------------- */
/* The default executor                                                    */
/* ---------------------------------------------------------------------- */

/* Sets up the default executor as a local one if nothing has yet.  It can
 * fail only for lack of memory, and is tried again at the next call. */
static int exco__default_setup(void) {
  int err = 0;

  pthread_mutex_lock(&exco__default_lock);
  if (!exco__default_ready) {
    err = exco__executor_init(&exco__default, &exco__local_ops, NULL);
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

/*
 * Switches the default executor to another driver while it has no task.
 * With @copy the ops are copied into the executor (exco_init()'s, made on
 * the caller's stack).  If the new driver can't be set up, it falls back
 * to a local one.
 */
static int exco__default_redrive(const exco_driver_ops *ops, void *data,
                                 int copy) {
  exco_executor *ex;
  int err;

  err = exco__default_executor_get(&ex);
  if (err != 0)
    return err;
  pthread_mutex_lock(&exco__default_lock);
  if (atomic_load_explicit(&ex->live, memory_order_acquire) != 0) {
    pthread_mutex_unlock(&exco__default_lock);
    return EXCO_EBUSY;
  }
  /* The driver replaced lets go of its state, as when freed. */
  if (ex->ops->close != NULL)
    ex->ops->close(ex->data);
  if (copy) {
    ex->own_ops = *ops;
    ops = &ex->own_ops;
  }
  err = exco__executor_set_driver(ex, ops, data);
  if (err != 0)
    (void)exco__executor_set_driver(ex, &exco__local_ops, NULL);
  pthread_mutex_unlock(&exco__default_lock);
  return err;
}

/* The ops of a host of the three callbacks. */
static exco_driver_ops exco__callbacks_ops(exco_task_new_cb task_new,
                                           exco_task_run_cb task_run,
                                           exco_task_wake_cb task_wake) {
  exco_driver_ops ops = {0};

  ops.version = EXCO_DRIVER_VERSION;
  ops.name = "callbacks";
  ops.task_new = task_new;
  ops.task_run = task_run;
  ops.task_wake = task_wake;
  return ops;
}

int exco_init(exco_task_new_cb task_new, exco_task_run_cb task_run,
              exco_task_wake_cb task_wake, void *data) {
  exco_driver_ops ops;

  if (task_new == NULL || task_run == NULL || task_wake == NULL)
    return EXCO_EINVAL;
  ops = exco__callbacks_ops(task_new, task_run, task_wake);
  return exco__default_redrive(&ops, data, 1);
}

int exco_driver_init(const exco_driver_ops *ops, void *data) {
  if (exco__ops_kind(ops) < 0)
    return EXCO_EINVAL;
  return exco__default_redrive(ops, data, 0);
}

/* ---------------------------------------------------------------------- */
/* Executors from callbacks, local executors, freeing                      */
/* ---------------------------------------------------------------------- */

int exco_executor_new(exco_executor **out, exco_task_new_cb task_new,
                      exco_task_run_cb task_run, exco_task_wake_cb task_wake,
                      void *data) {
  exco_executor *ex;
  exco_driver_ops ops;
  int err;

  if (out == NULL || task_new == NULL || task_run == NULL || task_wake == NULL)
    return EXCO_EINVAL;
  ops = exco__callbacks_ops(task_new, task_run, task_wake);
  err = exco__executor_make(&ex, &ops, data);
  if (err != 0)
    return err;
  /* Point at the executor's own copy, not at this frame's. */
  ex->own_ops = ops;
  ex->ops = &ex->own_ops;
  *out = ex;
  return 0;
}

int exco_executor_new_local(exco_executor **out) {
  if (out == NULL)
    return EXCO_EINVAL;
  return exco__executor_make(out, &exco__local_ops, NULL);
}

/* The live count, read under the task list's lock: a stake dropped on
 * another thread (a stack hold released there) stores the count and then
 * unlocks, so a count of 0 read without the lock could let the executor
 * be freed under that unlock. */
static long exco__executor_live_locked(exco_executor *ex) {
  long n;

  exco__spin_lock(&ex->tasks_lock);
  n = atomic_load_explicit(&ex->live, memory_order_relaxed);
  exco__spin_unlock(&ex->tasks_lock);
  return n;
}

int exco_executor_free(exco_executor *ex) {
  if (!exco__executor_valid(ex) || ex->is_default)
    return EXCO_EINVAL;
  if (exco__executor_live_locked(ex) != 0)
    return EXCO_EBUSY;
  if (ex->closing)
    return EXCO_EALREADY;
  ex->close_cb = NULL;
  exco__executor_destroy(ex);
  return 0;
}

void *exco_executor_data(exco_executor *ex) {
  if (!exco__executor_valid(ex) || ex->kind == EXCO__KIND_LOCAL)
    return NULL;
  return ex->data;
}

long exco_executor_live(exco_executor *ex) {
  if (!exco__executor_valid(ex))
    return EXCO_EINVAL;
  return exco__executor_live_locked(ex);
}

/* ---------------------------------------------------------------------- */
/* The task list, and closing                                              */
/* ---------------------------------------------------------------------- */

/* The closed executor's last stake is gone: free it where its kind of
 * host can take it. */
void exco__executor_closed(exco_executor *ex) {
  switch (ex->kind) {
  case EXCO__KIND_LOCAL:
    exco__local_closed(ex->local);
    break;
  case EXCO__KIND_RUNQ:
    exco__runq_closed(ex->runq);
    break;
  default:
    exco__executor_destroy(ex);
    break;
  }
}

int exco_executor_foreach(exco_executor *ex,
                          int (*fn)(exco_task *task, void *arg), void *arg) {
  exco__list *n;
  int r = 0;

  if (!exco__executor_valid(ex) || fn == NULL)
    return EXCO_EINVAL;
  exco__spin_lock(&ex->tasks_lock);
  for (n = ex->tasks.next; n != &ex->tasks && r == 0; n = n->next)
    r = fn(exco__container_of(n, exco_task, ex_link), arg);
  exco__spin_unlock(&ex->tasks_lock);
  return r;
}

int exco_executor_set_migration(exco_executor *ex, int allow) {
  if (!exco__executor_valid(ex))
    return EXCO_EINVAL;
  if (ex->kind == EXCO__KIND_RUNQ)
    return EXCO_ENOTSUP;
  ex->migrate = allow != 0;
  return 0;
}

static int exco__cancel_one(exco_task *t, void *arg) {
  if (exco_task_cancel(t) == 0)
    ++*(long *)arg;
  return 0;
}

long exco_executor_cancel_all(exco_executor *ex) {
  long count = 0;
  int err = exco_executor_foreach(ex, exco__cancel_one, &count);

  return err < 0 ? err : count;
}

int exco_executor_close(exco_executor *ex, exco_close_cb cb, void *arg) {
  if (!exco__executor_valid(ex) || ex->is_default)
    return EXCO_EINVAL;
  exco__spin_lock(&ex->tasks_lock);
  if (ex->closing) {
    exco__spin_unlock(&ex->tasks_lock);
    return EXCO_EALREADY;
  }
  ex->closing = 1;
  ex->close_cb = cb;
  ex->close_arg = arg;
  /* The close holds a stake of its own while it cancels, so that the
   * last task can't free the executor under it. */
  atomic_store_explicit(
      &ex->live, atomic_load_explicit(&ex->live, memory_order_relaxed) + 1,
      memory_order_relaxed);
  exco__spin_unlock(&ex->tasks_lock);
  if (ex->kind == EXCO__KIND_RUNQ)
    exco__runq_closing(ex->runq);
  (void)exco_executor_cancel_all(ex);
  exco__executor_unstake(ex, NULL);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Attachments                                                             */
/* ---------------------------------------------------------------------- */

int exco_executor_attach(exco_executor *ex, const void *key, void *value) {
  int i, free_slot = -1, err = 0;

  if (!exco__executor_valid(ex) || key == NULL || value == NULL)
    return EXCO_EINVAL;
  exco__spin_lock(&ex->tasks_lock);
  for (i = 0; i < EXCO_ATTACH_MAX; i++) {
    const void *k =
        atomic_load_explicit(&ex->attach[i].key, memory_order_relaxed);
    if (k == key)
      err = EXCO_EBUSY;
    else if (k == NULL && free_slot < 0)
      free_slot = i;
  }
  if (err == 0 && free_slot < 0)
    err = EXCO_ENOMEM;
  if (err == 0) {
    atomic_store_explicit(&ex->attach[free_slot].value, value,
                          memory_order_relaxed);
    atomic_store_explicit(&ex->attach[free_slot].key, key,
                          memory_order_release);
  }
  exco__spin_unlock(&ex->tasks_lock);
  return err;
}

int exco_executor_detach(exco_executor *ex, const void *key) {
  int i, err = EXCO_EINVAL;

  if (!exco__executor_valid(ex) || key == NULL)
    return EXCO_EINVAL;
  exco__spin_lock(&ex->tasks_lock);
  for (i = 0; i < EXCO_ATTACH_MAX; i++) {
    if (atomic_load_explicit(&ex->attach[i].key, memory_order_relaxed) == key) {
      atomic_store_explicit(&ex->attach[i].key, NULL, memory_order_release);
      err = 0;
    }
  }
  exco__spin_unlock(&ex->tasks_lock);
  return err;
}

void *exco_executor_attachment(exco_executor *ex, const void *key) {
  int i;

  if (!exco__executor_valid(ex) || key == NULL)
    return NULL;
  for (i = 0; i < EXCO_ATTACH_MAX; i++)
    if (atomic_load_explicit(&ex->attach[i].key, memory_order_acquire) == key)
      return atomic_load_explicit(&ex->attach[i].value, memory_order_relaxed);
  return NULL;
}
