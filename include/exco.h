/*
 * exco.h -- external-loop coroutines.
 *
 * OVERVIEW
 *
 * exco runs plain C functions as stackful coroutines that someone else's
 * event loop drives.  A coroutine suspends in exco_await() on its own stack
 * and is resumed when the host loop polls it again, so asynchronous code
 * reads top to bottom:
 *
 *     static void *hello(void *arg)
 *     {
 *         exco_promise *p = arg;
 *         void *value;
 *         if (exco_promise_await(p, &value) == 0)
 *             printf("got %s\n", (char *)value);
 *         return NULL;
 *     }
 *
 * exco owns no loop.  It talks to the host through the driver contract of
 * the Rust crate extern_executor:
 *
 *   library -> host (callbacks given once per executor):
 *     task_new(data) -> extern    the host allocates its handle for a task;
 *     task_run(extern, intern)    the host stores the intern handle and
 *                                 schedules the first poll;
 *     task_wake(extern)           the host schedules another poll.  It may
 *                                 be called from any thread, at any time,
 *                                 any number of times (wakes coalesce).
 *   host -> library:
 *     exco_poll(intern)           resumes the coroutine until it awaits
 *                                 something pending (returns 1) or returns
 *                                 from its function (returns 0);
 *     exco_drop(intern)           releases the task; a task that is still
 *                                 pending is cancelled first.
 *
 * A complete minimal host is a queue: task_new allocates a node, task_run
 * and task_wake push it onto the queue, and the loop pops nodes, calls
 * exco_poll() on each and exco_drop() when it returns 0.  The built-in
 * local executor (exco_executor_new_local(), exco_run()) is exactly that,
 * for tests and for programs without a loop of their own.  Drivers for
 * event loops use exco's shared run queue instead and only connect it to
 * their host (<exco/driver.h>); the libuv driver lives in <exco/uv.h>.
 * docs/ARCHITECTURE.md in the source tree says how it all fits together.
 *
 * THREADS
 *
 * An executor is driven by one host loop.  exco_poll() and exco_drop() of
 * a task must not run concurrently with each other (the host calls them
 * from its loop thread).  Everything a coroutine hands to other threads --
 * wakers, promises, join handles -- is thread-safe.  exco_spawn() may be
 * called from any thread.  Several executors, one per loop and thread, may
 * live in one process.
 *
 * A task stays on one thread: the thread of its first poll.  Polling or
 * dropping it once started from another thread fails with EXCO_EXDEV (and
 * a local executor is run by one thread), because C code may keep a
 * thread's address across a call: gcc and clang compute errno's address
 * (glibc's __errno_location() is declared const) and the address of
 * __thread variables once per function, so after a switch to another
 * thread such code would read and write the first thread's errno and
 * thread-locals.  On the task's own thread, errno is preserved across
 * every await: a coroutine sees the errno it left, whatever the host
 * did meanwhile, and thread-local variables are the thread's.
 *
 * A host that moves work between threads (a thread pool, a Dart isolate,
 * which hops between the VM's threads) opts in per executor with
 * exco_executor_set_migration().  Then any thread may poll a task, exco
 * still carries the coroutine's errno to the thread that resumes it, but
 * the coroutine's code must not keep errno, or anything __thread, across
 * an await: read errno right after the call that set it, and look up
 * thread-locals again after every await.
 *
 * A coroutine runs on the thread that polls it and shares that thread's
 * signal mask: a mask it sets with pthread_sigmask() stays in force on the
 * thread after it suspends, for the host and for whatever runs there next,
 * and when resumed it runs with whatever mask that thread has then.  The
 * exception is the "swapcontext" backend (exco_context_backend()), where
 * each coroutine has a mask of its own: it starts with its first poller's,
 * its changes are undone for the host when it suspends, and the host's
 * never reach it.  Floating-point control modes are per coroutine on
 * every backend: the rounding direction (fesetround()) and, where the CPU
 * keeps them with it (x86-64 MXCSR and x87 control word, AArch64 FPCR),
 * trap enables and flush-to-zero.  A coroutine starts with the modes of
 * the thread that first polls it, keeps the ones it sets across every
 * suspension, on any thread, and never passes them to the host, which
 * finds its own when exco_poll() returns.  Whether the exception status
 * flags (fetestexcept()) follow the coroutine or the thread is not
 * specified.
 *
 * C++
 *
 * Coroutines may throw and catch C++ exceptions, and suspend inside catch
 * blocks and in destructors that run during unwinding: each coroutine has
 * its own stack of caught exceptions (what "throw;" and
 * std::current_exception() see) and its own std::uncaught_exceptions()
 * count, which the C++ runtime otherwise keeps per thread; exco swaps them
 * at every switch when a C++ runtime (libstdc++ or libc++abi, through the
 * Itanium ABI's __cxa_get_globals()) is in the process when libexco is
 * loaded.  An exception must not propagate out of a coroutine's function,
 * nor through exco_await() or any other exco frame: catch it inside.
 *
 * FORK
 *
 * In the child of fork() only the thread that called it exists.  exco's
 * process-wide state is made safe for the child (pthread_atfork): its
 * locks are not held by threads that are gone, and the timer thread that
 * serves executors without a timer hook is started again when the child
 * first needs one.  Executors, tasks, wakers and promises inherited from
 * the parent may be used in the child only if no other thread of the
 * parent was using them at the fork (a prefork server that forks before
 * it starts threads is fine); otherwise the child makes executors of its
 * own and leaves the inherited ones alone (their locks may be held, their
 * timers are forgotten).  tests/test-fork.c forks 40 times while two
 * threads run tasks.
 *
 * SIGNALS
 *
 * No exco function is async-signal-safe: not exco_waker_wake(), not
 * exco_promise_resolve(), not exco_spawn().  A wake takes the host's
 * locks (the local executor's mutex, a driver's queue), which the
 * interrupted code may hold, and would deadlock or corrupt them.  To wait
 * for a signal in a coroutine, use the libuv driver's exco_uv_signal(),
 * or a self-pipe (write(2) in the handler is async-signal-safe) and an fd
 * wait (exco_libev_wait_fd(), exco_libevent_wait_fd(), exco_glib_wait_fd()).
 *
 * ERRORS
 *
 * Functions that can fail return 0 (or a documented non-negative value)
 * on success and a negative EXCO_E* code on failure.  Each code equals the
 * negated errno value of the same name, and exco_strerror() describes it.
 * errno itself is preserved across exco_await(): a coroutine sees the
 * errno it left, whatever the host loop did meanwhile (see THREADS for
 * executors that let tasks move between threads).
 *
 * CANCELLATION
 *
 * Dropping a pending task cancels it: the coroutine is resumed one last
 * time, the await it is blocked in returns EXCO_ECANCELED, and so does every
 * later await, so the function can clean up and return.  Then its stack is
 * released.  A task dropped before its first poll never runs at all.
 * exco_task_cancel() requests the same from any thread without dropping:
 * the host's next poll runs the coroutine, whose awaits then return
 * EXCO_ECANCELED (a task not started yet still runs its function, from the
 * top, with every await failing so).
 *
 * STACKS
 *
 * Each coroutine has an mmap'd stack, lazily committed (a suspended
 * coroutine costs the pages it touched), with a PROT_NONE guard region
 * below it by default: 1 MiB on 64-bit systems (64 KiB elsewhere), which
 * costs address space, not memory, and is large enough that a big local
 * array can't jump over it into another coroutine's live frames
 * (exco_set_stack_guard()).  Build coroutine code with
 * -fstack-clash-protection where the compiler has it (gcc 8+, clang 11+;
 * libexco itself is): every frame then touches its pages in order, so
 * any overflow hits the guard.  Each guard splits a kernel mapping, so
 * vm.max_map_count (65530 by default on Linux) bounds the number of
 * guarded stacks to about 32,000; past it exco_spawn() fails with
 * EXCO_ENOMEM.  EXCO_SPAWN_NOGUARD stacks are carved from large shared
 * mappings instead and have a canary word checked at every switch, so a
 * process can hold a million of them.
 *
 * Freed stacks are pooled per executor and reused without a system call,
 * however many there are, within two process-wide limits
 * (exco_set_stack_pool_limits()).  Pooled stacks keep at most a bounded
 * number of bytes resident (by default 1/16 of physical memory, within
 * 64 and 512 MiB): one that would go over it has its pages given back
 * with madvise() as it is pooled (all of them; an unguarded stack keeps
 * its top page), and costs page faults when reused.  And pooled guarded
 * stacks never take the last mappings: one is kept only while guarded
 * stacks, live and pooled, take at most vm.max_map_count less a
 * sixteenth, and when a mapping fails anyway every pool of the process
 * unmaps its guarded stacks before the spawn is given up.
 *
 * A stack overflow is a fault exco can't turn into an error.  By default
 * it is the process's SIGSEGV, as for any thread.  After
 * exco_overflow_report_install(), a fault in a running coroutine's guard
 * region prints the task's name, its stack size and how deep it went on
 * stderr, then aborts (a core dump is still written where enabled).
 */
#ifndef EXCO_H
#define EXCO_H

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_BUILDING)
#define EXCO_API __attribute__((visibility("default")))
#else
#define EXCO_API
#endif

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

/**
 * An argument is NULL or out of range, or a handle is not what the call
 * needs (not a task, not an executor, not one of the driver's).
 */
#define EXCO_EINVAL (-EINVAL)
/** Memory, or a stack mapping, could not be had. */
#define EXCO_ENOMEM (-ENOMEM)
/** The task was cancelled (dropped while pending, or exco_task_cancel). */
#define EXCO_ECANCELED (-ECANCELED)
/**
 * The call needs a coroutine and the caller is not running in one; or a
 * host entry point (exco_poll(), exco_drop()) was called on a task that
 * a driver on the shared run queue owns (<exco/driver.h>).
 */
#define EXCO_EPERM (-EPERM)
/**
 * The object is in use: an executor that still has live tasks, a task that
 * is running (re-entrant or concurrent poll or drop), a promise or socket
 * that already has a waiter.  Also a host entry point (exco_poll(),
 * exco_run()) called from inside a coroutine.
 */
#define EXCO_EBUSY (-EBUSY)
/**
 * Done already: a second drop (or a poll after the drop), a second resolve
 * of a promise, cancelling a task that has finished, closing a socket
 * twice.
 */
#define EXCO_EALREADY (-EALREADY)
/** A task tried to join itself, which could never finish. */
#define EXCO_EDEADLK (-EDEADLK)
/**
 * The executor has no such operation: exco_run() on a host-driven one, a
 * <exco/uv.h> awaitable on one that has no libuv loop.
 */
#define EXCO_ENOTSUP (-ENOTSUP)

/**
 * A deadline passed first: an await pending at the running task's deadline
 * (exco_deadline_set()), or a driver call's own timeout.
 */
#define EXCO_ETIMEDOUT (-ETIMEDOUT)
/**
 * The executor is closing (exco_executor_close()): it takes no new tasks.
 */
#define EXCO_ESHUTDOWN (-ESHUTDOWN)
/**
 * The task runs on another thread: exco_poll() or exco_drop() of a started
 * task from a thread other than the one that first polled it, on an
 * executor that doesn't allow migration (exco_executor_set_migration());
 * exco_run() of a local executor from a thread other than its first
 * runner's.  Nothing happened; a pending wake is kept.
 */
#define EXCO_EXDEV (-EXDEV)

/**
 * Describes an error code.
 *
 * @param err  an EXCO_E* code (negative), or any negative errno value.
 * @return     a static string; never NULL.  0 gives "success".  Other
 *             negative errno values get the C library's description (that
 *             of strerror()); anything else, positive values included, a
 *             generic "unknown error".
 */
EXCO_API const char *exco_strerror(int err);

/* ---------------------------------------------------------------------- */
/* The driver contract                                                     */
/* ---------------------------------------------------------------------- */

/** An executor: one host loop's set of tasks and its callbacks. */
typedef struct exco_executor exco_executor;

/**
 * A task: the library's ("intern") handle for one coroutine.  The host gets
 * it in task_run and passes it to exco_poll() and exco_drop().  Users get
 * it as a join handle from exco_spawn().
 */
typedef struct exco_task exco_task;

/**
 * Host callback: allocate the host's ("extern") handle for a new task.
 *
 * @param data  the user data given with the callbacks.
 * @return      the extern handle; NULL means the host could not allocate
 *              one, and exco_spawn() then fails with EXCO_ENOMEM.
 */
typedef void *(*exco_task_new_cb)(void *data);

/**
 * Host callback: store @p intern in @p ext and schedule the first poll.
 * Called exactly once per task, right after task_new, on the thread that
 * called exco_spawn().  The coroutine's body does not run before that
 * first poll.
 */
typedef void (*exco_task_run_cb)(void *ext, exco_task *intern);

/**
 * Host callback: schedule another poll of the task behind @p ext.
 * Called from any thread, possibly while the task runs.  exco coalesces
 * wakes: it does not call task_wake again until the host has polled.  It
 * is never called after exco_drop() returned for that task.  The host must
 * not poll from inside task_wake (the poll would be re-entrant); it should
 * queue the task and poll it from its loop.
 */
typedef void (*exco_task_wake_cb)(void *ext);

/**
 * Sets up the process-default executor with the host's callbacks, the
 * shape of extern_executor's rust_async_executor_init().  Until this is
 * called the default executor is a local one (see exco_run()).  Call it
 * once at start-up, before any task is spawned on the default executor
 * and while no other thread uses it.
 *
 * @return 0; EXCO_EINVAL if a callback is NULL; EXCO_EBUSY if the default
 *         executor has live tasks; EXCO_ENOMEM.
 */
EXCO_API int exco_init(exco_task_new_cb task_new, exco_task_run_cb task_run,
                       exco_task_wake_cb task_wake, void *data);

/**
 * Creates an executor driven by a host loop through the three callbacks.
 *
 * @param out   receives the executor; the caller owns it and frees it with
 *              exco_executor_free().
 * @return 0; EXCO_EINVAL if @p out or a callback is NULL; EXCO_ENOMEM.
 */
EXCO_API int exco_executor_new(exco_executor **out, exco_task_new_cb task_new,
                               exco_task_run_cb task_run,
                               exco_task_wake_cb task_wake, void *data);

/**
 * Creates an executor with a built-in run queue, driven by exco_run() or
 * exco_run_until_idle() instead of a host loop.
 *
 * @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM.
 */
EXCO_API int exco_executor_new_local(exco_executor **out);

/**
 * Frees an executor and its pooled stacks now, with its driver's state
 * (the driver's close hook, <exco/driver.h>).  For an executor with tasks
 * still pending, see exco_executor_close().
 *
 * @return 0; EXCO_EINVAL if @p ex is NULL, not an executor, or the default
 *         executor; EXCO_EBUSY if it still has live tasks (see
 *         exco_executor_live(); the executor is left intact);
 *         EXCO_EALREADY if it is closing (exco_executor_close() frees it).
 */
EXCO_API int exco_executor_free(exco_executor *ex);

/**
 * Lets the tasks of @p ex be polled and dropped on any thread, not only on
 * the thread of their first poll (and a local executor be run by several
 * threads).  For hosts that move work between threads.  The price is in
 * THREADS above: code in the coroutines must not keep errno or __thread
 * addresses across an await.  Set it before the first task runs.
 *
 * @param allow  nonzero to allow, 0 to pin tasks again (the default).
 * @return 0; EXCO_EINVAL if @p ex is not an executor; EXCO_ENOTSUP for a
 *         driver on the shared run queue, which polls on its loop thread
 *         only.
 */
EXCO_API int exco_executor_set_migration(exco_executor *ex, int allow);

/**
 * The user data given with the executor's callbacks (exco_init() or
 * exco_executor_new()) or driver (exco_driver_executor_new()); NULL for
 * local executors (the default executor too, until exco_init()) or if
 * @p ex is NULL or not an executor.  Drivers find their state with
 * exco_driver_data(), which also checks that the executor is theirs.
 */
EXCO_API void *exco_executor_data(exco_executor *ex);

/**
 * The process-default executor (never NULL), set up as a local executor on
 * first use.  The library owns it: it can't be freed.
 */
EXCO_API exco_executor *exco_default_executor(void);

/** The executor of the running coroutine, or NULL outside coroutines. */
EXCO_API exco_executor *exco_current_executor(void);

/**
 * Host entry point: resume the task until it awaits something pending or
 * returns.  Must be called from outside any coroutine.
 *
 * @return 1: still pending; the library will call task_wake when it can
 *         make progress (the wake may already have happened).
 *         0: the function has returned (or was never going to run because
 *         it was cancelled); the host should call exco_drop().  Polling a
 *         finished task again returns 0 and does nothing.
 *         EXCO_EINVAL: @p task is NULL or not a task.
 *         EXCO_EBUSY: called from inside a coroutine, or the task is being
 *         polled or dropped right now on another thread.  Nothing happened
 *         and any pending wake is kept.
 *         EXCO_EALREADY: the task has been dropped (seen while the task
 *         is still referenced, as for exco_drop(); polling a task whose
 *         last reference is gone is undefined).
 *         EXCO_EPERM: the task belongs to a driver on the shared run queue
 *         (<exco/driver.h>) or to a local executor, which polls it itself.
 *         EXCO_EXDEV: the task was first polled on another thread and its
 *         executor doesn't allow migration (see THREADS).
 *         A host that treats the result as a bool ("pending?") stays
 *         correct: errors read as "pending", so it never drops a task
 *         because of one.
 */
EXCO_API int exco_poll(exco_task *task);

/**
 * Host entry point: release the task.  If it is still pending it is
 * cancelled first: its coroutine runs once more, inside this call, with
 * every await returning EXCO_ECANCELED, until the function returns.  A task
 * that was never polled does not run at all.  After this returns the host
 * must not use @p task again and no task_wake for it will come.
 *
 * @return 0; EXCO_EINVAL if @p task is NULL or not a task; EXCO_EALREADY on
 *         a second drop (detected while the task is still referenced, for
 *         example by a waker or join handle; otherwise its memory is gone
 *         and a second drop is as undefined as a second free());
 *         EXCO_EBUSY if called from inside the task's own coroutine, from
 *         inside any coroutine while the task has started (a cancelled
 *         coroutine can't be resumed from another one), or while the task's
 *         coroutine runs in an exco_poll() on another thread (the host must
 *         not overlap poll and drop at all; this catches the common case);
 *         EXCO_EPERM if the task belongs to a driver on the shared run
 *         queue (<exco/driver.h>) or to a local executor, which drop it
 *         themselves (a join handle is given back with
 *         exco_task_release(), never dropped); EXCO_EXDEV if the task has
 *         started on another thread and its executor doesn't allow
 *         migration (cancelling it would run it here).
 *
 * Before it returns, exco_drop() waits for any other thread that is inside
 * the host's task_wake for this task at that moment (a few instructions of
 * the host's code), so that no task_wake can follow it.  So the host must
 * not hold a lock that its task_wake takes while it calls exco_drop().
 */
EXCO_API int exco_drop(exco_task *task);

/* ---------------------------------------------------------------------- */
/* Spawning and joining                                                    */
/* ---------------------------------------------------------------------- */

/** A coroutine's function.  Its return value is the task's result. */
typedef void *(*exco_fn)(void *arg);

/** Default stack size: 256 KiB of address space, committed as touched. */
#define EXCO_STACK_DEFAULT ((size_t)256 * 1024)
/** Smallest stack size accepted (smaller requests are rounded up). */
#define EXCO_STACK_MIN ((size_t)16 * 1024)

/** Spawn flag: no guard page; the stack comes from a shared slab. */
#define EXCO_SPAWN_NOGUARD 0x1u

/**
 * Sets the PROT_NONE guard region below guarded stacks mapped from now on
 * (stacks already mapped, pooled ones included, keep theirs): rounded up
 * to whole pages.  A fault anywhere in it is an overflow (and with
 * exco_overflow_report_install() is reported as one); a frame larger than
 * the guard could jump it, unless the code was built with
 * -fstack-clash-protection.  The guard costs address space only.
 * Process-wide; set it at start-up.
 *
 * @param bytes  0 restores the default (1 MiB on 64-bit systems, 64 KiB
 *               elsewhere).
 * @return 0; EXCO_EINVAL above 1 GiB.
 */
EXCO_API int exco_set_stack_guard(size_t bytes);

/** The guard size that stacks mapped now get, in bytes. */
EXCO_API size_t exco_stack_guard(void);

/**
 * Sets the process-wide limits on what the executors' stack pools keep
 * (see STACKS), and brings the pools within them at once.
 *
 * @param resident_bytes  bytes that pooled stacks may keep resident, all
 *                        pools together; pooled stacks beyond it are
 *                        trimmed (madvise(MADV_DONTNEED); unguarded ones
 *                        keep their top page, which still counts) but
 *                        stay mapped.  0: the default, 1/16
 *                        of physical memory within 64 and 512 MiB.  How
 *                        many bytes a pooled stack keeps is measured with
 *                        mincore() at its first release and every 256th;
 *                        in between it counts as the larger of that and
 *                        its size class's recent measurements.  So the
 *                        bound holds for tasks of one size that use their
 *                        stacks alike, and may be passed for a while when
 *                        the tasks of a size grow deeper than before.
 * @param maps            kernel mappings (VMAs) that guarded stacks, live
 *                        and pooled, may take while a freed one is still
 *                        pooled; past it freed guarded stacks are unmapped.
 *                        Each guarded stack takes two.  0: the default,
 *                        vm.max_map_count (read from /proc at first use)
 *                        less a sixteenth, which leaves the rest of the
 *                        process about 4,000 mappings.
 * @return 0.  Thread-safe; it waits for each pool's lock in turn.
 */
EXCO_API int exco_set_stack_pool_limits(size_t resident_bytes, size_t maps);

/** What the stack pools of the process hold (exco_stack_pool_usage()). */
typedef struct exco_stack_pool_stats {
  size_t pooled;         /**< stacks in the pools */
  size_t resident;       /**< bytes they count as resident (an estimate) */
  size_t resident_limit; /**< the resident limit in force */
  size_t maps;           /**< mappings of guarded stacks, live and pooled */
  size_t maps_limit;     /**< the map limit in force */
} exco_stack_pool_stats;

/**
 * Fills @p out with the pools' counters and limits.  Each field is read
 * on its own, so with other threads spawning they need not add up.
 *
 * @return 0; EXCO_EINVAL if @p out is NULL.
 */
EXCO_API int exco_stack_pool_usage(exco_stack_pool_stats *out);

/**
 * Opts in to stack overflow reports.  Installs a SIGSEGV and SIGBUS
 * handler that runs on an alternate signal stack (each thread that polls
 * coroutines gets one, 64 KiB, at its next poll, unless it has one
 * already; freed at thread exit).  When a fault hits the guard region of
 * the coroutine running on that thread (or, for an EXCO_SPAWN_NOGUARD
 * stack, lands below it), the handler writes
 *
 *     exco: stack overflow in task "deep": stack 262144 bytes, guard
 *     1048576 bytes; fault 224 bytes below the stack, 262368 bytes deep
 *
 * to stderr and calls abort().  Any other fault goes to the handler that
 * was installed before (called as it asked to be, with or without
 * SA_SIGINFO), or, if there was none, gets the default action.
 *
 * Opt-in because the signal handlers belong to the program: Node.js, the
 * Dart VM, the JVM and sanitizers install their own.  Call it after
 * theirs, so exco chains to them; and install no SIGSEGV handler after
 * this one, or exco's is replaced.  An unguarded stack that overflows
 * into memory that is mapped corrupts it without a fault: that is what the
 * guard, and its canary check at every switch, are for.
 *
 * @return 0; EXCO_EALREADY if installed already; a negative errno value
 *         if sigaction() fails.
 */
EXCO_API int exco_overflow_report_install(void);

/**
 * Per-spawn options.  Zero-initialise, then set what you need: a zero
 * field means the default.  The library copies what it needs; @p name must
 * stay valid for the task's life (it is not copied).
 */
typedef struct exco_spawn_opts {
  size_t stack_size; /* bytes; 0 = EXCO_STACK_DEFAULT; rounded to pages */
  const char *name;  /* for debugging; may be NULL */
  unsigned flags;    /* EXCO_SPAWN_* */
} exco_spawn_opts;

/**
 * Spawns @p fn(@p arg) as a coroutine on @p ex: calls the host's task_new
 * then task_run.  The function does not run before the first poll.
 *
 * @param ex    the executor; NULL means the current coroutine's executor,
 *              or the default executor outside coroutines.  Callable from
 *              any thread.
 * @param opts  NULL for defaults.
 * @param out   if not NULL, receives a join handle: a reference to the task
 *              that the caller owns and must give back with
 *              exco_task_release() (after exco_join(), or instead of it).
 *              If NULL the task is detached.
 * @return 0; EXCO_EINVAL if @p fn is NULL, @p ex is not an executor, or
 *         @p opts has unknown flags or a stack size above 1 TiB;
 *         EXCO_ENOMEM if memory or the stack mapping could not be had (for
 *         example vm.max_map_count is exhausted), the default executor
 *         could not be set up, or the host's task_new returned NULL.  On
 *         failure nothing is left behind, task_run is not called and
 *         @p out is not written.
 */
EXCO_API int exco_spawn(exco_executor *ex, exco_fn fn, void *arg,
                        const exco_spawn_opts *opts, exco_task **out);

/**
 * Awaits the end of @p task (from inside a coroutine) and fetches its
 * result.  Does not release the join handle.
 *
 * @param result  if not NULL, receives the function's return value (NULL if
 *                the task was cancelled before it ran).
 * @return 0 when the task returned normally; EXCO_ECANCELED if the task was
 *         cancelled (its result is still stored) or the caller is
 *         cancelled (before or while waiting; @p result is not written
 *         then); EXCO_EPERM outside a coroutine (checked first);
 *         EXCO_EINVAL if @p task is NULL or not a task; EXCO_EDEADLK if
 *         @p task is the caller itself.
 */
EXCO_API int exco_join(exco_task *task, void **result);

/**
 * Checks without waiting whether @p task has finished: its function has
 * returned, or it was dropped before it ran.  From any thread.
 *
 * @return 1 finished, 0 not yet (spawned, pending or running), EXCO_EINVAL
 *         if @p task is NULL or not a task.
 */
EXCO_API int exco_task_done(exco_task *task);

/**
 * Requests cancellation of @p task from any thread: its current or next
 * await returns EXCO_ECANCELED, as do all later ones.  The task is woken,
 * and the host's next poll runs it (a task not started yet still starts).
 * A task may cancel itself.  Cancelling again before it finishes is
 * harmless and returns 0.
 *
 * @return 0; EXCO_EINVAL if @p task is NULL or not a task; EXCO_EALREADY
 *         if it has finished (or was dropped).
 */
EXCO_API int exco_task_cancel(exco_task *task);

/**
 * Gives back a join handle from exco_spawn(), once; the handle must not be
 * used afterwards.  It does not cancel or drop the task.  NULL is ignored.
 */
EXCO_API void exco_task_release(exco_task *task);

/** The running coroutine's task (borrowed), or NULL outside coroutines. */
EXCO_API exco_task *exco_current(void);

/**
 * The name given at spawn (the caller's pointer, not a copy), or NULL if
 * none was given or @p task is NULL or not a task.
 */
EXCO_API const char *exco_task_name(exco_task *task);

/* ---------------------------------------------------------------------- */
/* Awaiting: wakers and leaf futures                                       */
/* ---------------------------------------------------------------------- */

/**
 * A waker: wakes one task from any thread.  The waker that a poll function
 * receives is borrowed for the duration of that call; keep one with
 * exco_waker_clone() and give it back with exco_waker_drop().
 */
typedef struct exco_waker exco_waker;

/**
 * A leaf future's poll function, called on the awaiting coroutine's stack.
 * Return nonzero when the awaited thing is ready (the result is wherever
 * @p arg says).  Return 0 when it is not, after arranging for
 * exco_waker_wake(@p waker) to be called once it may be ready; it is then
 * called again after that wake (and possibly spuriously).  It must not
 * await.
 *
 * The readiness check and the waker's registration must not race the
 * other side's "make ready, then wake": do both under the lock that side
 * takes (as exco's promise does), or, with atomics, register the waker
 * first and then check readiness, all with sequentially consistent
 * operations on both sides.  Otherwise a wake can fall between the check
 * and the registration and be lost.
 */
typedef int (*exco_poll_fn)(void *arg, exco_waker *waker);

/**
 * Called if the awaiting task is cancelled while the future is pending, so
 * the future can withdraw the waker it registered.  Runs on the coroutine's
 * stack, before exco_await() returns EXCO_ECANCELED.
 */
typedef void (*exco_cancel_fn)(void *arg);

/**
 * Awaits a leaf future: calls @p poll, and while it is not ready suspends
 * the coroutine until a wake, then polls again.
 *
 * @param cancel  may be NULL.
 * @return 0 when @p poll said ready; EXCO_ECANCELED if the task is cancelled
 *         (checked before the first poll too); EXCO_EPERM outside a
 *         coroutine; EXCO_EINVAL if @p poll is NULL.
 */
EXCO_API int exco_await(exco_poll_fn poll, exco_cancel_fn cancel, void *arg);

/**
 * Wakes the running task and suspends it, letting the host poll others
 * first.
 *
 * On a host of the three callbacks the wake is the host's task_wake, made
 * once the coroutine has switched out.  The built-in executors and the
 * drivers on the shared run queue (exco/driver.h) queue the task again
 * themselves, without a call to the host: to other threads the task stays
 * "in its poll" until it suspends for real (exco_task_get_info() lists it
 * as ready).  The run queue polls it after the tasks queued before its
 * yield; the local executor may poll a round's yielded tasks again before
 * the tasks woken during that round, for up to 64 polls.
 *
 * There, a yield with no other task ready, while the loop's budget allows
 * another poll (exco_driver_run()'s @budget; a local round's 64), returns
 * at once without switching: it is what the loop would do next, and it
 * counts as that poll (exco_task_info.polls, the budget).  The host still
 * gets control once the budget is spent, and on the run queue a task woken
 * meanwhile runs before the yielding one continues.  A watchdog
 * (exco_executor_watchdog()) turns this off, so that it times each poll.
 *
 * @return 0; EXCO_ECANCELED; EXCO_EPERM outside a coroutine.
 */
EXCO_API int exco_yield(void);

/**
 * Runs @p fn(@p arg) on the stack of the thread that is polling the
 * running task -- the host loop's own stack -- and returns when it has
 * returned.
 *
 * Why: a coroutine runs on a stack exco allocated, and some runtimes
 * check that the stack pointer lies inside the thread's stack.  V8 does
 * (calling JavaScript from a coroutine through napi_call_function() fails
 * with "RangeError: Maximum call stack size exceeded"), CPython's
 * recursion guard and the JVM can, and so can any code that was built
 * with split stacks or reads the thread's stack bounds.  Call such code
 * through this function.  It is also the way to run something deep (a
 * big recursion, a large local array) that would not fit in a small
 * coroutine stack.
 *
 * How: the coroutine switches back to its poller, which calls @p fn
 * before it returns to the host and resumes the coroutine as soon as
 * @p fn returns, in the same poll.  It is not a suspension: the task stays
 * running throughout, so no other task runs in between, and no wake,
 * cancellation or deadline can interrupt it (a cancellation that arrives
 * meanwhile is seen by the next await).  The cost is two context switches
 * (tens of nanoseconds).
 *
 * Inside @p fn the caller is not in a coroutine: exco_current() is NULL
 * and exco_await() returns EXCO_EPERM.  @p fn may spawn tasks, wake
 * wakers and resolve promises; it must not run the host loop or poll
 * tasks, and must not unwind past its own frame (longjmp, C++
 * exceptions).  errno after the call is the value @p fn left.  Outside a
 * coroutine @p fn is simply called.
 *
 * @return 0 once @p fn has returned; EXCO_EINVAL if @p fn is NULL.
 */
EXCO_API int exco_host_call(void (*fn)(void *arg), void *arg);

/**
 * Returns a new reference to the running task's waker.
 *
 * @return the waker, or NULL outside a coroutine.  Owned by the caller.
 */
EXCO_API exco_waker *exco_waker_current(void);

/**
 * Returns a new reference to @p w (NULL if @p w is NULL), which the caller
 * gives back with exco_waker_drop().  A waker keeps the task's control
 * block, not its stack, alive: it may outlive the task.
 */
EXCO_API exco_waker *exco_waker_clone(exco_waker *w);

/**
 * Wakes the task behind @p w: at least one poll of it will happen after
 * this call, unless it has finished or been dropped, in which case this
 * does nothing.  Safe from any thread, any number of times.  Does not
 * consume @p w.  NULL is ignored.
 */
EXCO_API void exco_waker_wake(exco_waker *w);

/** Gives back a waker reference.  NULL is ignored. */
EXCO_API void exco_waker_drop(exco_waker *w);

/**
 * A hold keeps the running coroutine's stack mapped, and out of the pool's
 * hands, after the task ends: for a leaf future that lent stack memory (a
 * request struct, a buffer) to something that can't be stopped at once: a
 * kernel call, a thread pool, a libuv request whose callback is still to
 * come.  Take the hold before lending; release it from the callback that
 * ends the loan.
 *
 * A hold protects the stack from being unmapped or given to another task,
 * not from the coroutine itself: a cancelled coroutine keeps running and
 * its later calls reuse the frames of the ones that returned.  Lend only
 * memory of a frame that stays alive until the function returns (its
 * outermost frame, say), or lend heap memory instead.
 *
 * @return the hold, or NULL outside a coroutine.
 */
typedef struct exco_hold exco_hold;
EXCO_API exco_hold *exco_hold_stack(void);

/** Ends a hold; from any thread.  NULL is ignored. */
EXCO_API void exco_hold_release(exco_hold *hold);

/* ---------------------------------------------------------------------- */
/* Promises                                                                */
/* ---------------------------------------------------------------------- */

/**
 * A one-shot value, resolved once from any thread (a callback, another
 * task) and awaited by one coroutine at a time.  Reference counted: the
 * creator holds one reference; give another to each party that may outlive
 * the others (for example the callback that resolves it) with
 * exco_promise_ref().
 */
typedef struct exco_promise exco_promise;

/** @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM. */
EXCO_API int exco_promise_new(exco_promise **out);

/** Adds a reference; returns @p p (NULL if @p p is NULL). */
EXCO_API exco_promise *exco_promise_ref(exco_promise *p);

/** Drops a reference; the last one frees the promise.  NULL is ignored. */
EXCO_API void exco_promise_unref(exco_promise *p);

/**
 * Resolves @p p with @p value and wakes its waiter.  From any thread.  The
 * promise stores @p value and does not own what it points to.
 *
 * @return 0; EXCO_EINVAL if @p p is NULL; EXCO_EALREADY if already resolved
 *         (the first value stays).
 */
EXCO_API int exco_promise_resolve(exco_promise *p, void *value);

/**
 * Awaits @p p and stores its value in @p value (if not NULL).  Returns at
 * once if it is resolved already.  The value is not consumed: later awaits
 * get it again.  The await holds its own reference to @p p.
 *
 * @return 0; EXCO_ECANCELED if the task is cancelled (even when @p p is
 *         resolved already); EXCO_EPERM outside a coroutine; EXCO_EINVAL
 *         if @p p is NULL; EXCO_EBUSY if another coroutine is already
 *         waiting on it.  @p value is written only on success.
 */
EXCO_API int exco_promise_await(exco_promise *p, void **value);

/** @return 1 if resolved, 0 if not, EXCO_EINVAL. */
EXCO_API int exco_promise_is_resolved(exco_promise *p);

/* ---------------------------------------------------------------------- */
/* Time: sleeps and deadlines                                              */
/* ---------------------------------------------------------------------- */

/*
 * Timers work on every executor.  exco keeps one timer queue per executor;
 * a driver with timers of its own (libuv's, the local executor's timed
 * wait) is asked to fire it, and an executor made from the three
 * callbacks alone gets its timers from one helper thread that exco starts
 * on first use and that wakes the due tasks through the host's task_wake.
 * Times are milliseconds of CLOCK_MONOTONIC.  Timers that fall due at the
 * same time fire in the order they were armed.
 */

/** "No deadline", for exco_deadline_set(). */
#define EXCO_NO_DEADLINE INT64_MAX

/** Milliseconds of the monotonic clock that deadlines are measured on. */
EXCO_API int64_t exco_now(void);

/**
 * Suspends the running coroutine for at least @p ms milliseconds.
 *
 * @return 0; EXCO_ECANCELED if the task is cancelled (before or while
 *         sleeping); EXCO_ETIMEDOUT if the task's deadline comes first;
 *         EXCO_EPERM outside a coroutine.
 */
EXCO_API int exco_sleep(uint64_t ms);

/**
 * Suspends the running coroutine until exco_now() >= @p deadline.  A
 * deadline in the past still suspends once, letting the host poll others.
 *
 * @return as exco_sleep().
 */
EXCO_API int exco_sleep_until(int64_t deadline);

/**
 * Sets the running task's deadline: every await that is still pending at
 * @p deadline (exco_await() and everything built on it -- joins, promises,
 * sleeps, driver awaitables) withdraws its future as for a cancellation
 * and returns EXCO_ETIMEDOUT; so do later awaits that are not ready at
 * once, until the deadline is changed.  Unlike a cancellation, the task
 * goes on normally once the deadline is moved.  A ready future wins over
 * a deadline seen at the same time.  The deadline belongs to the task and
 * is not inherited by tasks it spawns.  To scope a deadline, keep the
 * previous one and put it back:
 *
 *     int64_t prev;
 *     exco_deadline_after(100, &prev);      // at most 100 ms from here
 *     err = exco_promise_await(p, &v);      // EXCO_ETIMEDOUT after 100 ms
 *     exco_deadline_set(prev, NULL);
 *
 * @param deadline  an exco_now() time, or EXCO_NO_DEADLINE.
 * @param prev      if not NULL, receives the deadline it replaces.
 * @return 0; EXCO_EPERM outside a coroutine.
 */
EXCO_API int exco_deadline_set(int64_t deadline, int64_t *prev);

/**
 * Sets the running task's deadline to @p ms milliseconds from now, unless
 * the one in force is sooner (nested timeouts only ever shorten it).
 *
 * @return as exco_deadline_set().
 */
EXCO_API int exco_deadline_after(uint64_t ms, int64_t *prev);

/** The running task's deadline; EXCO_NO_DEADLINE outside coroutines. */
EXCO_API int64_t exco_deadline_get(void);

/* ---------------------------------------------------------------------- */
/* The tasks of an executor, and closing it                                */
/* ---------------------------------------------------------------------- */

/**
 * Calls @p fn for each live task of @p ex (spawned and not yet dropped),
 * oldest first, until it returns nonzero.  @p fn runs with the executor's
 * task list locked: it may read the task (exco_task_name(),
 * exco_task_done()) and exco_task_cancel() it, but must not spawn on,
 * drop from, close or free the executor, and the task pointer is valid
 * only during the call (exco_task_release() of a join handle aside, take
 * nothing from it).
 *
 * @return the nonzero value @p fn stopped with, 0 when every task was
 *         visited, EXCO_EINVAL if @p ex or @p fn is NULL or @p ex is not an
 *         executor.
 */
EXCO_API int exco_executor_foreach(exco_executor *ex,
                                   int (*fn)(exco_task *task, void *arg),
                                   void *arg);

/**
 * Requests cancellation (exco_task_cancel()) of every live task of @p ex,
 * from any thread; the tasks finish as the host polls them.
 *
 * @return the number of tasks asked to cancel (tasks that had finished
 *         already are not counted); EXCO_EINVAL.
 */
EXCO_API long exco_executor_cancel_all(exco_executor *ex);

/** Called once an executor closed by exco_executor_close() is freed. */
typedef void (*exco_close_cb)(void *arg);

/**
 * Closes @p ex asynchronously, for a host's shutdown path: from now on
 * spawning on it fails with EXCO_ESHUTDOWN; every live task is cancelled;
 * and once the last task is gone (dropped, and no stack held) the
 * executor and its driver's state are freed and @p cb(@p arg) is called.
 * The host keeps running its loop meanwhile so the cancelled tasks can
 * finish.  If no task is live, all this happens before the call returns
 * -- except on the shared run queue, whose loop always finishes the close
 * (see below).
 *
 * Where @p cb runs: for the local executor, at the end of the exco_run()
 * or exco_run_until_idle() that saw the last task go (or right here); for
 * a driver on the shared run queue, on its loop thread outside any poll
 * (in the exco_driver_accept() that follows the driver's notify);
 * for an executor made from the three callbacks, inside the exco_drop()
 * or exco_hold_release() that let the last task go -- such a host must not
 * tear down what its loop still uses from inside @p cb.  The executor must
 * not be used once @p cb has run (nor by @p cb itself).
 *
 * @param cb  may be NULL.
 * @return 0; EXCO_EINVAL if @p ex is NULL, not an executor, or the default
 *         executor; EXCO_EALREADY if it is closing already.
 */
EXCO_API int exco_executor_close(exco_executor *ex, exco_close_cb cb,
                                 void *arg);

/* ---------------------------------------------------------------------- */
/* Listing tasks, and a watchdog for polls that never end                  */
/* ---------------------------------------------------------------------- */

/** Where a task is, as exco_task_get_info() reports it. */
typedef enum exco_task_state {
  EXCO_TASK_SPAWNED,    /* not polled yet */
  EXCO_TASK_READY,      /* woken: a poll is owed */
  EXCO_TASK_RUNNING,    /* inside a poll right now */
  EXCO_TASK_PENDING,    /* suspended, waiting for a wake */
  EXCO_TASK_CANCELLING, /* cancelled, not finished yet */
  EXCO_TASK_FINISHED    /* its function has returned (or never will run) */
} exco_task_state;

/** A snapshot of one task (exco_task_get_info()). */
typedef struct exco_task_info {
  const char *name; /* exco_spawn_opts.name, or NULL */
  exco_task_state state;
  uint64_t age_ms;     /* since exco_spawn() */
  unsigned long polls; /* polls so far */
  /* What a suspended task waits for: "yield", "sleep", "join",
   * "promise", a driver's label ("uv", "libev.fd", ...), "await" for an
   * unlabelled exco_await(); NULL while it runs or before it starts. */
  const char *waiting_on;
  const char *file; /* where it awaits (EXCO_SITE(), EXCO_TRACE_AWAITS) */
  int line;         /* or NULL and 0 */
  size_t stack_size;
  /* The stack's high-water mark, rounded up to pages: from the top of the
   * stack to the lowest page that is resident (mincore(2)).  A pooled
   * stack may keep pages an earlier task touched: the mark is an upper
   * bound.  0 once the stack is released. */
  size_t stack_used;
} exco_task_info;

/**
 * Fills @p out with a snapshot of @p task.  From any thread, while
 * something keeps the task alive (a join handle, or inside
 * exco_executor_foreach()); the fields are read without stopping the task,
 * so they may be a moment apart.
 *
 * @return 0; EXCO_EINVAL if an argument is NULL or @p task is not a task.
 */
EXCO_API int exco_task_get_info(exco_task *task, exco_task_info *out);

/** "spawned", "ready", "running", "pending", "cancelling", "finished". */
EXCO_API const char *exco_task_state_name(exco_task_state state);

/**
 * Writes one line per live task of @p ex to @p f:
 *
 *     exco executor 0x55d0c0a1e2a0 (uv): 2 live tasks
 *       "reader 3"  pending  age 1532 ms  polls 12  stack 8192/262144
 *           waiting on uv at server.c:42
 *
 * (fields separated by two spaces, the second line indented).  From any
 * thread; the list is walked under the executor's task list lock, so the
 * executor's own threads wait for it meanwhile.
 *
 * The same listing from a debugger, without calling into the process:
 * the gdb script installed as $(pkgdatadir)/exco-gdb.py (tools/ in the
 * sources) adds "exco tasks", and "exco bt TASK" for the backtrace of a
 * suspended task (README, Debugging).
 *
 * @return the number of tasks listed; EXCO_EINVAL if an argument is NULL
 *         or @p ex is not an executor.
 */
EXCO_API int exco_executor_dump(exco_executor *ex, FILE *f);

/**
 * Labels the running task's next await for listings: a driver's
 * awaitable calls it with a static string ("libev.fd") just before
 * exco_await().  The label lasts until that await returns.
 */
EXCO_API void exco_await_label(const char *kind);

/**
 * Records where the running task is about to await, for listings and
 * the gdb script (file and line are kept, not copied: pass string
 * literals).  EXCO_SITE() passes the current file and line; compiling
 * with -DEXCO_TRACE_AWAITS makes exco_await(), exco_yield(), exco_sleep(),
 * exco_join() and exco_promise_await() do it by themselves.
 */
EXCO_API void exco_await_site(const char *file, int line);
#define EXCO_SITE() exco_await_site(__FILE__, __LINE__)

/**
 * Called by the watchdog thread when a poll of @p task has run for
 * @p running_ms without suspending; once per such poll.  The task is not
 * stopped (nothing can stop a coroutine from outside): this is for
 * reporting.  Runs on the watchdog thread while the task is kept alive.
 */
typedef void (*exco_watchdog_fn)(exco_executor *ex, exco_task *task,
                                 uint64_t running_ms, void *arg);

/**
 * Opts @p ex in to the stall watchdog: a thread of exco's (one for the
 * process, started on first use, joined at exit) looks at the executor's
 * running tasks every quarter of the smallest threshold and reports each
 * poll that has lasted @p threshold_ms or more -- a coroutine in a busy
 * loop, one that ignores EXCO_ECANCELED and retries, a blocking call on
 * the loop thread.  The default report (@p fn NULL) is one line on
 * stderr:
 *
 *     exco: task "spinner" (executor local) has run 1003 ms in one poll
 *     without suspending
 *
 * With the watchdog on, each poll reads the clock once more (some 20 ns).
 *
 * @param threshold_ms  0 turns the watchdog off for @p ex.
 * @return 0; EXCO_EINVAL if @p ex is not an executor; EXCO_ENOMEM if the
 *         thread could not be started.
 */
EXCO_API int exco_executor_watchdog(exco_executor *ex, uint64_t threshold_ms,
                                    exco_watchdog_fn fn, void *arg);

/* ---------------------------------------------------------------------- */
/* The built-in local executor                                             */
/* ---------------------------------------------------------------------- */

/**
 * Polls the ready tasks of a local executor until none is ready.  Returns
 * without waiting for tasks that wait on other threads.
 *
 * @param ex  a local executor; NULL means the default executor.
 * @return the number of tasks not yet finished and dropped (>= 0; unlike
 *         exco_executor_live() it doesn't count stacks kept by holds);
 *         EXCO_ENOTSUP if @p ex is host-driven (the default executor too,
 *         after exco_init()); EXCO_EBUSY if called from inside a coroutine
 *         (checked first); EXCO_EINVAL if @p ex is not an executor;
 *         EXCO_ENOMEM if @p ex is NULL and the default executor could not
 *         be set up.
 */
EXCO_API int exco_run_until_idle(exco_executor *ex);

/**
 * Runs a local executor until all its tasks have finished, sleeping (not
 * spinning) while every task waits on another thread.
 *
 * @param ex  a local executor; NULL means the default executor.
 * @return 0; the same errors as exco_run_until_idle().
 */
EXCO_API int exco_run(exco_executor *ex);

/**
 * Number of live tasks of @p ex: spawned and not yet dropped, or dropped
 * while an exco_hold_stack() hold still keeps their stack (the stack
 * belongs to the executor's pool, so the executor can't go before it).
 *
 * @return the count (>= 0), or EXCO_EINVAL.
 */
EXCO_API long exco_executor_live(exco_executor *ex);

/**
 * Replaces the allocator exco uses for its own small objects (task control
 * blocks, promises, executors; not stacks, which are mmap'd).  Call it
 * before anything else in the process, or when no exco object is alive:
 * memory must be freed by the allocator that gave it.  NULL arguments
 * restore malloc/free.  Each function may fail (return NULL); exco then
 * returns EXCO_ENOMEM from the call that needed the memory.
 *
 * @return 0; EXCO_EINVAL if exactly one of the two is NULL.
 */
EXCO_API int exco_replace_allocator(void *(*malloc_fn)(size_t),
                                    void (*free_fn)(void *));

/**
 * Name of the context-switch backend compiled in (./configure
 * --with-context): "asm" (x86-64, AArch64), "ucontext" (makecontext, then
 * switches without a system call) or "swapcontext" (a system call per
 * switch; per-coroutine signal masks, see THREADS).
 */
EXCO_API const char *exco_context_backend(void);

/* Awaits that record their file and line (see exco_await_site()). */
#ifdef EXCO_TRACE_AWAITS
#define exco_await(poll, cancel, arg)                                          \
  (exco_await_site(__FILE__, __LINE__), exco_await((poll), (cancel), (arg)))
#define exco_yield() (exco_await_site(__FILE__, __LINE__), exco_yield())
#define exco_sleep(ms) (exco_await_site(__FILE__, __LINE__), exco_sleep(ms))
#define exco_join(task, result)                                                \
  (exco_await_site(__FILE__, __LINE__), exco_join((task), (result)))
#define exco_promise_await(p, value)                                           \
  (exco_await_site(__FILE__, __LINE__), exco_promise_await((p), (value)))
#endif

#ifdef __cplusplus
}
#endif
#endif /* EXCO_H */
