/*
 * adapter-seed-readme.c -- the conformance suite on extern_executor's
 * README driver as a user copies it (tests/seed/seed-readme-driver.c,
 * built against <rust_async_executor.h>): uv_rust_async_executor_init()
 * hooks the process-default executor to a loop, one uv_async_t per task,
 * and uv_run() is the loop.
 *
 * The driver runs the default executor (CF_DEFAULT_EXECUTOR): one at a
 * time, never closed; each make points it at a fresh loop, which the
 * seed's init allows once no task is live.  Its host calls are counted by
 * wrapping, at link time, the seed functions seed-readme-driver.o calls
 * (-Wl,--wrap= rust_async_executor_init, _poll and _drop): the init's
 * wrapper hands the real init the counter of count.h around the README's
 * callbacks.  A poll's error reads as "pending" in the seed's bool, and a
 * drop returns nothing, so those two are not seen as host errors here.
 */
#include <rust_async_executor.h>

#include "count.h"
#include "seed-readme-driver.h"
#include "uv-loop.h"

void __real_rust_async_executor_init(RustAsyncExecutorTaskNew task_new,
                                     RustAsyncExecutorTaskRun task_run,
                                     RustAsyncExecutorTaskWake task_wake,
                                     RustAsyncExecutorExternData data);
bool __real_rust_async_executor_poll(RustAsyncExecutorInternTask data);
void __real_rust_async_executor_drop(RustAsyncExecutorInternTask data);
void __wrap_rust_async_executor_init(RustAsyncExecutorTaskNew task_new,
                                     RustAsyncExecutorTaskRun task_run,
                                     RustAsyncExecutorTaskWake task_wake,
                                     RustAsyncExecutorExternData data);
bool __wrap_rust_async_executor_poll(RustAsyncExecutorInternTask data);
void __wrap_rust_async_executor_drop(RustAsyncExecutorInternTask data);

/* The README's task_run, called with its own type. */
static RustAsyncExecutorTaskRun readme_run;
/* The counter the last init made (one default executor at a time). */
static cf_counter *counter;

static void run_readme(void *ext, exco_task *intern) {
  readme_run(ext, intern);
}

/* cf_count_task_run with the seed's type for task_run. */
static void count_run(RustAsyncExecutorExternTask ext,
                      RustAsyncExecutorInternTask intern) {
  cf_count_task_run(ext, intern);
}

void __wrap_rust_async_executor_init(RustAsyncExecutorTaskNew task_new,
                                     RustAsyncExecutorTaskRun task_run,
                                     RustAsyncExecutorTaskWake task_wake,
                                     RustAsyncExecutorExternData data) {
  readme_run = task_run;
  counter = cf_counter_new(task_new, run_readme, task_wake, data);
  if (counter == NULL)
    return;
  __real_rust_async_executor_init(cf_count_task_new, count_run,
                                  cf_count_task_wake, counter);
}

static int real_poll(exco_task *t) {
  return __real_rust_async_executor_poll(t) ? 1 : 0;
}

static int real_drop(exco_task *t) {
  __real_rust_async_executor_drop(t);
  return 0;
}

bool __wrap_rust_async_executor_poll(RustAsyncExecutorInternTask data) {
  return cf_count_poll(real_poll, data) != 0;
}

void __wrap_rust_async_executor_drop(RustAsyncExecutorInternTask data) {
  cf_count_drop(real_drop, data);
}

static int readme_make(cf_rig *r) {
  cf_uv *u;
  int err = cf_uv_init(r, &u);

  if (err != 0)
    return err;
  counter = NULL;
  uv_rust_async_executor_init(&u->loop);
  if (counter == NULL) {
    snprintf(r->msg, sizeof(r->msg), "the counting wrap did not take");
    cf_uv_fini(r);
    return CF_ERR_OTHER;
  }
  u->extra = counter;
  r->ex = exco_default_executor();
  return 0;
}

static int readme_run_rig(cf_rig *r) {
  return cf_uv_run(r);
}

static int readme_fini(cf_rig *r) {
  cf_uv *u = r->priv;
  cf_counter *c = u->extra;
  long live = exco_executor_live(r->ex);
  int err;

  /* The default executor stays, with callbacks that name this loop and
   * counter until the next make replaces them: nothing may be live. */
  if (live != 0) {
    snprintf(r->msg, sizeof(r->msg), "%ld tasks live", live);
    return CF_ERR_OTHER;
  }
  err = cf_uv_fini(r);
  cf_counter_free(c);
  if (counter == c)
    counter = NULL;
  return err;
}

static int readme_counts(cf_rig *r, cf_counts *out) {
  cf_uv *u = r->priv;

  cf_counter_get(u->extra, out);
  return 0;
}

const cf_adapter cf_this_adapter = {
    .name = "seed-readme",
    .caps = CF_LOOP_EXIT | CF_COUNTS | CF_UNORDERED_WAKES | CF_DEFAULT_EXECUTOR,
    .make = readme_make,
    .run = readme_run_rig,
    .fini = readme_fini,
    .counts = readme_counts,
};
