/*
 * exco/glib.h -- the GLib driver for exco: coroutines on a GMainContext,
 * a straight-line wait for file descriptors, and GIO's asynchronous calls
 * awaited top to bottom.
 *
 * OVERVIEW
 *
 * The driver hooks an exco executor to a GMainContext, so coroutines run
 * inside the GLib main loop (a GTK, GStreamer or GNOME service program's)
 * and await GIO calls as if they were blocking ones:
 *
 *     static void *cat(void *arg)
 *     {
 *         GFile *file = arg;
 *         exco_glib_async *a;
 *         GAsyncResult *res;
 *         GFileInputStream *in;
 *         GError *error = NULL;
 *
 *         if (exco_glib_async_new(&a) != 0)
 *             return NULL;
 *         g_file_read_async(file, G_PRIORITY_DEFAULT,
 *                           exco_glib_async_cancellable(a),
 *                           exco_glib_async_cb, a);
 *         if (exco_glib_async_await(a, &res) == 0) {
 *             in = g_file_read_finish(file, res, &error);
 *             ...                        // read it the same way
 *         }
 *         exco_glib_async_free(a);       // always, whatever await said
 *         return NULL;
 *     }
 *
 *     int main(void)
 *     {
 *         GMainLoop *loop = g_main_loop_new(NULL, FALSE);
 *         exco_executor *ex;
 *
 *         exco_glib_executor_new(&ex, NULL);     // the default context
 *         exco_glib_executor_on_idle(ex, quit, loop);
 *         exco_spawn(ex, cat, file, NULL, NULL);
 *         g_main_loop_run(loop);   // until quit(loop): cat has finished
 *         exco_executor_free(ex);
 *         g_main_loop_unref(loop);
 *         return 0;
 *     }
 *
 * with `static void quit(void *loop) { g_main_loop_quit(loop); }`.
 * Sleeps and deadlines are the core's (exco_sleep(), exco_deadline_after()
 * in <exco.h>); on this driver they run on the driver's GSource's ready
 * time.  examples/glib_cat.c is a complete program.
 *
 * THE DRIVER
 *
 * exco_glib_executor_new() makes one executor per GMainContext.  The
 * driver is built on exco's shared run queue (<exco/driver.h>) with ONE
 * GSource per executor, attached to the context, and costs:
 *
 *   - a wake from the loop's own thread: O(1), no system call, no lock
 *     (the task goes on a ready queue, and the driver's GSource says
 *     "ready" in its prepare and check functions while that queue has
 *     work, so the context dispatches it in its next iteration without
 *     blocking);
 *   - a wake from another thread: a lock-free push, plus, when the
 *     cross-thread list goes from empty to non-empty, one atomic store
 *     and one g_main_context_wakeup() -- one wake-up of the context per
 *     executor, not per task (GLib's wake-up is an eventfd or pipe that
 *     stays signalled until the context's next check, so no wake-up is
 *     lost between the store and the poll);
 *   - at most EXCO_GLIB_BUDGET_DEFAULT task polls per dispatch (see
 *     exco_glib_executor_set_budget()), so busy coroutines can't starve
 *     the context's other sources of the same or a higher priority: the
 *     source stays ready and the next iteration polls the rest;
 *   - timers: exco's timer queue sets the GSource's ready time
 *     (g_source_set_ready_time(), GLib's own timer mechanism; it takes the
 *     context's lock, no system call on the loop thread); one due time is
 *     armed at a time, whatever the number of sleeping tasks.
 *
 * The source has G_PRIORITY_DEFAULT unless exco_glib_executor_set_priority()
 * says otherwise.  GLib dispatches only the ready sources of the highest
 * priority in each iteration: while coroutines keep yielding at the
 * default priority, idle sources (G_PRIORITY_DEFAULT_IDLE, GTK's redraws
 * at G_PRIORITY_HIGH_IDLE) wait.  Give the executor a lower priority
 * (a higher number) if that matters.
 *
 * While the driver polls tasks, the executor's context is the thread's
 * default (g_main_context_push_thread_default()), so a GIO call made by a
 * coroutine calls back on that same context, which is what
 * exco_glib_async_await() expects.
 *
 * THE END OF THE LOOP
 *
 * GLib loops have no "nothing left to do": g_main_loop_run() runs until
 * g_main_loop_quit(), and a GMainContext can't tell a source that matters
 * from one that doesn't.  So the driver's keepalive hook has nothing to
 * hold, and the driver offers two ways to stop when the work is done:
 *
 *   - exco_glib_executor_on_idle(ex, cb, arg): cb(arg) is called on the
 *     loop thread each time the executor's live tasks drop to none (quit a
 *     GMainLoop there, release a GApplication, free or close the
 *     executor);
 *   - exco_glib_run_until_idle(ex): iterates the executor's context,
 *     blocking while tasks wait, until the executor has no live task; the
 *     loop for programs that have no GMainLoop of their own.
 *
 * A task waiting on something outside the loop (another thread, a
 * promise) keeps exco_glib_run_until_idle() blocked -- not spinning --
 * until it is woken, and keeps the idle callback from coming.
 *
 * THREADS
 *
 * The thread that creates the executor is its loop thread: iterate the
 * context on that thread, and only there (exco aborts with a message
 * otherwise, rather than corrupt its queue); a GMainContext that another
 * thread iterates needs an executor made on that thread.  Everything in
 * this header is called on the loop thread, except exco_glib_async_cb(),
 * which GIO calls, exco_glib_executor_context() and the exco_glib_async
 * functions, which any thread may call on an async it owns.  Other
 * threads use <exco.h>: exco_spawn() into the executor, wakers, promises
 * and exco_task_cancel() work from any thread.  Don't iterate the context
 * from inside a coroutine: its tasks can't be polled there, so they wait
 * for the outer iteration.
 *
 * SHUTDOWN
 *
 * exco_executor_close() (in <exco.h>) is the one-call shutdown, from any
 * GLib callback, the idle callback included: it cancels every task, waits
 * -- while the context is iterated -- until the last one is gone (a task
 * that left a GIO call behind keeps its stack until that call's callback
 * has come, see exco_glib_async_await()), then destroys the driver's
 * GSource, frees the executor and calls you back, all on the loop thread.
 * exco_executor_free() is the synchronous form: it needs every task to be
 * finished (cancel the pending ones with exco_executor_cancel_all() and
 * iterate the context) and destroys the GSource at once.  The executor
 * holds a reference on its context, which it drops when it is freed.
 *
 * The shared run queue owns the polls and drops of this driver's tasks:
 * exco_poll() and exco_drop() on them return EXCO_EPERM.
 */
#ifndef EXCO_GLIB_H
#define EXCO_GLIB_H

#include <gio/gio.h>
#include <glib.h>

#include <exco.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_GLIB_BUILDING)
#define EXCO_GLIB_API __attribute__((visibility("default")))
#else
#define EXCO_GLIB_API
#endif

/* ---------------------------------------------------------------------- */
/* The driver                                                              */
/* ---------------------------------------------------------------------- */

/** Task polls per dispatch of the driver's GSource when nothing else is
 * set. */
#define EXCO_GLIB_BUDGET_DEFAULT 128u

/**
 * Creates an executor driven by @p context, attaching the driver's GSource
 * to it and taking a reference on it.  The calling thread becomes the
 * loop thread.
 *
 * @param out      receives the executor; free it with exco_executor_free()
 *                 or close it with exco_executor_close().
 * @param context  the context; NULL means the global default context
 *                 (g_main_context_default()), as everywhere in GLib.
 * @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM.
 */
EXCO_GLIB_API int exco_glib_executor_new(exco_executor **out,
                                         GMainContext *context);

/**
 * Sets how many tasks the driver polls per dispatch before it lets the
 * context dispatch its other sources.  On the loop thread.
 *
 * @param budget  0 restores EXCO_GLIB_BUDGET_DEFAULT.
 * @return 0; EXCO_EINVAL if @p ex is not driven by this driver.
 */
EXCO_GLIB_API int exco_glib_executor_set_budget(exco_executor *ex,
                                                unsigned budget);

/**
 * Sets the priority of the driver's GSource (G_PRIORITY_DEFAULT until
 * then) and of the GSources of the executor's exco_glib_wait_fd() calls
 * made from now on.  On the loop thread.
 *
 * @return 0; EXCO_EINVAL if @p ex is not driven by this driver.
 */
EXCO_GLIB_API int exco_glib_executor_set_priority(exco_executor *ex,
                                                  int priority);

/** Called when an executor's live tasks drop to none. */
typedef void (*exco_glib_idle_cb)(void *arg);

/**
 * Has @p cb(@p arg) called each time the live tasks of @p ex drop from
 * some to none: the dropping of its last task, tasks spawned from other
 * threads counted once the loop has taken them in.  A task whose GIO call
 * was given up (a cancelled or timed-out exco_glib_async_await()) counts
 * until the call's callback has come and released its stack, so that
 * exco_executor_free() succeeds in @p cb.  It is not called for an
 * executor that never had a task, nor while a close is in progress
 * (exco_executor_close()'s own callback says when that is done).  It runs
 * on the loop thread, from the driver's GSource dispatch, outside any
 * coroutine, and may do anything a GLib callback may: quit a GMainLoop,
 * spawn more tasks, close or free the executor.  On the loop thread.
 *
 * @param cb  NULL removes the callback.
 * @return 0; EXCO_EINVAL if @p ex is not driven by this driver.
 */
EXCO_GLIB_API int exco_glib_executor_on_idle(exco_executor *ex,
                                             exco_glib_idle_cb cb, void *arg);

/**
 * Iterates the context of @p ex (g_main_context_iteration(), blocking
 * while nothing is ready) until the executor has no live task
 * (exco_executor_live(), which counts stacks still held for a given-up
 * GIO call until its callback, see exco_glib_async_await()), or until
 * a close of the executor (exco_executor_close(), called from a task's
 * wake-up path or any GLib callback meanwhile) has finished.  Other
 * sources of the context are dispatched as usual meanwhile.  Returns at
 * once if no task is live.  On the loop thread, outside coroutines; it
 * may be nested in a GLib callback (GLib allows recursive iteration).
 *
 * @return 0 when no task is live; 1 if the executor was closed and freed
 *         during the call (don't touch it again); EXCO_EINVAL if @p ex is
 *         not driven by this driver; EXCO_EBUSY inside a coroutine, or if
 *         another thread owns the context (g_main_context_acquire()
 *         failed); EXCO_EPERM if called on another thread than the loop
 *         thread.
 */
EXCO_GLIB_API int exco_glib_run_until_idle(exco_executor *ex);

/**
 * The context that @p ex runs on (borrowed: the executor holds a reference
 * until it is freed), or NULL if @p ex is NULL or not driven by this
 * driver.  From any thread.
 */
EXCO_GLIB_API GMainContext *exco_glib_executor_context(exco_executor *ex);

/**
 * The running coroutine's context, for sources of your own; NULL outside
 * coroutines or on an executor of another driver.
 */
EXCO_GLIB_API GMainContext *exco_glib_context(void);

/* ---------------------------------------------------------------------- */
/* Waiting for a file descriptor                                           */
/* ---------------------------------------------------------------------- */

/**
 * Waits until @p fd is ready for @p condition (G_IO_IN, G_IO_OUT,
 * G_IO_PRI, or several of them), with a GLib unix fd source
 * (g_unix_fd_source_new()) attached to the running coroutine's context.
 * Readiness is poll()'s, level-triggered: use non-blocking descriptors and
 * expect EAGAIN now and then.  The source is destroyed and released before
 * the call returns, whatever it returns, so nothing of the call is left
 * registered with the context.
 *
 * The wait honours the task's deadline (exco_deadline_set() in <exco.h>)
 * and its cancellation; the task itself is not cancelled by a deadline, so
 * later calls work once the deadline is moved.  A task already cancelled
 * gets EXCO_ECANCELED without waiting.  If @p fd became ready in the same
 * iteration as the deadline, the readiness wins.
 *
 * @return the conditions that fired (> 0): those of @p condition that are
 *         ready, plus G_IO_HUP and G_IO_ERR, which poll() reports whether
 *         asked or not (a hung-up peer makes a read wait return G_IO_HUP,
 *         possibly without G_IO_IN); EXCO_ETIMEDOUT if the task's deadline
 *         passed first; EXCO_ECANCELED if the task was cancelled;
 *         EXCO_EPERM outside a coroutine; EXCO_ENOTSUP if the running
 *         executor is not one of this driver's; EXCO_EINVAL if @p fd is
 *         negative, @p condition is not a non-empty set of G_IO_IN,
 *         G_IO_OUT and G_IO_PRI, or @p fd is not an open descriptor
 *         (checked with fcntl(F_GETFD) first, and G_IO_NVAL if it is
 *         closed while the task waits); EXCO_ENOMEM.
 */
EXCO_GLIB_API int exco_glib_wait_fd(int fd, GIOCondition condition);

/* ---------------------------------------------------------------------- */
/* Awaiting GIO's asynchronous calls                                       */
/* ---------------------------------------------------------------------- */

/**
 * One asynchronous GIO call awaited by a coroutine: the user data of a
 * GAsyncReadyCallback (exco_glib_async_cb()) and the GCancellable for the
 * call, on the heap, so that the callback never writes to a coroutine's
 * stack.  The pattern, for any g_..._async() / g_..._finish() pair:
 *
 *     exco_glib_async *a;
 *     GAsyncResult *res;
 *     err = exco_glib_async_new(&a);
 *     g_file_read_async(file, G_PRIORITY_DEFAULT,
 *                       exco_glib_async_cancellable(a),
 *                       exco_glib_async_cb, a);
 *     err = exco_glib_async_await(a, &res);
 *     if (err == 0)
 *         stream = g_file_read_finish(file, res, &error);
 *     exco_glib_async_free(a);
 *
 * Ownership: the creator owns the async and frees it once, with
 * exco_glib_async_free(), after the await (on any path: success, error,
 * deadline, cancellation).  The GAsyncResult and the GCancellable belong
 * to the async: borrow them until exco_glib_async_free() (g_object_ref()
 * one to keep it longer).  If the call was cancelled or timed out, the
 * async stays alive after exco_glib_async_free() until GIO's callback has
 * come (GIO always calls it, with G_IO_ERROR_CANCELLED or a result), and
 * the callback then frees it: nothing is freed under GIO, and nothing of
 * the coroutine is written to after it has gone.
 *
 * One call per async: make a new one for the next call.
 */
typedef struct exco_glib_async exco_glib_async;

/**
 * Makes an async for one GIO call, with a new GCancellable.  From any
 * thread.
 *
 * @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM.
 */
EXCO_GLIB_API int exco_glib_async_new(exco_glib_async **out);

/**
 * The GCancellable to pass to the GIO call (borrowed; owned by @p a), which
 * the await cancels when its task is cancelled or its deadline passes.
 * You may cancel it yourself too, from any thread
 * (g_cancellable_cancel()): the call then ends with G_IO_ERROR_CANCELLED
 * in its result.  NULL if @p a is NULL.
 */
EXCO_GLIB_API GCancellable *exco_glib_async_cancellable(exco_glib_async *a);

/**
 * The GAsyncReadyCallback to pass to the GIO call, with the async as its
 * user data.  GIO calls it on the thread-default context of the thread
 * that made the call -- for a coroutine of this driver, the executor's
 * context -- and it may come on any thread if the call was made so: it
 * keeps a reference to @p res and wakes the awaiting task.  Don't call it
 * yourself, and don't pass one async to two calls.
 */
EXCO_GLIB_API void exco_glib_async_cb(GObject *source, GAsyncResult *res,
                                      gpointer user_data);

/**
 * Awaits the callback of the GIO call that @p a was given to, and gives
 * its result, for the call's _finish() function (which reports the call's
 * own errors: G_IO_ERROR_CANCELLED after a cancellation, for one).  Call
 * it once the GIO call has been made, always, even if you don't want the
 * result any more: exco_glib_async_free() relies on it to know that a
 * callback is coming.  Returns at once if the callback has come already.
 * It may be called again after a success (the same result again) or after
 * EXCO_ETIMEDOUT (the call has been cancelled, and its result will tell).
 *
 * On a cancellation of the task or at its deadline, it cancels the
 * async's GCancellable before it returns, and if the callback is still to
 * come it takes a hold on the coroutine's stack (exco_hold_stack()),
 * released when the callback comes: so a buffer on the coroutine's stack
 * that the call writes to (g_input_stream_read_async()'s) stays mapped
 * until GIO is done with it, and the task counts as live on its executor
 * until then.  The coroutine itself goes on at once, so lend the call only
 * a buffer of a frame that stays alive until the coroutine returns, or a
 * heap buffer that you free after the callback has come.
 *
 * It works in a coroutine of any executor, this driver's or another's, as
 * long as something iterates the context that GIO calls back on.
 *
 * @param res  if not NULL, receives the result (borrowed; owned by @p a);
 *             written only on success.
 * @return 0 when the callback has come; EXCO_ECANCELED if the task was
 *         cancelled (checked before waiting too); EXCO_ETIMEDOUT if the
 *         task's deadline passed first; EXCO_EPERM outside a coroutine;
 *         EXCO_EINVAL if @p a is NULL; EXCO_EBUSY if another coroutine
 *         is awaiting @p a.
 */
EXCO_GLIB_API int exco_glib_async_await(exco_glib_async *a, GAsyncResult **res);

/**
 * Gives the async back, once; @p a must not be used afterwards.  If its
 * GIO call's callback is still to come (the await was cancelled or timed
 * out), the async lives on until it has come and is freed there;
 * otherwise it is freed now, with the result.  An async that was never
 * awaited is taken to have no call in flight and is freed now: never free
 * one whose call was made without awaiting it first.  From any thread;
 * NULL is ignored.
 */
EXCO_GLIB_API void exco_glib_async_free(exco_glib_async *a);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_GLIB_H */
