/*
 * rust_async_executor.h -- the C interface of the Rust crate
 * extern_executor, on exco.
 *
 * OVERVIEW
 *
 * A driver written for extern_executor (the seed of exco's driver
 * contract) compiles unchanged against this header and runs exco's
 * coroutines instead of Rust futures: the same names, the same types and
 * the same signatures as the crate's cbindgen header, with the libuv and
 * Dart entry points of its built-in drivers declared here too.  The
 * seed's own libuv driver, from its README, is such a program:
 *
 *     #include <uv.h>
 *     #include <rust_async_executor.h>
 *
 *     static void task_wake(RustAsyncExecutorExternTask data) {
 *         uv_async_send(data);
 *     }
 *     static void task_poll(uv_async_t *handle) {
 *         if (!rust_async_executor_poll(handle->data)) {
 *             rust_async_executor_drop(handle->data);
 *             uv_close((uv_handle_t *)handle, ...);
 *         }
 *     }
 *     ... task_new and task_run, then:
 *     rust_async_executor_init(task_new, task_run, task_wake, loop);
 *
 * The tasks it then drives are the coroutines spawned onto exco's
 * process-default executor: exco_spawn(NULL, fn, arg, NULL, NULL) from
 * <exco.h>, outside any coroutine.  Everything that exco.h says about
 * that executor, its threads, cancellation and timers holds.
 *
 * WHICH LIBRARY
 *
 *   rust_async_executor_init, _poll, _drop       libexco      (pkg-config exco)
 *   rust_async_executor_uv_init                  libexco-uv   (exco-uv)
 *   rust_async_executor_dart_init, _poll, _drop  libexco-dart (exco-dart)
 *
 * All of them are exported by name from the shared libraries, so a
 * program that looks them up at run time (Dart's FFI, dlsym) finds them.
 *
 * DIFFERENCES FROM THE SEED
 *
 *   - The tasks are exco coroutines on the default executor, not Rust
 *     futures; spawn them with exco_spawn().
 *   - rust_async_executor_poll() returns true ("pending") when exco_poll()
 *     reports an error, as exco.h explains: a host that reads the result as
 *     a bool never drops a task because of an error.  The seed has no
 *     errors to report (a bad handle is undefined behaviour there).
 *   - rust_async_executor_init() refuses, silently, what exco_init()
 *     refuses: a NULL callback, or a call while the default executor has
 *     live tasks (the seed would replace the callbacks under them).  The
 *     previous set-up stays.  Call exco_init() from <exco.h> to get the
 *     error code instead.
 *   - rust_async_executor_drop() of a pending task cancels it: its
 *     coroutine runs once more, inside the call, with every await
 *     returning EXCO_ECANCELED, so it can clean up.  The seed just frees
 *     the future.
 *   - task_wake is never called after rust_async_executor_drop() returned
 *     for the task, and wakes coalesce (at most one task_wake between two
 *     polls); the seed promises neither.
 *   - Several executors, one per loop and thread, are exco's own API
 *     (exco_executor_new()); this header only reaches the default one, as
 *     the seed's globals do.
 *
 * The header includes <stdarg.h>, <stdbool.h>, <stdint.h> and <stdlib.h>,
 * as the cbindgen header does: the seed's README driver calls malloc()
 * without including <stdlib.h> itself.
 */
#ifndef RUST_ASYNC_EXECUTOR_H
#define RUST_ASYNC_EXECUTOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_BUILDING)
#define EXCO_SEED_API __attribute__((visibility("default")))
#else
#define EXCO_SEED_API
#endif

/* ---------------------------------------------------------------------- */
/* Types                                                                   */
/* ---------------------------------------------------------------------- */

/** Raw C user data: the pointer given to rust_async_executor_init(). */
typedef void *RustAsyncExecutorUserData;

/**
 * The library's ("intern") handle of a task: on exco, an exco_task *.  The
 * host gets it in task_run and passes it to rust_async_executor_poll() and
 * rust_async_executor_drop().
 */
typedef RustAsyncExecutorUserData RustAsyncExecutorInternTask;

/** The host's ("extern") handle of a task, made by task_new. */
typedef RustAsyncExecutorUserData RustAsyncExecutorExternTask;

/** The user data that task_new receives. */
typedef RustAsyncExecutorUserData RustAsyncExecutorExternData;

/**
 * Host callback: allocate the extern handle of a new task.  Called on the
 * thread that spawns (exco_spawn()).  Returning NULL makes that spawn fail
 * with EXCO_ENOMEM.
 */
typedef RustAsyncExecutorExternTask (*RustAsyncExecutorTaskNew)(
    RustAsyncExecutorExternData);

/**
 * Host callback: store the intern handle in the extern one and schedule
 * the first poll.  Called once per task, right after task_new.
 */
typedef void (*RustAsyncExecutorTaskRun)(RustAsyncExecutorExternTask,
                                         RustAsyncExecutorInternTask);

/**
 * Host callback: schedule another poll of the task.  Called from any
 * thread, possibly while the task runs; it must not poll from inside.
 */
typedef void (*RustAsyncExecutorTaskWake)(RustAsyncExecutorExternTask);

/* ---------------------------------------------------------------------- */
/* The driver contract (libexco)                                           */
/* ---------------------------------------------------------------------- */

/**
 * Drives the process-default executor with the host's callbacks: exco's
 * exco_init() with the seed's types.  Call it once at start-up, before
 * spawning onto the default executor, while no other thread uses it.
 *
 * A NULL callback, a call while the default executor has live tasks, or
 * memory running out is not reported (the seed returns nothing): the
 * executor keeps what it had -- its previous callbacks, or the built-in
 * local executor -- and for memory, spawns fail with EXCO_ENOMEM.
 *
 * exco calls task_new and task_wake as given; task_run goes through a
 * trampoline of exco's type that calls the seed-typed one, so no function
 * is ever called through a pointer of another type.
 */
EXCO_SEED_API void rust_async_executor_init(RustAsyncExecutorTaskNew task_new,
                                            RustAsyncExecutorTaskRun task_run,
                                            RustAsyncExecutorTaskWake task_wake,
                                            RustAsyncExecutorExternData data);

/**
 * Resumes the task until it awaits something pending or returns: exco_poll().
 * Call it from the host's loop, outside any coroutine.
 *
 * @return true while the task is pending (task_wake will come when it can
 *         make progress); false once its function has returned (or it was
 *         cancelled before it ran): drop it then.  An error of exco_poll()
 *         -- not a task, dropped already, polled concurrently, called from
 *         inside a coroutine, a task of a shared-run-queue driver -- reads
 *         as true, so the host never drops a task because of one.
 */
EXCO_SEED_API bool rust_async_executor_poll(RustAsyncExecutorInternTask data);

/**
 * Releases the task: exco_drop(), its result ignored.  A pending task is
 * cancelled first (see DIFFERENCES FROM THE SEED).  The handle must not be
 * used afterwards.
 */
EXCO_SEED_API void rust_async_executor_drop(RustAsyncExecutorInternTask data);

/* ---------------------------------------------------------------------- */
/* The built-in libuv driver (libexco-uv)                                  */
/* ---------------------------------------------------------------------- */

/**
 * libuv's loop, by its struct tag: RustAsyncExecutorUvLoop * and
 * uv_loop_t * are the same type, so this header needs no <uv.h> and the
 * declaration below is always there.
 */
typedef struct uv_loop_s RustAsyncExecutorUvLoop;

/**
 * Drives the process-default executor with exco's own libuv driver on
 * @p uv_loop: exco_uv_init() from <exco/uv.h>, its result ignored.  The
 * calling thread becomes the loop thread.  Unlike the seed's driver (one
 * uv_async_t per task), exco's keeps three handles per loop and polls
 * ready tasks in batches; uv_run() returns once every task has finished.
 * The exco_uv_* awaitables work on it.  Errors (a NULL loop, live tasks
 * on the default executor, memory, a handle libuv can't initialise) leave
 * the default executor as exco_uv_init() documents; call exco_uv_init() to
 * see them.  Link libexco-uv (pkg-config exco-uv).
 */
EXCO_SEED_API void
rust_async_executor_uv_init(RustAsyncExecutorUvLoop *uv_loop);

/* ---------------------------------------------------------------------- */
/* The built-in Dart driver (libexco-dart)                                 */
/* ---------------------------------------------------------------------- */

/** A Dart port identifier (Dart_Port). */
typedef int64_t RustAsyncExecutorDartPort;

/**
 * Drives the process-default executor from a Dart isolate, as the seed's
 * Dart driver does: wakes are posted to @p port through @p post_cobject
 * (Dart_PostCObject, which the Dart side passes as NativeApi.postCObject),
 * and the Dart side polls and drops the tasks it reads from the port with
 * the two calls below.  Implemented by libexco-dart, whose header
 * <exco/dart.h> documents what is posted and when.
 *
 * The seed declares the second parameter of @p post_cobject as a pointer
 * to an opaque RustAsyncExecutorDartCObject; here it is void *, which has
 * the same representation.
 */
EXCO_SEED_API void rust_async_executor_dart_init(RustAsyncExecutorDartPort port,
                                                 bool (*post_cobject)(int64_t,
                                                                      void *));

/**
 * Polls a task whose handle the Dart side read from the port, as
 * rust_async_executor_poll(): true while pending, false once finished
 * (then drop it).  libexco-dart.
 */
EXCO_SEED_API bool
rust_async_executor_dart_poll(RustAsyncExecutorInternTask task);

/**
 * Releases a task of the Dart driver, as rust_async_executor_drop().
 * libexco-dart.
 */
EXCO_SEED_API void
rust_async_executor_dart_drop(RustAsyncExecutorInternTask task);

#ifdef __cplusplus
}
#endif
#endif /* RUST_ASYNC_EXECUTOR_H */
