/*
 * exco/libevent.h -- the libevent driver for exco, and a straight-line
 * wait for file descriptors.
 *
 * OVERVIEW
 *
 * The driver hooks an exco executor to a libevent 2.1 event_base, so
 * coroutines run inside the base's loop and wait for sockets top to
 * bottom:
 *
 *     static void *echo(void *arg)
 *     {
 *         int fd = (int)(intptr_t)arg;   // a non-blocking socket
 *         char buf[4096];
 *         ssize_t n;
 *         for (;;) {
 *             n = read(fd, buf, sizeof(buf));
 *             if (n < 0 && errno == EAGAIN &&
 *                 exco_libevent_wait_fd(fd, EV_READ) > 0)
 *                 continue;                 // readable now: read again
 *             if (n <= 0 || write(fd, buf, (size_t)n) != n)
 *                 break;                    // (a real program loops on
 *         }                                 //  short writes: see
 *         close(fd);                        //  examples/libevent_echo.c)
 *         return NULL;
 *     }
 *
 *     int main(void)
 *     {
 *         struct event_base *base;
 *         exco_executor *ex;
 *         evthread_use_pthreads();          // first: see THREADS
 *         base = event_base_new();
 *         exco_libevent_executor_new(&ex, base);
 *         exco_spawn(ex, echo, (void *)(intptr_t)fd, NULL, NULL);
 *         event_base_dispatch(base);        // returns when echo ends
 *         exco_executor_free(ex);
 *         event_base_free(base);
 *         return 0;
 *     }
 *
 * Sleeps and deadlines are the core's (exco_sleep(), exco_deadline_after()
 * in <exco.h>); on this driver they run on one timer event per executor.
 *
 * THE DRIVER
 *
 * exco_libevent_executor_new() makes one executor per event_base; several
 * bases on several threads can each run their own.  The driver is built
 * on exco's shared run queue (<exco/driver.h>) with four events per
 * executor (made with event_new(), freed with the executor), and costs:
 *
 *   - a wake from the loop's own thread: O(1), no system call (the task
 *     goes on a ready queue, and the first wake after the queue was empty
 *     makes the driver's run event active with event_active(), which
 *     only links it on the base's active list);
 *   - a wake from another thread: a lock-free push, plus one
 *     event_active() of the executor's wake-up event when the cross-thread
 *     list goes from empty to non-empty.  libevent then wakes the loop
 *     through the base's own notification descriptor (an eventfd or a
 *     pipe): one per base, opened by libevent, not by exco;
 *   - at most EXCO_LIBEVENT_BUDGET_DEFAULT polls per run callback (see
 *     exco_libevent_executor_set_budget()), so busy coroutines can't
 *     starve I/O and timers.  While tasks are left over after a budget,
 *     the run event is added with a zero timeout (not made active again:
 *     libevent would run an event activated from its own callback in the
 *     same pass, before it polls for I/O), so the loop polls its
 *     descriptors without blocking and then runs the next budget;
 *   - one timer event for the core's timers (the earliest due time), and
 *     one keep-alive event (a persistent timer of an hour that does
 *     nothing) added only while the executor has live tasks.
 *
 * libevent's loop exits when no event is added or active.  The driver
 * keeps to that: event_base_dispatch() returns by itself when every task
 * of the executor has finished (and nothing of the program's own keeps the
 * base alive).  While tasks are live, the keep-alive event holds the base
 * in; once none is, the driver's events are neither added nor active
 * (the timer event is deleted too, and re-added when tasks come back).  A
 * task waiting on something outside the loop (another thread, a promise)
 * keeps the loop blocked -- not spinning -- until it is woken.
 *
 * THREADS
 *
 * The thread that creates the executor is its loop thread: run the base's
 * loop on that thread, and only there (exco aborts with a message
 * otherwise, rather than corrupt its queue).  Everything in this header is
 * called on the loop thread (the awaitable runs there anyway).  Other
 * threads use <exco.h>: exco_spawn() into the executor, wakers, promises
 * and exco_task_cancel() all work from any thread -- on one condition:
 *
 *     Wakes from other threads call event_active() on the base from
 *     those threads.  libevent allows that only on a base that has a lock
 *     and a notification descriptor, that is a base made (event_base_new()
 *     or event_base_new_with_config() without EVENT_BASE_FLAG_NOLOCK)
 *     after the program called evthread_use_pthreads() (from
 *     <event2/thread.h>, in -levent_pthreads; pkg-config exco-libevent
 *     links it).  The driver can't tell whether a base has a lock: on one
 *     without, a cross-thread wake is a data race and may be lost (the
 *     loop is not woken).  A program whose tasks are only ever woken on
 *     the loop thread (its own callbacks, timers, other tasks of the same
 *     executor) doesn't need it.
 *
 * A task spawned from another thread while the loop is not running is
 * taken in the next time it runs: the wake-up event is then active, so
 * event_base_dispatch() doesn't return at once.  Don't run the loop of an
 * executor from inside one of its coroutines (libevent refuses a
 * reentrant loop anyway); a loop of another base run from a coroutine
 * can't poll its own executor's tasks, which wait for the outer loop (the
 * driver retries every millisecond meanwhile).
 *
 * LINKING
 *
 * Debian's libev also defines libevent's names (event_add(), event_new(),
 * ...: its libevent compatibility layer).  In a program linked with both,
 * the library loaded first provides those names to everyone, this driver
 * included: link libevent before libev (`pkg-config --libs exco-libevent`
 * before -lev), or the driver's libevent calls reach libev and crash.
 *
 * SHUTDOWN
 *
 * exco_executor_close() (in <exco.h>) is the one-call shutdown, from a
 * libevent callback too: it cancels every task, keeps the loop alive until
 * the last one is gone, then frees the driver's events and the executor
 * and calls you back, all on the loop thread while event_base_dispatch()
 * runs.  exco_executor_free() is the synchronous form: it needs every task
 * to be finished (cancel the pending ones with exco_executor_cancel_all()
 * and run the loop) and frees the events at once.  Either way, the
 * executor must be gone before event_base_free().
 *
 * The shared run queue owns the polls and drops of this driver's tasks:
 * exco_poll() and exco_drop() on them return EXCO_EPERM.
 */
#ifndef EXCO_LIBEVENT_H
#define EXCO_LIBEVENT_H

#include <event2/event.h>

#include <exco.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_LIBEVENT_BUILDING)
#define EXCO_LIBEVENT_API __attribute__((visibility("default")))
#else
#define EXCO_LIBEVENT_API
#endif

/* ---------------------------------------------------------------------- */
/* The driver                                                              */
/* ---------------------------------------------------------------------- */

/** Polls per run callback when nothing else is set. */
#define EXCO_LIBEVENT_BUDGET_DEFAULT 128u

/**
 * Creates an executor driven by @p base.  The calling thread becomes the
 * loop thread.  The driver's four events are made here (event_new(), with
 * the base's default priority); none is added or active until a task is
 * spawned.  See THREADS above for the base a program that wakes tasks
 * from other threads must make.
 *
 * @param out   receives the executor; free it with exco_executor_free()
 *              or close it with exco_executor_close(), before
 *              event_base_free(@p base).
 * @return 0; EXCO_EINVAL if an argument is NULL; EXCO_ENOMEM (also if
 *         libevent could not make an event).
 */
EXCO_LIBEVENT_API int exco_libevent_executor_new(exco_executor **out,
                                                 struct event_base *base);

/**
 * Sets how many tasks the driver polls per run callback before it lets
 * the loop run its I/O and timers.  On the loop thread.
 *
 * @param budget  0 restores EXCO_LIBEVENT_BUDGET_DEFAULT.
 * @return 0; EXCO_EINVAL if @p ex is not driven by this driver.
 */
EXCO_LIBEVENT_API int exco_libevent_executor_set_budget(exco_executor *ex,
                                                        unsigned budget);

/**
 * The event_base that @p ex runs on, or NULL if @p ex is NULL or not
 * driven by this driver.  From any thread.
 */
EXCO_LIBEVENT_API struct event_base *
exco_libevent_executor_base(exco_executor *ex);

/**
 * The running coroutine's event_base, for adding events of your own from
 * a coroutine; NULL outside coroutines or on an executor of another
 * driver.
 */
EXCO_LIBEVENT_API struct event_base *exco_libevent_base(void);

/* ---------------------------------------------------------------------- */
/* Awaitables                                                              */
/* ---------------------------------------------------------------------- */

/**
 * Waits until @p fd is readable (EV_READ), writable (EV_WRITE) or either
 * (EV_READ | EV_WRITE), with a one-shot event on the running coroutine's
 * base.  Readiness is libevent's (level-triggered): use non-blocking
 * descriptors and expect EAGAIN now and then.  The event (a struct event
 * set up with event_assign()) lives on the coroutine's stack and is
 * deleted before the call returns, whatever it returns, so nothing of the
 * call outlives it: libevent deletes a one-shot event as it fires, and a
 * cancellation or deadline deletes it (event_del()) before exco_await()
 * returns.
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
 *         not a non-empty set of EV_READ and EV_WRITE, @p fd is not an
 *         open descriptor (checked with fcntl(F_GETFD) before the event is
 *         added) or libevent refused to add it (event_add() failed, for
 *         example on a descriptor epoll can't watch, such as a regular
 *         file).
 *
 * Closing @p fd while a coroutine waits on it leaves the wait to its
 * deadline or cancellation (the kernel forgets a closed descriptor, so
 * it never fires): cancel the waiter first, or close from the waiting
 * coroutine once the call has returned.
 */
EXCO_LIBEVENT_API int exco_libevent_wait_fd(int fd, int events);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_LIBEVENT_H */
