/*
 * exco/libev.h -- the libev driver for exco, and a straight-line wait for
 * file descriptors.
 *
 * OVERVIEW
 *
 * The driver hooks an exco executor to a libev loop (struct ev_loop), so
 * coroutines run inside the loop and wait for sockets top to bottom:
 *
 *     static void *echo(void *arg)
 *     {
 *         int fd = (int)(intptr_t)arg;   // a non-blocking socket
 *         char buf[4096];
 *         ssize_t n;
 *         for (;;) {
 *             n = read(fd, buf, sizeof(buf));
 *             if (n < 0 && errno == EAGAIN &&
 *                 exco_libev_wait_fd(fd, EV_READ) > 0)
 *                 continue;                 // readable now: read again
 *             if (n <= 0 || write(fd, buf, (size_t)n) != n)
 *                 break;                    // (a real program loops on
 *         }                                 //  short writes: see
 *         close(fd);                        //  examples/libev_echo.c)
 *         return NULL;
 *     }
 *
 *     int main(void)
 *     {
 *         struct ev_loop *loop = EV_DEFAULT;
 *         exco_executor *ex;
 *         exco_libev_executor_new(&ex, loop);
 *         exco_spawn(ex, echo, (void *)(intptr_t)fd, NULL, NULL);
 *         ev_run(loop, 0);                  // returns when echo ends
 *         exco_executor_free(ex);
 *         ev_loop_destroy(loop);
 *         return 0;
 *     }
 *
 * Sleeps and deadlines are the core's (exco_sleep(), exco_deadline_after()
 * in <exco.h>); on this driver they run on one ev_timer per executor.
 *
 * THE DRIVER
 *
 * exco_libev_executor_new() makes one executor per loop; several loops on
 * several threads can each run their own.  The driver is built on exco's
 * shared run queue (<exco/driver.h>) with four watchers per executor, and
 * costs:
 *
 *   - a wake from the loop's own thread: O(1), no system call (the task
 *     goes on a ready queue that an ev_prepare watcher drains before the
 *     loop next blocks);
 *   - a wake from another thread: a lock-free push, plus one
 *     ev_async_send() when the cross-thread list goes from empty to
 *     non-empty (one ev_async per executor, not per task);
 *   - at most EXCO_LIBEV_BUDGET_DEFAULT polls per loop iteration (see
 *     exco_libev_executor_set_budget()), so busy coroutines can't starve
 *     I/O and timers; while tasks are left over, an ev_idle watcher keeps
 *     the loop from blocking.
 *
 * ev_run(loop, 0) returns by itself when every task of the executor has
 * finished (and no other active watcher keeps the loop alive): the
 * driver's watchers don't count for libev (ev_unref), and the executor
 * holds one reference on the loop (ev_ref) only while it has live tasks.
 * A task waiting on something outside the loop (another thread, a
 * promise) keeps the loop blocked -- not spinning -- until it is woken.
 *
 * THREADS
 *
 * The thread that creates the executor is its loop thread: run the loop
 * on that thread, and only there (exco aborts with a message otherwise,
 * rather than corrupt its queue).  Everything in this header is called on
 * the loop thread (the awaitable runs there anyway).  Other threads use
 * <exco.h>: exco_spawn() into the executor, wakers and promises all work
 * from any thread (ev_async_send() is libev's thread-safe call).  A task
 * spawned from another thread into a loop that has no live task may find
 * the loop already returned from ev_run(): it runs the next time the loop
 * runs.  Don't run the loop from inside a coroutine: its tasks can't be
 * polled there, so they wait for the outer loop.
 *
 * SHUTDOWN
 *
 * exco_executor_close() (in <exco.h>) is the one-call shutdown, from a
 * libev callback too: it cancels every task, keeps the loop alive until
 * the last one is gone, then stops the driver's watchers, frees the
 * executor and calls you back, all on the loop thread while ev_run()
 * runs.  exco_executor_free() is the synchronous form: it needs every
 * task to be finished (cancel the pending ones with
 * exco_executor_cancel_all() and run the loop) and stops the watchers at
 * once.  Either way, the executor must be gone before ev_loop_destroy().
 *
 * The shared run queue owns the polls and drops of this driver's tasks:
 * exco_poll() and exco_drop() on them return EXCO_EPERM.
 */
#ifndef EXCO_LIBEV_H
#define EXCO_LIBEV_H

#include <ev.h>

#include <exco.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_LIBEV_BUILDING)
#define EXCO_LIBEV_API __attribute__((visibility("default")))
#else
#define EXCO_LIBEV_API
#endif

/* ---------------------------------------------------------------------- */
/* The driver                                                              */
/* ---------------------------------------------------------------------- */

/** Polls per loop iteration when nothing else is set. */
#define EXCO_LIBEV_BUDGET_DEFAULT 128u

/**
 * Creates an executor driven by @p loop (EV_DEFAULT or one of
 * ev_loop_new()).  The calling thread becomes the loop thread.  The
 * driver's ev_async is started here; libev opens its wake-up descriptor
 * (an eventfd or a pipe, the loop's own, closed by ev_loop_destroy())
 * the first time one is started on a loop.
 *
 * @param out   receives the executor; free it with exco_executor_free()
 *              or close it with exco_executor_close().
 * @return 0; EXCO_EINVAL if an argument is NULL; EXCO_ENOMEM.
 */
EXCO_LIBEV_API int exco_libev_executor_new(exco_executor **out,
                                           struct ev_loop *loop);

/**
 * Sets how many tasks the driver polls per loop iteration before it lets
 * the loop run its I/O and timers.  On the loop thread.
 *
 * @param budget  0 restores EXCO_LIBEV_BUDGET_DEFAULT.
 * @return 0; EXCO_EINVAL if @p ex is not driven by this driver.
 */
EXCO_LIBEV_API int exco_libev_executor_set_budget(exco_executor *ex,
                                                  unsigned budget);

/**
 * The loop that @p ex runs on, or NULL if @p ex is NULL or not driven by
 * this driver.  From any thread.
 */
EXCO_LIBEV_API struct ev_loop *exco_libev_executor_loop(exco_executor *ex);

/**
 * The running coroutine's loop, for starting libev watchers of your own
 * from a coroutine; NULL outside coroutines or on an executor of another
 * driver.
 */
EXCO_LIBEV_API struct ev_loop *exco_libev_loop(void);

/* ---------------------------------------------------------------------- */
/* Awaitables                                                              */
/* ---------------------------------------------------------------------- */

/**
 * Waits until @p fd is readable (EV_READ), writable (EV_WRITE) or either
 * (EV_READ | EV_WRITE), with an ev_io watcher on the running coroutine's
 * loop.  Readiness is libev's (level-triggered): use non-blocking
 * descriptors and expect EAGAIN now and then.  The watcher lives on the
 * coroutine's stack and is stopped before the call returns, whatever it
 * returns, so nothing of the call outlives it.
 *
 * The wait honours the task's deadline (exco_deadline_set() in <exco.h>)
 * and its cancellation; the task itself is not cancelled by a deadline,
 * so later calls work once the deadline is moved.  A task already
 * cancelled gets EXCO_ECANCELED without waiting.  If @p fd became ready
 * in the same loop iteration as the deadline, the readiness wins.
 *
 * @return the events that fired (> 0: EV_READ and/or EV_WRITE, within
 *         @p events); EXCO_ETIMEDOUT if the task's deadline passed first;
 *         EXCO_ECANCELED if the task was cancelled; EXCO_EPERM outside a
 *         coroutine; EXCO_ENOTSUP if the running executor is not one of
 *         this driver's; EXCO_EINVAL if @p fd is negative, @p events is
 *         not a non-empty set of EV_READ and EV_WRITE, or @p fd is not
 *         an open descriptor (checked with fcntl(F_GETFD) before the
 *         watcher starts) or libev could not watch it (EV_ERROR).
 *
 * Don't close @p fd while a coroutine waits on it: libev (built with
 * assertions, as Debian's is) aborts the process when it finds a watched
 * descriptor closed.  Cancel the waiter first, or close from the waiting
 * coroutine once the call has returned.
 */
EXCO_LIBEV_API int exco_libev_wait_fd(int fd, int events);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_LIBEV_H */
