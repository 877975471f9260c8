/*
 * count.h -- instrumentation for a contract-shaped driver (one that hands
 * exco the three callbacks and polls and drops tasks itself): a counter
 * that wraps the host's task_new, task_run and task_wake, and its
 * exco_poll() and exco_drop() calls, and records what the contract
 * forbids (task_run twice, task_wake after the drop, two wakes between
 * two polls).
 *
 * A driver whose source you control passes cf_count_task_new/run/wake
 * and the counter to exco_executor_new() instead of its own callbacks,
 * and calls cf_count_poll()/cf_count_drop() instead of exco_poll() and
 * exco_drop().  A driver you can't change is wrapped at link time
 * (adapter-seed.c does that with ld's --wrap).
 */
#ifndef EXCO_TESTS_CONFORMANCE_COUNT_H
#define EXCO_TESTS_CONFORMANCE_COUNT_H

#include "conformance.h"

typedef struct cf_counter cf_counter;

/*
 * Makes a counter around the host's callbacks and its data.  Returns NULL
 * if memory ran out.
 */
cf_counter *cf_counter_new(exco_task_new_cb task_new, exco_task_run_cb task_run,
                           exco_task_wake_cb task_wake, void *data);
/* Frees the counter and its per-task records. */
void cf_counter_free(cf_counter *c);
/* The counts so far. */
void cf_counter_get(cf_counter *c, cf_counts *out);

/* The wrapped callbacks; the data of task_new is the counter. */
void *cf_count_task_new(void *counter);
void cf_count_task_run(void *ext, exco_task *intern);
void cf_count_task_wake(void *ext);

/*
 * The host's poll and drop of @t through @real (exco_poll, exco_drop, or
 * the real ones behind a link-time wrap), counted for the counter that
 * made @t's record.  Tasks of no counter are passed through.
 */
int cf_count_poll(int (*real)(exco_task *), exco_task *t);
int cf_count_drop(int (*real)(exco_task *), exco_task *t);

#endif
