/*
 * seed.c -- the C interface of the Rust crate extern_executor
 * (<rust_async_executor.h>) on exco's default executor: a driver written
 * for the seed compiles and runs unchanged.
 *
 * The seed's task_new and task_wake have exactly exco's types (void *
 * everywhere) and are given to exco_init() as they are.  Its task_run
 * takes the intern handle as void * where exco's takes exco_task *, and a
 * call through a pointer of another function type is undefined, so exco
 * gets a trampoline of its own type that calls the seed's task_run, kept
 * here.  The default executor is process-global, as the seed's callbacks
 * are, so static storage is right for it.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>

#include "exco-internal.h"
#include "exco.h"
#include "rust_async_executor.h"

/* The seed's task_run of the default executor, read by the trampoline on
 * whatever thread spawns. */
static _Atomic(RustAsyncExecutorTaskRun) exco__seed_task_run;

/* Serialises rust_async_executor_init() calls: each stores task_run, and
 * puts the old one back if exco_init() refuses the new set-up. */
static pthread_mutex_t exco__seed_lock = PTHREAD_MUTEX_INITIALIZER;

void exco__seed_fork(int phase) {
  if (phase == EXCO__FORK_PREPARE)
    pthread_mutex_lock(&exco__seed_lock);
  else
    pthread_mutex_unlock(&exco__seed_lock);
}

static void exco__seed_run(void *ext, exco_task *intern) {
  RustAsyncExecutorTaskRun run =
      atomic_load_explicit(&exco__seed_task_run, memory_order_acquire);

  run(ext, intern);
}

void rust_async_executor_init(RustAsyncExecutorTaskNew task_new,
                              RustAsyncExecutorTaskRun task_run,
                              RustAsyncExecutorTaskWake task_wake,
                              RustAsyncExecutorExternData data) {
  RustAsyncExecutorTaskRun prev;

  /* exco_init() would refuse these too, but it can't see task_run. */
  if (task_new == NULL || task_run == NULL || task_wake == NULL)
    return;
  pthread_mutex_lock(&exco__seed_lock);
  prev = atomic_exchange_explicit(&exco__seed_task_run, task_run,
                                  memory_order_acq_rel);
  if (exco_init(task_new, exco__seed_run, task_wake, data) != 0)
    atomic_store_explicit(&exco__seed_task_run, prev, memory_order_release);
  pthread_mutex_unlock(&exco__seed_lock);
}

bool rust_async_executor_poll(RustAsyncExecutorInternTask data) {
  /* 1 is pending, 0 finished; errors read as pending (exco.h). */
  return exco_poll(data) != 0;
}

void rust_async_executor_drop(RustAsyncExecutorInternTask data) {
  (void)exco_drop(data);
}
