/*
 * exco/dart.h -- the Dart driver for exco: coroutines driven by a Dart
 * isolate's event loop through a ReceivePort, in the shape of
 * extern_executor's Dart driver.
 *
 * OVERVIEW
 *
 * The Dart side makes a ReceivePort and hands its native port and the VM's
 * Dart_PostCObject (NativeApi.postCObject in dart:ffi) to
 * exco_dart_executor_new().  From then on:
 *
 *   - task_run and task_wake post the task's handle to that port, as an
 *     Int64 message (a Dart_CObject of type kInt64, which the VM copies);
 *   - the port's listener, on the isolate, calls exco_dart_poll(handle),
 *     and exco_dart_drop(handle) when the poll says "not pending" (0):
 *
 *         port.listen((msg) {
 *           if (msg == 0) { port.close(); return; }  // executor freed
 *           if (excoDartPoll(msg) == 0) excoDartDrop(msg);
 *         });
 *
 * drivers/dart/exco.dart (installed as $(datadir)/exco/exco.dart) binds
 * all of this with dart:ffi.  C code spawns coroutines on the executor
 * with exco_spawn() from any thread, as on any executor.
 *
 * The driver has the contract's shape (task_new, task_run, task_wake; the
 * Dart listener polls and drops), not the shared run queue's: an isolate
 * may run on different OS threads over time, and the driver never
 * assumes a loop thread.  For the same reason its executors allow
 * migration (exco_executor_set_migration() in <exco.h>): a task may be
 * resumed on another thread than the one it last ran on, so coroutine
 * code must not keep errno or __thread addresses across an await.  It has no timer hook: exco_sleep() and
 * deadlines are fired by exco's timer helper thread, whose wakes are
 * posted like any other (Dart_PostCObject is thread-safe).
 *
 * One executor per isolate (per port): exco_dart_executor_new() makes as
 * many as needed, each with its own port.  exco_dart_init() and the
 * seed's rust_async_executor_dart_init() give the process-default
 * executor a port instead, for code written against extern_executor.
 *
 * THE MESSAGES
 *
 * Every message is an Int64.  A nonzero one is a task handle: an opaque
 * address (the driver's record of the task, not an exco_task pointer) to
 * give to exco_dart_poll() and, when that returns 0, to exco_dart_drop().
 * exco posts at most one handle message per task between two polls (its
 * wakes coalesce), so a listener never sees a handle again after the
 * drop.  The message 0 says that the executor has been freed (its close
 * hook ran: exco_executor_close() finished, or exco_executor_free()):
 * nothing more will come, and the listener closes the port.  0 is never
 * a task: exco_dart_poll(0) returns 0 and exco_dart_drop(0) does nothing,
 * so a listener written for the seed (poll, then drop if not pending) is
 * safe with it too.
 *
 * A CLOSED PORT: STRANDED TASKS
 *
 * Once the Dart side has closed the port, Dart_PostCObject returns false
 * and the message is not delivered.  A task whose wake (or first run)
 * could not be posted is not forgotten: the driver marks it "stranded"
 * and counts it (exco_dart_executor_stranded()).  A stranded task is
 * still live: it keeps its stack, and the executor can't finish closing
 * while it exists.  exco_dart_executor_shutdown(), the call for the
 * isolate's shutdown path, drops every task the executor still has --
 * stranded ones, and those whose messages the closed port discarded --
 * cancelling them, so each coroutine's clean-up runs (every await returns
 * EXCO_ECANCELED) before its stack is released; then the executor is
 * freed.  Nothing leaks, and nothing is dropped behind a listener's back.
 *
 * So a Dart isolate ends its executor in one of two ways, never both:
 *
 *   - gracefully, with the port still open: exco_executor_close() (from
 *     C, or from Dart through ffi).  The tasks are cancelled, the
 *     listener polls them to their end, the executor is freed, and the
 *     message 0 tells the listener to close the port.  Don't use the
 *     executor after exco_executor_close(): it may be freed at any poll;
 *   - at once: close the port, then exco_dart_executor_shutdown().
 *
 * THREADS
 *
 * exco_dart_poll() and exco_dart_drop() are called by the port's
 * listener, on the isolate (whichever OS thread runs it), one at a time
 * per executor, never from inside a coroutine.  exco_spawn(), wakers,
 * promises and exco_task_cancel() work from any thread; so does the
 * Dart_PostCObject they end up calling.  exco_dart_executor_shutdown() is
 * called where the listener runs (on the isolate), once it has stopped.
 *
 * ABI: Dart_CObject
 *
 * No Dart SDK is needed to build this driver: exco_dart_cobject below
 * mirrors Dart's Dart_CObject (runtime/include/dart_native_api.h, also
 * copied in dart_api_dl.h), in full, so its size and layout are those of
 * the VM's struct on the same platform, and the driver fills in only the
 * Int64 case.  What was checked: the dart_native_api.h of Dart 1.x (2013,
 * whose type enum had kBigint after kInt64) and the current header of
 * Dart 3.x, and a dart_api_dl.h copy of DL API version 2: in each,
 * Dart_CObject_kInt64 is 3 (kNull = 0, kBool, kInt32, kInt64), the first
 * member is the int-sized type enum, and value.as_int64 is an int64_t in
 * the union that follows; later SDKs only appended enum values
 * (kCapability, kNativePointer, kUnmodifiableExternalTypedData) and union
 * members, which moves nothing the driver writes.  The union's largest
 * member (as_external_typed_data: 40 bytes on LP64) is mirrored, so the
 * struct is 48 bytes on LP64 as in the VM.  Dart_PostCObject(port,
 * message) copies the message, may be called from any thread while the
 * VM runs, and returns false when the message was not enqueued (the port
 * is closed or never existed).  This is the documented ABI: no run
 * against a real Dart VM has been made here (see README.md, "Dart").
 */
#ifndef EXCO_DART_H
#define EXCO_DART_H

#include <stdbool.h>
#include <stdint.h>

#include <exco.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_DART_BUILDING)
#define EXCO_DART_API __attribute__((visibility("default")))
#else
#define EXCO_DART_API
#endif

/* ---------------------------------------------------------------------- */
/* Dart's ABI, mirrored                                                    */
/* ---------------------------------------------------------------------- */

/** Dart_CObject_kInt64: the type of every message the driver posts. */
#define EXCO_DART_COBJECT_INT64 3

/**
 * Dart's Dart_CObject, member for member (see "ABI" above).  The driver
 * sets only type and value.as_int64; the other members are there so that
 * the size and alignment are the VM's.
 */
typedef struct exco_dart_cobject {
  int32_t type; /* Dart_CObject_Type, an int-sized enum */
  union {
    bool as_bool;
    int32_t as_int32;
    int64_t as_int64;
    double as_double;
    const char *as_string;
    struct {
      int64_t id;
      int64_t origin_id;
    } as_send_port;
    struct {
      int64_t id;
    } as_capability;
    struct {
      intptr_t length;
      struct exco_dart_cobject **values;
    } as_array;
    struct {
      int32_t type;
      intptr_t length;
      const uint8_t *values;
    } as_typed_data;
    struct {
      int32_t type;
      intptr_t length;
      uint8_t *data;
      void *peer;
      void (*callback)(void *isolate_callback_data, void *peer);
    } as_external_typed_data;
    struct {
      intptr_t ptr;
      intptr_t size;
      void (*callback)(void *isolate_callback_data, void *peer);
    } as_native_pointer;
  } value;
} exco_dart_cobject;

/**
 * Dart_PostCObject's type: post @p message to @p port (a Dart_Port),
 * copying it; true if it was enqueued, false if not (the port is closed).
 * Callable from any thread.  Dart gives it as NativeApi.postCObject; tests
 * give a stand-in.
 */
typedef bool (*exco_dart_post_fn)(int64_t port, exco_dart_cobject *message);

/* ---------------------------------------------------------------------- */
/* Executors                                                               */
/* ---------------------------------------------------------------------- */

/**
 * Creates an executor whose tasks are polled by the listener of the Dart
 * port @p port: their handles are posted there with @p post.  From any
 * thread.
 *
 * @param out   receives the executor.  The caller owns it and ends it with
 *              exco_executor_close() (graceful: the port stays open until
 *              the message 0), exco_dart_executor_shutdown() (the port is
 *              closed), or exco_executor_free() (no task live); each of
 *              them posts the message 0 once the executor is freed (to a
 *              closed port that is a no-op).
 * @param port  the native port of the isolate's ReceivePort
 *              (ReceivePort.sendPort.nativePort); 0 (Dart's ILLEGAL_PORT)
 *              is refused.
 * @param post  Dart_PostCObject (NativeApi.postCObject).
 * @return 0; EXCO_EINVAL if @p out or @p post is NULL or @p port is 0;
 *         EXCO_ENOMEM.
 */
EXCO_DART_API int exco_dart_executor_new(exco_executor **out, int64_t port,
                                         exco_dart_post_fn post);

/**
 * Gives the process-default executor to the Dart port @p port (the shape
 * of the seed's rust_async_executor_dart_init(), with an error code):
 * exco_spawn(NULL, ...) outside coroutines then runs tasks on that
 * isolate.  Call it at start-up, while the default executor has no task;
 * calling it again (a new isolate) replaces the previous port, to which
 * the message 0 is posted.  The default executor is never freed.
 *
 * @return 0; EXCO_EINVAL as for exco_dart_executor_new(); EXCO_EBUSY if
 *         the default executor has live tasks; EXCO_ENOMEM (the default
 *         executor is then a local one).
 */
EXCO_DART_API int exco_dart_init(int64_t port, exco_dart_post_fn post);

/* ---------------------------------------------------------------------- */
/* The listener's calls                                                    */
/* ---------------------------------------------------------------------- */

/**
 * Polls the task whose handle came in a message: resumes its coroutine
 * until it awaits something pending or returns.  Called by the port's
 * listener on the isolate, outside coroutines.  The handle is an intptr_t
 * so that dart:ffi passes the message's int as it is (Int32
 * Function(IntPtr)).
 *
 * @return 1: still pending, keep the handle (its next message will come).
 *         0: finished (or dropped already, or @p task is 0): call
 *         exco_dart_drop(@p task).
 *         Negative: an EXCO_E* error of exco_poll() (EXCO_EBUSY inside a
 *         coroutine or while the task is polled elsewhere): treat it as
 *         pending, so a listener that tests "== 0" never drops a task
 *         because of one.
 *         A handle not from this driver's messages, or used after its
 *         drop, is undefined (it is an address).
 */
EXCO_DART_API int exco_dart_poll(intptr_t task);

/**
 * Releases the task of @p task.  After a poll that returned 0 this frees
 * the handle.  On a task still pending it cancels the task first: its
 * coroutine runs once more, inside this call, with every await returning
 * EXCO_ECANCELED, until it returns (a task never polled does not run);
 * if a message for the task is still on its way, the handle stays valid
 * until that message is handled (exco_dart_poll() then returns 0, and
 * this call frees it).  Same thread rules as exco_dart_poll().
 *
 * @return 0; EXCO_EINVAL if @p task is 0; exco_drop()'s EXCO_EBUSY
 *         (inside a coroutine, or the task is being polled elsewhere:
 *         nothing happened).  A second drop of a freed handle is
 *         undefined, as a second free() is.
 */
EXCO_DART_API int exco_dart_drop(intptr_t task);

/* ---------------------------------------------------------------------- */
/* A closed port, and shutdown                                             */
/* ---------------------------------------------------------------------- */

/**
 * Counts the stranded tasks of @p ex: those whose last wake (or first
 * run) could not be posted because the port was closed, and that have
 * not been dropped yet.  From any thread.
 *
 * @return the count (>= 0); EXCO_EINVAL if @p ex is not a Dart executor
 *         (the default one counts after exco_dart_init()).
 */
EXCO_DART_API long exco_dart_executor_stranded(exco_executor *ex);

/**
 * The isolate's shutdown path, once its port is closed (or its listener
 * has stopped for good): closes @p ex (exco_executor_close() with @p cb
 * and @p arg: no new task is accepted, EXCO_ESHUTDOWN) and drops every
 * task it still has -- stranded ones, ones whose message the closed port
 * discarded, ones woken meanwhile -- each cancelled first, so its
 * clean-up runs inside this call.  Wakes from now on are not posted.  The
 * executor is then freed (the message 0 goes to the closed port, and
 * @p cb(@p arg) runs) inside this call, or later where the last
 * exco_hold_stack() hold of its tasks is released.  Don't use @p ex
 * afterwards.
 *
 * For the default executor (exco_dart_init()), which can't be closed, it
 * drops the tasks without closing and ignores @p cb; later spawns there
 * strand until exco_dart_init() gives it a new port.
 *
 * Call it where the listener ran (on the isolate), outside coroutines,
 * not concurrently with exco_dart_poll() or exco_dart_drop() of this
 * executor's tasks, and never once the executor may have been freed:
 * after an exco_executor_close(), only while that close's callback has
 * not run (the earlier close's @p cb then stays, this @p cb is ignored).
 * Other threads may still spawn (they get EXCO_ESHUTDOWN) and wake
 * (nothing is posted).
 *
 * @return the number of tasks dropped (>= 0); EXCO_EINVAL if @p ex is
 *         not a Dart executor; EXCO_EBUSY if called from inside a
 *         coroutine, or a task could not be dropped because it is being
 *         polled right now (the rule above was broken; the rest are left).
 */
EXCO_DART_API long exco_dart_executor_shutdown(exco_executor *ex,
                                               exco_close_cb cb, void *arg);

/* ---------------------------------------------------------------------- */
/* The seed's process-default trio                                         */
/* ---------------------------------------------------------------------- */

/*
 * extern_executor's Dart entry points, for Dart code written against the
 * seed (the same names and shapes as its rust_async_executor.h).  They
 * work on the default executor's port; the handles are those of the
 * messages, so poll and drop accept any Dart executor's handles.
 */

/**
 * exco_dart_init(@p port, @p post_cobject), with the seed's types: the
 * port's listener gets the default executor's tasks.  Errors can't be
 * reported here (the seed returns nothing): on any (see exco_dart_init())
 * the default executor is left as it was, or becomes a local one if
 * memory ran out.  @p post_cobject is Dart_PostCObject.
 */
EXCO_DART_API void rust_async_executor_dart_init(int64_t port,
                                                 bool (*post_cobject)(int64_t,
                                                                      void *));

/**
 * exco_dart_poll() as the seed's bool: true while the task is pending
 * (errors too), false once it has finished: then drop it.
 */
EXCO_DART_API bool rust_async_executor_dart_poll(void *task);

/** exco_dart_drop(), the seed's way: errors are ignored. */
EXCO_DART_API void rust_async_executor_dart_drop(void *task);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_DART_H */
