/*
 * fork.c -- exco across fork(): pthread_atfork() handlers for the
 * process-wide locks and the timer helper thread (see FORK in exco.h).
 *
 * Registered once, when the library is loaded.  The prepare handlers take
 * every process-wide lock of exco, in the order in which code may nest
 * them, so no other thread holds one at the moment of the fork; the parent
 * and the child let them go, and the child also forgets the timer helper
 * thread, which it doesn't have, and the offload pool's workers (a later
 * offload starts new ones, which also run the jobs queued at the fork).
 */
#include "config.h"

#include <pthread.h>

#include "exco-internal.h"

/* The order in which code may nest the locks: rust_async_executor_init()
 * holds the seed's lock while exco_init() takes the default executor's,
 * which is held while the executor list's is taken.  The list of stack
 * pools comes next to last: making an executor takes it under those, and
 * nothing is taken while it is held.  Last, the list of the threads' task
 * caches, taken when a task's last reference goes, under any of them. */
static void exco__fork_prepare(void) {
  exco__seed_fork(EXCO__FORK_PREPARE);
  exco__executor_fork(EXCO__FORK_PREPARE);
  exco__debug_fork(EXCO__FORK_PREPARE);
  exco__overflow_fork(EXCO__FORK_PREPARE);
  exco__timers_fork(EXCO__FORK_PREPARE);
  exco__tls_fork(EXCO__FORK_PREPARE);
  exco__offload_fork(EXCO__FORK_PREPARE);
  exco__stack_fork(1);
  exco__task_fork(EXCO__FORK_PREPARE);
}

static void exco__fork_parent(void) {
  exco__task_fork(EXCO__FORK_PARENT);
  exco__stack_fork(0);
  exco__offload_fork(EXCO__FORK_PARENT);
  exco__tls_fork(EXCO__FORK_PARENT);
  exco__timers_fork(EXCO__FORK_PARENT);
  exco__overflow_fork(EXCO__FORK_PARENT);
  exco__debug_fork(EXCO__FORK_PARENT);
  exco__executor_fork(EXCO__FORK_PARENT);
  exco__seed_fork(EXCO__FORK_PARENT);
}

static void exco__fork_child(void) {
  exco__task_fork(EXCO__FORK_CHILD);
  exco__stack_fork(0);
  exco__offload_fork(EXCO__FORK_CHILD);
  exco__tls_fork(EXCO__FORK_CHILD);
  exco__timers_fork(EXCO__FORK_CHILD);
  exco__overflow_fork(EXCO__FORK_CHILD);
  exco__debug_fork(EXCO__FORK_CHILD);
  exco__executor_fork(EXCO__FORK_CHILD);
  exco__seed_fork(EXCO__FORK_CHILD);
}

__attribute__((constructor)) static void exco__fork_register(void) {
  (void)pthread_atfork(exco__fork_prepare, exco__fork_parent, exco__fork_child);
}
