/*
 * exco/driver.h -- writing a host driver: the driver interface, the shared
 * run queue, core timers and executor attachments.
 *
 * OVERVIEW
 *
 * A driver connects exco to one kind of host loop.  It describes itself
 * with one exco_driver_ops, static and constant, and makes executors with
 * exco_driver_executor_new(ops, data): the executor carries the ops and
 * the driver's data for its whole life, so the driver finds its state
 * from any executor with exco_driver_data(ex, ops) -- which also answers
 * "is this executor one of mine?" -- and from inside a coroutine with
 * exco_driver_data(exco_current_executor(), ops).
 *
 * A driver picks one of two shapes:
 *
 *   - THE CONTRACT.  It sets task_new, task_run and task_wake and polls
 *     and drops tasks itself (exco_poll(), exco_drop()).  That is what
 *     exco_executor_new() does with the seed's three callbacks.
 *
 *   - THE SHARED RUN QUEUE.  It leaves those three NULL and sets
 *     `schedule` and `notify` instead.  exco then keeps the tasks on its
 *     own run queue, one per executor:
 *
 *       * a wake on the loop thread appends the task to the ready queue:
 *         O(1), no system call, no lock; if the queue was empty, exco calls
 *         schedule(data) once, and the driver arranges for
 *         exco_driver_run() to be called soon from its loop (an idle or
 *         prepare hook, a zero-timeout source);
 *       * a wake from any other thread pushes the task onto a lock-free
 *         list and, only when that list was empty, calls notify(data):
 *         the driver wakes its loop (uv_async_send, g_main_context_wakeup,
 *         ev_async_send, event_active, a Dart port post), and the loop
 *         then calls exco_driver_accept(), which moves the list onto the
 *         ready queue.  A storm of wakes costs one notification per loop
 *         iteration;
 *       * exco_driver_run(ex, budget) polls at most @p budget ready tasks
 *         and drops the ones that finished, so busy coroutines can't starve
 *         the host's I/O;
 *       * keepalive(data, alive) tells the driver when the executor goes
 *         from no live task to some (alive = 1) and back (0), for hosts
 *         whose loop returns once nothing is left to do (libuv's handle
 *         references, libev's ev_ref, libevent's exit-on-empty).
 *
 *     The thread that made the executor is its loop thread: it alone may
 *     call exco_driver_run(), exco_driver_accept() and
 *     exco_driver_fire_timers(); everything else in <exco.h> (spawn, wake,
 *     cancel) works from any thread.
 *
 * Timers.  Each executor has one timer queue.  A driver whose host has
 * timers sets timer_arm: exco calls it, on the loop thread, with the
 * earliest due time whenever that changes, and the driver calls
 * exco_driver_fire_timers() from its host timer's callback.  Without
 * timer_arm, the executor's timers are fired by a helper thread of exco's
 * (through task_wake or notify, which are thread-safe anyway).
 *
 * Closing.  exco_executor_close() cancels the tasks and, when the last is
 * gone, calls the driver's close(data) hook (then the user's callback):
 * the driver frees its state there.  On the shared run queue this happens
 * on the loop thread, from exco_driver_accept() after a notify, never
 * from inside exco_driver_run().
 */
#ifndef EXCO_DRIVER_H
#define EXCO_DRIVER_H

#include <exco.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of struct exco_driver_ops this header describes. */
#define EXCO_DRIVER_VERSION 1

/**
 * A driver's description.  Zero-initialise it, set version to
 * EXCO_DRIVER_VERSION and the fields you implement; keep it alive (a
 * static const object) as long as any executor made from it.
 */
typedef struct exco_driver_ops {
  unsigned version; /* EXCO_DRIVER_VERSION */
  const char *name; /* for messages; may be NULL */

  /* The contract: all three, or none for the shared run queue. */
  exco_task_new_cb task_new;
  exco_task_run_cb task_run;
  exco_task_wake_cb task_wake;

  /* The shared run queue: schedule and notify are required there. */
  void (*schedule)(void *data); /* loop thread: call exco_driver_run() */
  void (*notify)(void *data);   /* any thread: wake the loop, which calls
                                   exco_driver_accept() */
  void (*keepalive)(void *data, int alive); /* optional; loop thread */

  /*
   * Optional: arm the host's one timer for this executor so that it calls
   * exco_driver_fire_timers() once the monotonic clock (in nanoseconds,
   * exco_driver_now_ns()) reaches @p due_ns.  Replaces any earlier
   * arming; a spurious or late fire is harmless.  Called on the loop
   * thread (from a coroutine's awaits and from fire_timers).
   */
  void (*timer_arm)(void *data, uint64_t due_ns);

  /*
   * Optional: the executor is being freed (exco_executor_free(), or the
   * end of exco_executor_close()).  Free the driver's state and stop
   * whatever could still call into exco for this executor (an idle hook
   * still scheduled, a pending notify, a timer): no exco_driver_* call
   * may name it afterwards.
   */
  void (*close)(void *data);
} exco_driver_ops;

/**
 * Creates an executor driven by @p ops with the driver's @p data.  The
 * calling thread becomes the loop thread (for the shared run queue).
 *
 * @return 0; EXCO_EINVAL if @p out or @p ops is NULL, the version is not
 *         EXCO_DRIVER_VERSION, or the ops are neither a full contract
 *         (task_new, task_run, task_wake) nor a run queue (all three NULL;
 *         schedule and notify set); EXCO_ENOMEM.
 */
EXCO_API int exco_driver_executor_new(exco_executor **out,
                                      const exco_driver_ops *ops, void *data);

/**
 * Gives the process-default executor the driver @p ops with @p data: the
 * driver-interface twin of exco_init(), for a driver's "init" call in the
 * seed's shape (exco_uv_init()).  Same rules as exco_init(): at start-up,
 * while the default executor has no task.
 *
 * @return 0; EXCO_EINVAL as for exco_driver_executor_new(); EXCO_EBUSY if
 *         the default executor has live tasks; EXCO_ENOMEM (the default
 *         executor is then a local one again).
 */
EXCO_API int exco_driver_init(const exco_driver_ops *ops, void *data);

/**
 * The driver data of @p ex if it was made from @p ops (compared by
 * address), else NULL.  From any thread.
 */
EXCO_API void *exco_driver_data(exco_executor *ex, const exco_driver_ops *ops);

/** The name in the ops of @p ex ("local", "callbacks", ...); NULL if none. */
EXCO_API const char *exco_driver_name(exco_executor *ex);

/**
 * Shared run queue, loop thread: polls up to @p budget ready tasks (0
 * means no limit), drops those that finished, and first moves in the
 * wakes from other threads.  Tasks woken while it runs wait for the next
 * call.  Called from inside a coroutine, it polls nothing.
 *
 * @return the number of tasks still ready (> 0: call again soon; 0: wait
 *         for the next schedule); EXCO_EINVAL if @p ex is not on the shared
 *         run queue; EXCO_EBUSY inside a coroutine.
 */
EXCO_API int exco_driver_run(exco_executor *ex, unsigned budget);

/**
 * Shared run queue, loop thread: moves the wakes from other threads onto
 * the ready queue (calling schedule if it was empty) and updates
 * keepalive.  Call it after a notify.  If the executor finished closing,
 * this is where it is freed (close hook, then the user's callback).
 *
 * @return 0; 1 if the executor has been freed (the driver's data too, by
 *         its close hook): touch neither again; EXCO_EINVAL.
 */
EXCO_API int exco_driver_accept(exco_executor *ex);

/** Shared run queue: live tasks (task_new'd and not dropped); EXCO_EINVAL. */
EXCO_API long exco_driver_live(exco_executor *ex);

/**
 * Loop thread of a driver with timer_arm: wakes the tasks whose timers
 * are due and arms the next one.
 *
 * @return 0; EXCO_EINVAL.
 */
EXCO_API int exco_driver_fire_timers(exco_executor *ex);

/** The monotonic clock of timer_arm's due times, in nanoseconds. */
EXCO_API uint64_t exco_driver_now_ns(void);

/* ---------------------------------------------------------------------- */
/* Attachments                                                             */
/* ---------------------------------------------------------------------- */

/** Attachment slots per executor. */
#define EXCO_ATTACH_MAX 4

/**
 * Attaches @p value to @p ex under @p key (an address the caller owns,
 * compared, never dereferenced): how a library of awaitables finds its
 * host object on an executor it did not make -- <exco/uv.h> finds the
 * loop of a seed-style driver's executor this way (exco_uv_attach()).
 * From any thread; set up before tasks that need it run.
 *
 * @return 0; EXCO_EINVAL if @p ex, @p key or @p value is NULL or @p ex is
 *         not an executor; EXCO_EBUSY if @p key is attached already;
 *         EXCO_ENOMEM if all EXCO_ATTACH_MAX slots are taken.
 */
EXCO_API int exco_executor_attach(exco_executor *ex, const void *key,
                                  void *value);

/** Removes @p key; 0, or EXCO_EINVAL if it is not attached. */
EXCO_API int exco_executor_detach(exco_executor *ex, const void *key);

/** The value attached under @p key, or NULL.  From any thread. */
EXCO_API void *exco_executor_attachment(exco_executor *ex, const void *key);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_DRIVER_H */
