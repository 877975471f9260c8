/*
 * exco/uv.h -- the libuv driver for exco, and straight-line libuv
 * awaitables.
 *
 * OVERVIEW
 *
 * The driver hooks an exco executor to a uv_loop_t, so coroutines run
 * inside the loop and await libuv operations top to bottom:
 *
 *     static void *job(void *arg)
 *     {
 *         char *text;
 *         size_t len;
 *         if (exco_uv_sleep(100) == 0 &&
 *             exco_uv_fs_read_file("/etc/hostname", &text, &len) == 0) {
 *             printf("%s", text);
 *             free(text);
 *         }
 *         return NULL;
 *     }
 *
 *     int main(void)
 *     {
 *         uv_loop_t *loop = uv_default_loop();
 *         exco_uv_init(loop);                    // the default executor
 *         exco_spawn(NULL, job, NULL, NULL, NULL);
 *         uv_run(loop, UV_RUN_DEFAULT);          // returns when job ends
 *         exco_uv_executor_free(exco_default_executor());
 *         uv_run(loop, UV_RUN_DEFAULT);          // runs the close callbacks
 *         return uv_loop_close(loop);
 *     }
 *
 * THE DRIVER
 *
 * exco_uv_init(loop) sets up the process-default executor (the shape of
 * extern_executor's rust_async_executor_uv_init); exco_uv_executor_new()
 * makes one executor per loop, so several loops on several threads can
 * each run their own.  The driver implements exco's driver contract with
 * the public API of <exco.h> only, and costs:
 *
 *   - a wake from the loop's own thread: O(1), no system call (the task
 *     goes on a ready queue that the driver runs from a uv_check_t, right
 *     after the loop's I/O callbacks: a task woken by an I/O callback runs
 *     in the same loop iteration, before the loop polls for I/O again;
 *     while tasks are queued, a uv_idle_t keeps that poll from blocking);
 *   - a wake from another thread: a lock-free push, plus one
 *     uv_async_send() when the cross-thread list goes from empty to
 *     non-empty (one uv_async_t per executor, not per task);
 *   - at most EXCO_UV_BUDGET_DEFAULT polls per loop iteration (see
 *     exco_uv_executor_set_budget()), so busy coroutines can't starve I/O
 *     and timers.
 *
 * uv_run() returns by itself when every task of the executor has finished
 * (and nothing else keeps the loop alive): the driver's async handle is
 * referenced only while the executor has live tasks.  A task waiting on
 * something outside the loop (another thread, a promise) keeps the loop
 * blocked -- not spinning -- until it is woken.
 *
 * THREADS
 *
 * The thread that creates the executor (exco_uv_init() or
 * exco_uv_executor_new()) is its loop thread: run the loop on that thread,
 * and only there (the driver aborts with a message otherwise, rather than
 * corrupt its queue).  Everything in this header is called on the loop
 * thread (the awaitables run there anyway).  Other threads use <exco.h>:
 * exco_spawn() into the executor, wakers and promises all work from any
 * thread.  A task spawned from another thread into a loop that has no
 * live task, though, may find the loop already returned from uv_run(): it
 * runs the next time the loop runs with something keeping it alive.  Such
 * a spawn must also be over before the executor is freed.  Don't run the
 * loop from inside a coroutine: its tasks can't be polled there (each
 * poll would be re-entrant), so they wait for the outer loop.
 *
 * SIGNALS
 *
 * Writing to a TCP socket whose peer has gone raises SIGPIPE, which ends
 * the process unless the program ignores it; libuv doesn't.  Programs that
 * write to sockets should call signal(SIGPIPE, SIG_IGN) at start-up, and
 * then get UV_EPIPE from exco_uv_tcp_write() instead.
 *
 * AWAITABLES
 *
 * The exco_uv_* awaitables are called inside a coroutine running on an
 * executor that has a loop: one made by this header, or any other driver's
 * executor registered with exco_uv_attach().  They find the loop from the
 * running coroutine's executor.  Each one:
 *
 *   - returns 0 or a non-negative documented value on success and a
 *     negative error otherwise: libuv's own UV_E* codes are passed through
 *     (on Unix they equal -errno, as EXCO_E* codes do); EXCO_EPERM outside
 *     a coroutine; EXCO_ENOTSUP if the running executor has no loop;
 *     EXCO_EINVAL for bad arguments (a NULL pointer where one is needed,
 *     a handle of another loop or one being closed, a listening socket
 *     where a connected one is needed and the reverse); EXCO_ENOMEM if
 *     memory for the request could not be had.  The lists below name the
 *     codes particular to each call and don't repeat these;
 *
 *   - is cancellable: when the task is dropped or exco_task_cancel()ed
 *     while the call is pending, the call returns EXCO_ECANCELED (and so do
 *     all later calls).  The libuv request is cancelled (uv_cancel) or its
 *     handle closed.  If the operation completed before the cancellation
 *     was seen, its result is returned instead (nothing is lost: an opened
 *     file, an accepted connection or read bytes reach the caller, who
 *     owns them); the next call then returns EXCO_ECANCELED.  A call made
 *     by a task that is already cancelled does nothing and returns
 *     EXCO_ECANCELED -- except the calls that release things, which clean-up
 *     code needs: exco_uv_fs_close() (closes synchronously then), and
 *     exco_uv_tcp_close() / exco_uv_udp_close(), which never wait.
 *
 *   - honours the task's deadline (exco_deadline_set() in <exco.h>): if
 *     the operation has not completed by then, the request is cancelled
 *     as above and the call returns UV_ETIMEDOUT (equal to
 *     EXCO_ETIMEDOUT); the task itself is not cancelled, so later calls
 *     work as usual once the deadline is moved;
 *
 *   - has a _timeout variant taking `uint64_t timeout_ms` as its last
 *     argument (exco_uv_sleep excepted: it is a timeout), a shorthand for
 *     a deadline timeout_ms milliseconds after the call around the plain
 *     form (exco_deadline_after(), which never lengthens a sooner
 *     deadline already in force).  timeout_ms 0 still lets an operation
 *     that completes within the current loop iteration succeed;
 *     EXCO_UV_NO_TIMEOUT means no deadline of its own (the plain form).
 *
 * MEMORY RULE (cancellation and timeouts)
 *
 * libuv may hold on to a request or handle after a call was cancelled: a
 * thread-pool job that already runs can't be stopped, and a handle is only
 * gone after its close callback.  A coroutine that is cancelled, though,
 * keeps running (to clean up) on the same stack, so memory lent to libuv
 * from its stack would be overwritten.  Hence:
 *
 *   - every libuv request and handle these calls use lives on the heap and
 *     is freed by libuv's final callback (never by the cancelled
 *     coroutine), so nothing is ever lent from a coroutine's stack;
 *   - your buffers are never lent beyond the call: fs reads and writes go
 *     through a private buffer, TCP and UDP writes copy whatever the
 *     kernel did not take at once (uv_try_write first, so usually
 *     nothing), and reads fill your buffer only while the call waits
 *     (what arrives in between goes to the socket's own buffer, see
 *     exco_uv_tcp_read());
 *   - the exception is exco_uv_work(), whose function runs on another
 *     thread and can't be stopped: see its rules;
 *   - after a cancelled or timed-out write, the rest of the data may still
 *     go out later; close the handle if that matters.
 *
 * So buffers and request arguments may live on the coroutine's stack.
 * Handles (exco_uv_tcp, exco_uv_udp) are heap objects owned by the caller
 * until their close call.  (exco_hold_stack() is no answer here: it keeps
 * a finished task's stack mapped, but a cancelled coroutine is not
 * finished -- it returns from the call and reuses those very frames.)
 *
 * SHUTDOWN
 *
 * exco_executor_close() (in <exco.h>) is the one-call shutdown, for a
 * host's cleanup hook too: it cancels every task, keeps the loop alive
 * until the last one is gone, then frees the executor, closes the
 * driver's handles and calls you back, all on the loop thread while the
 * loop runs.  The handles' memory is freed by their close callbacks, so
 * let uv_run() return by itself before uv_loop_close().
 *
 * exco_uv_executor_free() is the synchronous form: it needs every task to
 * be finished (cancel the pending ones with exco_uv_executor_cancel_all()
 * and run the loop) and closes the driver's handles; run the loop once
 * more before uv_loop_close().
 *
 * The driver is built on exco's shared run queue (<exco/driver.h>), which
 * owns the polls and drops of its tasks: exco_poll() and exco_drop() on
 * them return EXCO_EPERM.
 */
#ifndef EXCO_UV_H
#define EXCO_UV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include <exco.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EXCO_UV_BUILDING)
#define EXCO_UV_API __attribute__((visibility("default")))
#else
#define EXCO_UV_API
#endif

/* ---------------------------------------------------------------------- */
/* The driver                                                              */
/* ---------------------------------------------------------------------- */

/** A timeout_ms for the _timeout forms meaning "no deadline". */
#define EXCO_UV_NO_TIMEOUT UINT64_MAX

/** Polls per loop iteration when nothing else is set. */
#define EXCO_UV_BUDGET_DEFAULT 128u

/**
 * Hooks the process-default executor to @p loop (through exco_init()), so
 * exco_spawn(NULL, ...) outside coroutines spawns onto the loop.  The
 * calling thread becomes the loop thread.  Calling it again (for another
 * loop, say) replaces the previous driver, which must have no live tasks;
 * the replaced driver's handles are closed, so its old loop must run once
 * more to free them.
 *
 * @return 0; EXCO_EINVAL if @p loop is NULL; EXCO_EBUSY if the default
 *         executor has live tasks; EXCO_ENOMEM; a UV_E* code if a handle
 *         could not be initialised.
 */
EXCO_UV_API int exco_uv_init(uv_loop_t *loop);

/**
 * Creates an executor driven by @p loop.  The calling thread becomes the
 * loop thread.
 *
 * @param out   receives the executor; free it with exco_uv_executor_free().
 * @return 0; EXCO_EINVAL if an argument is NULL; EXCO_ENOMEM; a UV_E* code
 *         if a handle could not be initialised.
 */
EXCO_UV_API int exco_uv_executor_new(exco_executor **out, uv_loop_t *loop);

/**
 * Frees an executor made by exco_uv_executor_new(), or detaches the
 * default executor set up by exco_uv_init() (pass exco_default_executor();
 * spawning on it then fails with EXCO_ENOMEM until exco_uv_init() or
 * exco_init() is called again).  On the loop thread only.  The driver's
 * handles are closed here and freed by their close callbacks: run the
 * loop (uv_run) once more before uv_loop_close().
 *
 * @return 0; EXCO_EINVAL if @p ex is NULL or not driven by this driver;
 *         EXCO_EBUSY if tasks spawned on it are still live (not all
 *         finished, or a stack still held by a pending libuv callback):
 *         nothing is changed then.
 */
EXCO_UV_API int exco_uv_executor_free(exco_executor *ex);

/**
 * Sets how many tasks the driver polls per loop iteration (in the loop's
 * check phase) before it lets the loop run its I/O and timers.  On the
 * loop thread.  Also for the default executor set up by exco_uv_init().
 *
 * @param budget  0 restores EXCO_UV_BUDGET_DEFAULT.
 * @return 0; EXCO_EINVAL if @p ex is not driven by this driver.
 */
EXCO_UV_API int exco_uv_executor_set_budget(exco_executor *ex, unsigned budget);

/**
 * Requests cancellation (exco_task_cancel()) of every live task of @p ex;
 * they finish as the loop runs.  On the loop thread.  The same as
 * exco_executor_cancel_all(), restricted to this driver's executors.
 *
 * @return the number of tasks asked to cancel (>= 0); EXCO_EINVAL if
 *         @p ex is not driven by this driver.
 */
EXCO_UV_API long exco_uv_executor_cancel_all(exco_executor *ex);

/**
 * The loop that @p ex runs on: a driver of this header's, or one
 * registered with exco_uv_attach().  NULL if it has none or @p ex is NULL.
 * From any thread.
 */
EXCO_UV_API uv_loop_t *exco_uv_executor_loop(exco_executor *ex);

/** The running coroutine's loop, or NULL (outside coroutines, or none). */
EXCO_UV_API uv_loop_t *exco_uv_loop(void);

/**
 * For hosts with their own libuv driver (the seed's design, say): tells
 * the awaitables that @p ex, an executor of another driver, runs on
 * @p loop (an attachment, see exco_executor_attach()).  Such a driver
 * must poll tasks on the loop's thread only.
 *
 * @return 0; EXCO_EINVAL if an argument is NULL, @p ex is not an executor
 *         or is one of this header's (which know their loop); EXCO_EBUSY if
 *         @p ex has a loop attached already; EXCO_ENOMEM if its attachment
 *         slots are all taken.
 */
EXCO_UV_API int exco_uv_attach(exco_executor *ex, uv_loop_t *loop);

/**
 * Undoes exco_uv_attach().
 *
 * @return 0; EXCO_EINVAL if no loop was attached to @p ex.
 */
EXCO_UV_API int exco_uv_detach(exco_executor *ex);

/* ---------------------------------------------------------------------- */
/* Timers                                                                  */
/* ---------------------------------------------------------------------- */

/**
 * Sleeps for at least @p ms milliseconds (of loop time, refreshed at the
 * call).  Sleeps of equal length end in the order they were started.
 *
 * @return 0; EXCO_ECANCELED; EXCO_EPERM; EXCO_ENOTSUP; EXCO_ENOMEM.
 */
EXCO_UV_API int exco_uv_sleep(uint64_t ms);

/* ---------------------------------------------------------------------- */
/* File system (libuv's thread pool)                                       */
/* ---------------------------------------------------------------------- */

/**
 * Opens @p path (open(2) flags and mode).
 *
 * @return the file descriptor (>= 0), to close with exco_uv_fs_close();
 *         a UV_E* code; EXCO_ECANCELED (the file is not left open).
 */
EXCO_UV_API int exco_uv_fs_open(const char *path, int flags, int mode);
EXCO_UV_API int exco_uv_fs_open_timeout(const char *path, int flags, int mode,
                                        uint64_t timeout_ms);

/**
 * Closes @p fd.  Unlike every other awaitable it still works in a task
 * that is cancelled already, so clean-up code can't leak descriptors: it
 * then closes at once, synchronously, and returns close's own result.  A
 * close cancelled or timed out while pending still closes @p fd (the job
 * completes, or the descriptor is closed when the job is taken off the
 * queue).
 *
 * @return 0; a UV_E* code; EXCO_ECANCELED or UV_ETIMEDOUT (closed anyway).
 */
EXCO_UV_API int exco_uv_fs_close(uv_file fd);
EXCO_UV_API int exco_uv_fs_close_timeout(uv_file fd, uint64_t timeout_ms);

/**
 * Reads up to @p len bytes at @p offset (-1: at the current position).
 *
 * @return the number of bytes read (0 at end of file); a UV_E* code;
 *         EXCO_ECANCELED.  @p buf is written only on success.
 */
EXCO_UV_API ssize_t exco_uv_fs_read(uv_file fd, void *buf, size_t len,
                                    int64_t offset);
EXCO_UV_API ssize_t exco_uv_fs_read_timeout(uv_file fd, void *buf, size_t len,
                                            int64_t offset,
                                            uint64_t timeout_ms);

/**
 * Writes @p len bytes at @p offset (-1: at the current position).  The
 * data is copied first, so @p buf is free again as soon as the call
 * returns, whatever it returns.
 *
 * @return the number of bytes written; a UV_E* code; EXCO_ECANCELED (the
 *         write may still happen if it had started).
 */
EXCO_UV_API ssize_t exco_uv_fs_write(uv_file fd, const void *buf, size_t len,
                                     int64_t offset);
EXCO_UV_API ssize_t exco_uv_fs_write_timeout(uv_file fd, const void *buf,
                                             size_t len, int64_t offset,
                                             uint64_t timeout_ms);

/**
 * stat(2)s @p path into @p out (written only on success).
 *
 * @return 0; a UV_E* code (UV_ENOENT ...); EXCO_ECANCELED.
 */
EXCO_UV_API int exco_uv_fs_stat(const char *path, uv_stat_t *out);
EXCO_UV_API int exco_uv_fs_stat_timeout(const char *path, uv_stat_t *out,
                                        uint64_t timeout_ms);

/**
 * Unlinks @p path.
 *
 * @return 0; a UV_E* code; EXCO_ECANCELED (the unlink may still happen if
 *         it had started).
 */
EXCO_UV_API int exco_uv_fs_unlink(const char *path);
EXCO_UV_API int exco_uv_fs_unlink_timeout(const char *path,
                                          uint64_t timeout_ms);

/** exco_uv_fs_read_file()'s size limit: 1 GiB. */
#define EXCO_UV_READ_FILE_MAX ((size_t)1 << 30)

/**
 * Reads the whole file @p path (until end of file, so /proc files work)
 * in one thread-pool job, up to EXCO_UV_READ_FILE_MAX bytes
 * (exco_uv_fs_read_file_max() sets another limit).
 *
 * A read given up by a timeout, a deadline or a cancellation stops at its
 * next chunk (each read(2) of the job): from a pipe or a device that never
 * ends it reads at most one more chunk, and frees what it read.
 *
 * @param data  receives a malloc'd buffer of *len bytes plus a NUL byte;
 *              the caller frees it with free().  Set only on success.
 * @param len   receives the length (may be NULL).
 * @return 0; a UV_E* code; UV_EFBIG if the file has more than the limit;
 *         EXCO_ECANCELED; EXCO_ENOMEM (also when the file is too large for
 *         memory); EXCO_EINVAL if @p path or @p data is NULL.
 */
EXCO_UV_API int exco_uv_fs_read_file(const char *path, char **data,
                                     size_t *len);
EXCO_UV_API int exco_uv_fs_read_file_timeout(const char *path, char **data,
                                             size_t *len, uint64_t timeout_ms);

/**
 * exco_uv_fs_read_file_timeout() with a limit of @p max bytes (0: the
 * default, EXCO_UV_READ_FILE_MAX).  @p timeout_ms may be
 * EXCO_UV_NO_TIMEOUT.
 */
EXCO_UV_API int exco_uv_fs_read_file_max(const char *path, char **data,
                                         size_t *len, size_t max,
                                         uint64_t timeout_ms);

/* ---------------------------------------------------------------------- */
/* DNS                                                                     */
/* ---------------------------------------------------------------------- */

/**
 * Resolves @p node / @p service (getaddrinfo(3) on libuv's thread pool).
 *
 * @param hints  may be NULL.
 * @param res    receives the list; free it with uv_freeaddrinfo().
 * @return 0; a UV_EAI_* code; EXCO_ECANCELED; EXCO_EINVAL if both @p node
 *         and @p service are NULL, or @p res is NULL.
 */
EXCO_UV_API int exco_uv_getaddrinfo(const char *node, const char *service,
                                    const struct addrinfo *hints,
                                    struct addrinfo **res);
EXCO_UV_API int exco_uv_getaddrinfo_timeout(const char *node,
                                            const char *service,
                                            const struct addrinfo *hints,
                                            struct addrinfo **res,
                                            uint64_t timeout_ms);

/* ---------------------------------------------------------------------- */
/* TCP                                                                     */
/* ---------------------------------------------------------------------- */

/**
 * A TCP socket, connected or listening: a heap object wrapping a
 * uv_tcp_t, owned by the caller until exco_uv_tcp_close().  One coroutine
 * may read while another writes; two concurrent reads (or accepts) on one
 * socket fail with EXCO_EBUSY.
 */
typedef struct exco_uv_tcp exco_uv_tcp;

/**
 * Connects to @p addr.
 *
 * @param out  receives the connected socket (set only on success).
 * @return 0; a UV_E* code (UV_ECONNREFUSED ...); EXCO_ECANCELED;
 *         EXCO_ENOMEM.
 */
EXCO_UV_API int exco_uv_tcp_connect(const struct sockaddr *addr,
                                    exco_uv_tcp **out);
EXCO_UV_API int exco_uv_tcp_connect_timeout(const struct sockaddr *addr,
                                            exco_uv_tcp **out,
                                            uint64_t timeout_ms);

/**
 * Binds a socket to @p addr and listens (does not wait: no timeout
 * variant; still an awaitable, so inside a coroutine only, and
 * EXCO_ECANCELED in a cancelled task).  Bind to port 0 and ask
 * exco_uv_tcp_handle() with uv_tcp_getsockname() for the port.
 *
 * @param backlog  the listen(2) backlog; <= 0 means SOMAXCONN.
 * @return 0; a UV_E* code (UV_EADDRINUSE ...); EXCO_ENOMEM.
 */
EXCO_UV_API int exco_uv_tcp_listen(const struct sockaddr *addr, int backlog,
                                   exco_uv_tcp **out);

/** Connections a listening socket accepts ahead of exco_uv_tcp_accept(). */
#define EXCO_UV_TCP_ACCEPT_QUEUE 128

/**
 * Accepts a connection on a listening socket.
 *
 * The listening socket takes connections as they arrive, up to
 * EXCO_UV_TCP_ACCEPT_QUEUE ahead of the accept calls, which hand them out
 * in arrival order (without waiting when one is queued); further ones
 * wait in the kernel's backlog until accepts have made room.  Connections
 * queued when the listening socket is closed are closed with it.
 *
 * @return 0 and the new socket in @p out; a UV_E* code; EXCO_ECANCELED
 *         (also when the listening socket is closed meanwhile);
 *         EXCO_EBUSY if another coroutine is accepting on it; EXCO_ENOMEM
 *         (the connection stays queued for the next accept).
 */
EXCO_UV_API int exco_uv_tcp_accept(exco_uv_tcp *server, exco_uv_tcp **out);
EXCO_UV_API int exco_uv_tcp_accept_timeout(exco_uv_tcp *server,
                                           exco_uv_tcp **out,
                                           uint64_t timeout_ms);

/** The size of a connected socket's read buffer (see exco_uv_tcp_read()). */
#define EXCO_UV_TCP_READ_BUFFER 65536

/**
 * Reads what is available, up to @p len bytes, waiting for at least one.
 *
 * Buffering.  The first read on a socket starts libuv reading it, and
 * reading then goes on between calls (until the socket is closed, the
 * peer shuts down, or an error): what arrives while no coroutine waits in
 * a read is kept in the socket's own buffer of EXCO_UV_TCP_READ_BUFFER
 * bytes, allocated at the first need and freed by exco_uv_tcp_close()
 * (with whatever it still holds).  A read that finds buffered bytes
 * returns them at once, in the order they arrived, without waiting.  When
 * the buffer is full, reading stops and further data waits in the kernel
 * (TCP then slows the sender down); reads that drain the buffer to half
 * start it again.  UV_EOF and read errors come after every byte that
 * arrived before them.  A read that is cancelled or times out loses
 * nothing: bytes that arrive afterwards are buffered for the next read.
 * A read that waits (the buffer is empty) has libuv read straight into
 * @p buf, while it waits only, so the MEMORY RULE holds; the buffer is
 * used only for what arrives while no read waits.
 *
 * @return the number of bytes read (> 0; 0 only if @p len is 0); UV_EOF
 *         once the peer has shut down its side and every byte before it
 *         was read; a UV_E* code (UV_EOF and read errors are sticky: every
 *         later read returns them too); EXCO_ECANCELED (also when the
 *         socket is closed meanwhile); EXCO_EBUSY if another coroutine is
 *         reading.
 */
EXCO_UV_API ssize_t exco_uv_tcp_read(exco_uv_tcp *tcp, void *buf, size_t len);
EXCO_UV_API ssize_t exco_uv_tcp_read_timeout(exco_uv_tcp *tcp, void *buf,
                                             size_t len, uint64_t timeout_ms);

/**
 * Writes all @p len bytes: returns at once when the kernel takes them,
 * else copies the rest and waits until libuv has written it (writes from
 * several coroutines go out in call order).
 *
 * @return 0; a UV_E* code (UV_EPIPE ...); EXCO_ECANCELED (also when the
 *         socket is closed meanwhile).
 */
EXCO_UV_API int exco_uv_tcp_write(exco_uv_tcp *tcp, const void *buf,
                                  size_t len);
EXCO_UV_API int exco_uv_tcp_write_timeout(exco_uv_tcp *tcp, const void *buf,
                                          size_t len, uint64_t timeout_ms);

/**
 * Shuts down the sending side once pending writes are out (the peer
 * reads UV_EOF).
 *
 * @return 0; a UV_E* code; EXCO_ECANCELED.
 */
EXCO_UV_API int exco_uv_tcp_shutdown(exco_uv_tcp *tcp);
EXCO_UV_API int exco_uv_tcp_shutdown_timeout(exco_uv_tcp *tcp,
                                             uint64_t timeout_ms);

/**
 * Closes the socket (the descriptor at once, the object once libuv's close
 * callback has run).  Does not wait, so it works in clean-up code of a
 * cancelled coroutine, and outside coroutines on the loop thread.  Calls
 * pending on the socket in other coroutines return EXCO_ECANCELED (a
 * pending write or shutdown: UV_ECANCELED, from libuv).  The caller must
 * not use @p tcp afterwards.  A second close before libuv's close callback
 * has run returns EXCO_EALREADY; after it, the object is freed and a
 * second close is a use after free.
 *
 * @return 0; EXCO_EINVAL if @p tcp is NULL; EXCO_EALREADY if it is being
 *         closed already.
 */
EXCO_UV_API int exco_uv_tcp_close(exco_uv_tcp *tcp);

/**
 * The libuv handle, for options and addresses (not for closing; owned by
 * @p tcp).  NULL if @p tcp is NULL.
 */
EXCO_UV_API uv_tcp_t *exco_uv_tcp_handle(exco_uv_tcp *tcp);

/* ---------------------------------------------------------------------- */
/* UDP                                                                     */
/* ---------------------------------------------------------------------- */

/** A UDP socket: a heap object owned by the caller until
 * exco_uv_udp_close(). */
typedef struct exco_uv_udp exco_uv_udp;

/**
 * Creates a UDP socket, bound to @p addr unless it is NULL (a send then
 * binds it to an ephemeral port).  Does not wait (but is an awaitable, like
 * exco_uv_tcp_listen()).
 *
 * @param out  receives the socket (set only on success).
 * @return 0; a UV_E* code; EXCO_ENOMEM.
 */
EXCO_UV_API int exco_uv_udp_open(const struct sockaddr *addr,
                                 exco_uv_udp **out);

/**
 * Sends one datagram of @p len bytes to @p to.  The data is copied if the
 * socket can't take it at once, so @p buf is free when the call returns.
 *
 * @return 0; a UV_E* code (UV_EMSGSIZE ...); EXCO_ECANCELED; EXCO_EINVAL
 *         if @p to is NULL.
 */
EXCO_UV_API int exco_uv_udp_send(exco_uv_udp *udp, const void *buf, size_t len,
                                 const struct sockaddr *to);
EXCO_UV_API int exco_uv_udp_send_timeout(exco_uv_udp *udp, const void *buf,
                                         size_t len, const struct sockaddr *to,
                                         uint64_t timeout_ms);

/**
 * Receives one datagram into @p buf; a longer one is truncated to @p len.
 *
 * @param from  if not NULL, receives the sender's address.
 * @return the datagram's length (>= 0, after truncation); a UV_E* code;
 *         EXCO_ECANCELED (also when the socket is closed meanwhile);
 *         EXCO_EBUSY if another coroutine is receiving.
 */
EXCO_UV_API ssize_t exco_uv_udp_recv(exco_uv_udp *udp, void *buf, size_t len,
                                     struct sockaddr_storage *from);
EXCO_UV_API ssize_t exco_uv_udp_recv_timeout(exco_uv_udp *udp, void *buf,
                                             size_t len,
                                             struct sockaddr_storage *from,
                                             uint64_t timeout_ms);

/**
 * Closes the socket, like exco_uv_tcp_close() (a pending receive returns
 * EXCO_ECANCELED).
 *
 * @return 0; EXCO_EINVAL if @p udp is NULL; EXCO_EALREADY if it is being
 *         closed already.
 */
EXCO_UV_API int exco_uv_udp_close(exco_uv_udp *udp);

/**
 * The libuv handle, for options and addresses (not for closing; owned by
 * @p udp).  NULL if @p udp is NULL.
 */
EXCO_UV_API uv_udp_t *exco_uv_udp_handle(exco_uv_udp *udp);

/* ---------------------------------------------------------------------- */
/* Blocking work on libuv's thread pool                                    */
/* ---------------------------------------------------------------------- */

/** A function run on a thread-pool thread (or, for @p abandon, on the
 * loop thread). */
typedef void (*exco_uv_work_fn)(void *arg);

/**
 * Runs @p work(@p arg) on libuv's thread pool (uv_queue_work) and waits
 * for it to return.  Put inputs and outputs in @p arg.
 *
 * On success the caller owns @p arg as before.  On EXCO_ECANCELED or
 * UV_ETIMEDOUT the job may not have started (it is then never run) or may
 * be running right now (it can't be stopped), so ownership of @p arg
 * passes to libuv: @p arg must not point into the coroutine's stack, the
 * caller must not touch it any more, and @p abandon(@p arg), if not NULL,
 * is called on the loop thread once the job is over or was removed from
 * the queue -- to free it.
 *
 * @return 0; EXCO_ECANCELED; UV_ETIMEDOUT (the _timeout form); EXCO_EINVAL
 *         if @p work is NULL; EXCO_ENOMEM.
 */
EXCO_UV_API int exco_uv_work(exco_uv_work_fn work, void *arg,
                             exco_uv_work_fn abandon);
EXCO_UV_API int exco_uv_work_timeout(exco_uv_work_fn work, void *arg,
                                     exco_uv_work_fn abandon,
                                     uint64_t timeout_ms);

/* ---------------------------------------------------------------------- */
/* Signals                                                                 */
/* ---------------------------------------------------------------------- */

/**
 * Waits for one delivery of signal @p signum (a one-shot uv_signal_t).
 * Signals are not queued between calls: while no uv_signal_t of the
 * process watches @p signum, libuv leaves it at its default action
 * (SIG_DFL), which for SIGINT or SIGTERM ends the process.
 *
 * @return 0; a UV_E* code (UV_EINVAL for a bad signal number);
 *         EXCO_ECANCELED.
 */
EXCO_UV_API int exco_uv_signal(int signum);
EXCO_UV_API int exco_uv_signal_timeout(int signum, uint64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_UV_H */
