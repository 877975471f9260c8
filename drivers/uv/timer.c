/*
 * timer.c -- exco_uv_sleep().
 *
 * Each sleep has its own heap timer, closed (and freed by the close
 * callback) whether it fired or the sleep was cancelled.  libuv orders
 * timers by due time, then by start order, so equal sleeps end in the
 * order they began.
 */
#include "config.h"

#include "uv-internal.h"

typedef struct exco__uv_sleep {
  uv_timer_t timer; /* first: the close callback frees the record */
  exco__uv_op op;
} exco__uv_sleep;

static void exco__uv_sleep_cb(uv_timer_t *timer) {
  exco__uv_sleep *s = exco__uv_container_of(timer, exco__uv_sleep, timer);

  exco__uv_op_complete(&s->op, 0);
}

int exco_uv_sleep(uint64_t ms) {
  exco__uv_sleep *s;
  uv_loop_t *loop;
  int err;

  s = exco__uv_enter_alloc(&loop, sizeof(*s), &err);
  if (s == NULL)
    return err;
  uv_timer_init(loop, &s->timer);
  exco__uv_op_init(&s->op);
  /* "At least ms from now": the loop's clock is only refreshed once per
   * iteration, and coroutines may have run for a while since. */
  uv_update_time(loop);
  uv_timer_start(&s->timer, exco__uv_sleep_cb, ms, 0);
  err = exco__uv_op_wait(&s->op, EXCO__UV_NO_TIMEOUT);
  /* Closing stops the timer at once; the callback can't come after. */
  uv_close((uv_handle_t *)&s->timer, exco__uv_free_on_close);
  return err;
}
