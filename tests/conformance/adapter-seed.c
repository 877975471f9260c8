/*
 * adapter-seed.c -- the conformance suite on the seed's libuv driver
 * (bench/seed-driver.c: one uv_async_t per task, extern_executor's README
 * design) through exco_uv_seed_executor_new() and uv_run().
 *
 * The seed driver is contract-shaped and its callbacks are static, so the
 * host calls are counted by wrapping them at link time: the program is
 * linked with -Wl,--wrap=exco_executor_new,--wrap=exco_poll,
 * --wrap=exco_drop, which sends seed-driver.o's calls here.  The wrapper
 * of exco_executor_new() puts the counter of count.h around the seed's
 * callbacks while this adapter's make is making an executor (on that
 * thread only); poll and drop are counted for the tasks of any counter
 * and passed through for everything else.
 */
#include <stdio.h>

#include "count.h"
#include "seed-driver.h"
#include "uv-loop.h"

int __real_exco_executor_new(exco_executor **out, exco_task_new_cb task_new,
                             exco_task_run_cb task_run,
                             exco_task_wake_cb task_wake, void *data);
int __real_exco_poll(exco_task *task);
int __real_exco_drop(exco_task *task);
int __wrap_exco_executor_new(exco_executor **out, exco_task_new_cb task_new,
                             exco_task_run_cb task_run,
                             exco_task_wake_cb task_wake, void *data);
int __wrap_exco_poll(exco_task *task);
int __wrap_exco_drop(exco_task *task);

/* Set by seed_make around exco_uv_seed_executor_new() on its thread. */
static _Thread_local int counting;
static _Thread_local cf_counter *made;

int __wrap_exco_executor_new(exco_executor **out, exco_task_new_cb task_new,
                             exco_task_run_cb task_run,
                             exco_task_wake_cb task_wake, void *data) {
  cf_counter *c;
  int err;

  if (!counting)
    return __real_exco_executor_new(out, task_new, task_run, task_wake, data);
  c = cf_counter_new(task_new, task_run, task_wake, data);
  if (c == NULL)
    return EXCO_ENOMEM;
  err = __real_exco_executor_new(out, cf_count_task_new, cf_count_task_run,
                                 cf_count_task_wake, c);
  if (err != 0)
    cf_counter_free(c);
  else
    made = c;
  return err;
}

int __wrap_exco_poll(exco_task *task) {
  return cf_count_poll(__real_exco_poll, task);
}

int __wrap_exco_drop(exco_task *task) {
  return cf_count_drop(__real_exco_drop, task);
}

static int seed_make(cf_rig *r) {
  cf_uv *u;
  int err = cf_uv_init(r, &u);

  if (err != 0)
    return err;
  counting = 1;
  made = NULL;
  err = exco_uv_seed_executor_new(&r->ex, &u->loop);
  counting = 0;
  if (err != 0 || made == NULL) {
    snprintf(r->msg, sizeof(r->msg), "exco_uv_seed_executor_new: %d%s", err,
             made == NULL ? " (the counting wrap did not take)" : "");
    cf_uv_fini(r);
    return err != 0 ? err : CF_ERR_OTHER;
  }
  u->extra = made;
  return 0;
}

static int seed_run(cf_rig *r) {
  return cf_uv_run(r);
}

static int seed_fini(cf_rig *r) {
  cf_uv *u = r->priv;
  cf_counter *c = u->extra;
  int err = 0;

  if (!atomic_load(&r->closed))
    err = exco_uv_seed_executor_free(r->ex);
  if (err != 0) {
    snprintf(r->msg, sizeof(r->msg), "exco_uv_seed_executor_free: %d", err);
    return err;
  }
  err = cf_uv_fini(r);
  cf_counter_free(c);
  return err;
}

static int seed_counts(cf_rig *r, cf_counts *out) {
  cf_uv *u = r->priv;

  cf_counter_get(u->extra, out);
  return 0;
}

const cf_adapter cf_this_adapter = {
    .name = "seed",
    .caps = CF_LOOP_EXIT | CF_COUNTS | CF_UNORDERED_WAKES,
    .make = seed_make,
    .run = seed_run,
    .fini = seed_fini,
    .counts = seed_counts,
};
