/*
 * exco/sync.h -- the concurrency toolkit: channels and select; mutexes,
 * condition variables, semaphores and wait groups for coroutines;
 * task-local storage; scopes (structured concurrency); blocking offload.
 *
 * OVERVIEW
 *
 * A channel carries elements of one fixed size (given at creation) from
 * senders to receivers, first in, first out.  Its capacity decides when a
 * send waits:
 *
 *   0                      rendezvous: a send waits until a receiver
 *                          takes the element, and a receive until a
 *                          sender comes;
 *   1 .. N                 bounded: a send waits while N elements are
 *                          buffered;
 *   EXCO_CHAN_UNBOUNDED    unbounded: a send never waits (it may fail
 *                          with EXCO_ENOMEM).
 *
 * Any number of senders and receivers may use a channel at once, from
 * coroutines on any executor and from plain threads:
 *
 *   - In a coroutine, a blocking operation suspends the coroutine (the
 *     loop thread goes on running other tasks) and is resumed by the
 *     party that completes it, from whatever thread that party runs on.
 *     It obeys the task's cancellation and deadline (exco_task_cancel(),
 *     exco_deadline_set()).
 *   - Outside a coroutine, a blocking operation blocks the calling thread
 *     on a condition variable.  Only the _until forms' deadline ends such
 *     a wait early.  Never call a blocking form outside a coroutine on a
 *     thread that runs an executor's loop: the coroutine that would
 *     complete the operation could never run.
 *
 * Every blocking operation also has a try_ form that never waits and
 * returns EXCO_EAGAIN where the blocking one would wait.
 *
 *     exco_chan *c;
 *     int v = 42, got;
 *     exco_chan_new(&c, sizeof(int), 16);
 *     exco_chan_send(c, &v);            // in a producer
 *     exco_chan_recv(c, &got);          // in a consumer
 *     exco_chan_close(c);               // no more sends; receivers drain
 *     exco_chan_unref(c);
 *
 * ELEMENTS AND OWNERSHIP
 *
 * Elements are copied by value (memcpy of the element size): a send
 * copies from the caller's element, a receive copies into the caller's.
 * When the element is a pointer, the channel moves the pointer and owns
 * nothing it points to; by convention the receiver takes over what a
 * successful send handed in, and a sender keeps what a failed send did not
 * deliver.  An operation that returns an error moved nothing: no element
 * was taken from the sender's buffer and none was written to the
 * receiver's.  Elements still buffered when the last reference goes are
 * discarded without any call; drain a channel (receive until EXCO_EPIPE)
 * if its elements own memory.
 *
 * CLOSING
 *
 * exco_chan_close() says that no more elements will be sent.  Sends after
 * it, and sends waiting at that moment, fail with EXCO_EPIPE (a waiting
 * sender's element is not delivered).  Receives go on returning the
 * buffered elements in order; once the buffer is empty they, and the
 * receives waiting at that moment, return EXCO_EPIPE.  Closing is
 * final: a channel can't be reopened.
 *
 * CANCELLATION AND DEADLINES
 *
 * A coroutine's blocking operation returns EXCO_ECANCELED if its task is
 * cancelled (at once, without trying, if it was cancelled before the
 * call) and EXCO_ETIMEDOUT if the task's deadline or the call's own
 * deadline passes while it waits.  Such an operation is withdrawn without
 * side effects: it moved no element and it took no other party's
 * element or wake.  An operation that another party completed before the
 * cancellation or deadline took effect returns success, and the
 * cancellation (or the deadline) is seen by the next await.  So an
 * element is never lost between a sender and a receiver that gives up.
 * The try_ forms ignore cancellation and deadlines.
 *
 * FAIRNESS
 *
 * Waiting senders and waiting receivers are each served first come,
 * first served.  exco_chan_select() picks among the clauses that are
 * ready at once from a random starting clause, so none is starved.
 *
 * THREADS AND LIFETIME
 *
 * Every function here may be called from any thread.  Channels are
 * reference counted: exco_chan_new() returns one reference, which the
 * caller owns; exco_chan_ref() makes another for each party that may
 * outlive the others, and exco_chan_unref() gives one back (the last frees
 * the channel).  A caller must hold a reference to every channel it
 * passes to a call for the whole call, including the time it waits.
 */
#ifndef EXCO_SYNC_H
#define EXCO_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "exco.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Errors used by the toolkit (in addition to those of exco.h)             */
/* ---------------------------------------------------------------------- */

/**
 * The channel is closed: a send on a closed channel, or a receive on a
 * closed channel whose buffer is empty.
 */
#define EXCO_EPIPE (-EPIPE)
/** A try_ form (or a select without wait) would have had to wait. */
#define EXCO_EAGAIN (-EAGAIN)

/* ---------------------------------------------------------------------- */
/* Channels                                                                */
/* ---------------------------------------------------------------------- */

/** A channel of fixed-size elements. */
typedef struct exco_chan exco_chan;

/** Capacity of a channel whose sends never wait. */
#define EXCO_CHAN_UNBOUNDED SIZE_MAX

/** Largest element size a channel accepts (bytes). */
#define EXCO_CHAN_ELEM_MAX ((size_t)1 << 20)

/**
 * Creates a channel.
 *
 * @param out        receives the channel; the caller owns one reference.
 * @param elem_size  bytes per element, 0 to EXCO_CHAN_ELEM_MAX (0 makes a
 *                   channel of pure events; its element pointers may be
 *                   NULL).
 * @param capacity   0 (rendezvous), a buffer size, or EXCO_CHAN_UNBOUNDED.
 *                   A bounded buffer is allocated at once; an unbounded
 *                   one grows as needed.
 * @return 0; EXCO_EINVAL if @p out is NULL or @p elem_size is too large;
 *         EXCO_ENOMEM (also if @p capacity times @p elem_size does not
 *         fit in memory).
 */
EXCO_API int exco_chan_new(exco_chan **out, size_t elem_size, size_t capacity);

/** Adds a reference; returns @p c (NULL if @p c is NULL). */
EXCO_API exco_chan *exco_chan_ref(exco_chan *c);

/**
 * Gives back a reference; the last one frees the channel with whatever is
 * still buffered (see ELEMENTS AND OWNERSHIP).  No operation may be
 * waiting on the channel then (it would hold a reference).  NULL is
 * ignored.
 */
EXCO_API void exco_chan_unref(exco_chan *c);

/**
 * Sends the element at @p elem: copies it into the buffer, or straight to
 * a waiting receiver, waiting (see OVERVIEW) while neither can take it.
 *
 * @return 0 once the element was taken (by the buffer or a receiver);
 *         EXCO_EPIPE if the channel is closed, before or while waiting;
 *         EXCO_ECANCELED, EXCO_ETIMEDOUT (coroutines: the task's
 *         cancellation or deadline); EXCO_ENOMEM (unbounded channel whose
 *         buffer could not grow); EXCO_EINVAL if @p c is NULL, or @p elem
 *         is NULL and the element size is not 0.  On error nothing was
 *         sent.
 */
EXCO_API int exco_chan_send(exco_chan *c, const void *elem);

/**
 * Receives the oldest element into @p elem, waiting while there is none.
 *
 * @return 0 with the element at @p elem; EXCO_EPIPE once the channel is
 *         closed and drained (@p elem is not written); EXCO_ECANCELED,
 *         EXCO_ETIMEDOUT; EXCO_EINVAL as for exco_chan_send().
 */
EXCO_API int exco_chan_recv(exco_chan *c, void *elem);

/**
 * exco_chan_send() and exco_chan_recv() with a deadline of their own, an
 * exco_now() time (EXCO_NO_DEADLINE for none): they return EXCO_ETIMEDOUT
 * if it passes while they wait.  In a coroutine the task's own deadline
 * applies too (the sooner wins); outside one this is the only way to
 * bound the wait.  A deadline already past still completes an operation
 * that needs no wait.
 */
EXCO_API int exco_chan_send_until(exco_chan *c, const void *elem,
                                  int64_t deadline);
EXCO_API int exco_chan_recv_until(exco_chan *c, void *elem, int64_t deadline);

/**
 * Sends or receives only if that can be done without waiting.
 *
 * @return as the blocking forms, with EXCO_EAGAIN where they would wait;
 *         never EXCO_ECANCELED or EXCO_ETIMEDOUT.
 */
EXCO_API int exco_chan_try_send(exco_chan *c, const void *elem);
EXCO_API int exco_chan_try_recv(exco_chan *c, void *elem);

/**
 * Closes @p c (see CLOSING): wakes every waiting sender and receiver that
 * can no longer complete.  From any thread; the caller keeps its
 * reference.
 *
 * @return 0; EXCO_EINVAL if @p c is NULL; EXCO_EALREADY if closed already.
 */
EXCO_API int exco_chan_close(exco_chan *c);

/**
 * Elements buffered right now (a snapshot; 0 for a rendezvous channel).
 *
 * @return the count (>= 0), or EXCO_EINVAL if @p c is NULL.
 */
EXCO_API long exco_chan_len(exco_chan *c);

/** @return 1 if closed, 0 if not, EXCO_EINVAL if @p c is NULL. */
EXCO_API int exco_chan_is_closed(exco_chan *c);

/* ---------------------------------------------------------------------- */
/* Select                                                                  */
/* ---------------------------------------------------------------------- */

/** Clause operations for exco_chan_select(). */
enum { EXCO_CHAN_SEND = 1, EXCO_CHAN_RECV = 2 };

/** Most clauses one exco_chan_select() takes. */
#define EXCO_SELECT_MAX 64

/**
 * One operation of a select.  Set chan, op and elem; result is written by
 * the select; the private words are the select's own (it links them into
 * the channels while it waits) and need no initialisation.
 */
typedef struct exco_chan_clause {
  exco_chan *chan; /* the channel (the caller holds a reference) */
  int op;          /* EXCO_CHAN_SEND or EXCO_CHAN_RECV */
  void *elem;      /* send: the element to send; recv: where it goes */
  int result;      /* out: 0, or EXCO_EPIPE, for the chosen clause */
  void *exco_private_[3];
} exco_chan_clause;

/**
 * Waits until one of the @p n clauses can be done, does exactly that one,
 * and says which.  The others are withdrawn without side effects.  When
 * several can be done at once, one is chosen at random.  A clause on a
 * closed channel counts as done: a send at once, a receive once the
 * buffer is drained; its result is then EXCO_EPIPE and nothing was moved.
 * A channel may appear in several clauses, in both directions.
 *
 * @param clauses   an array of @p n clauses, owned by the caller, which
 *                  must not touch it during the call (it may live on the
 *                  coroutine's stack).
 * @param n         0 to EXCO_SELECT_MAX; 0 just waits for the deadline
 *                  (or cancellation).
 * @param deadline  an exco_now() time, or EXCO_NO_DEADLINE; in a
 *                  coroutine the task's deadline applies too.
 * @return the index of the clause done (its result says 0 or EXCO_EPIPE);
 *         EXCO_ETIMEDOUT, EXCO_ECANCELED (as for exco_chan_send(); no
 *         clause was done); EXCO_ENOMEM (a send to an unbounded channel
 *         that could not grow); EXCO_EINVAL if @p clauses is NULL with
 *         @p n > 0, @p n is too large, or a clause has no channel, an
 *         unknown op, or a NULL elem with a nonzero element size.
 */
EXCO_API int exco_chan_select(exco_chan_clause *clauses, size_t n,
                              int64_t deadline);

/**
 * exco_chan_select() with a default case: does one clause that is ready
 * now, or returns EXCO_EAGAIN at once.  Ignores cancellation and
 * deadlines.
 */
EXCO_API int exco_chan_try_select(exco_chan_clause *clauses, size_t n);

/* ---------------------------------------------------------------------- */
/* Mutex, condition variable, semaphore, wait group                        */
/* ---------------------------------------------------------------------- */

/*
 * These suspend a coroutine instead of blocking its thread, so the loop
 * goes on running other tasks while one waits.  Waiters are served first
 * come, first served, and a release hands the mutex, the permit or the
 * signal straight to the oldest waiter, so a stream of newcomers can't
 * starve it.  A waiter that is cancelled (or whose deadline passes) after
 * it was handed something passes it on to the next waiter before it
 * returns its error, so no wakeup that belonged to another is lost.
 *
 * The waiting calls (lock, wait, acquire) need a coroutine and return
 * EXCO_EPERM outside one; the releasing ones (unlock by the holder,
 * signal, broadcast, release, done) may be called from any thread.  All
 * four objects are allocated by their _new() function and owned by the
 * caller, who frees them with _free() once no task uses them any more.
 */

/** A mutual-exclusion lock held by one task at a time. */
typedef struct exco_mutex exco_mutex;

/** @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM. */
EXCO_API int exco_mutex_new(exco_mutex **out);

/**
 * Frees @p m.
 *
 * @return 0; EXCO_EINVAL if @p m is NULL; EXCO_EBUSY if it is locked or
 *         has waiters (it is left intact).
 */
EXCO_API int exco_mutex_free(exco_mutex *m);

/**
 * Locks @p m for the running task, suspending while another task holds
 * it.  Not recursive.
 *
 * @return 0, the task holds @p m; EXCO_ECANCELED, EXCO_ETIMEDOUT (the
 *         task's cancellation or deadline; not held); EXCO_EDEADLK if the
 *         task holds it already; EXCO_EPERM outside a coroutine;
 *         EXCO_EINVAL if @p m is NULL.
 */
EXCO_API int exco_mutex_lock(exco_mutex *m);

/**
 * Locks @p m if it is free and nobody waits for it.
 *
 * @return 0; EXCO_EBUSY if held (by anyone, the caller included);
 *         EXCO_EPERM outside a coroutine; EXCO_EINVAL.
 */
EXCO_API int exco_mutex_trylock(exco_mutex *m);

/**
 * Unlocks @p m, handing it to the oldest waiter if there is one.  Called
 * by the task that holds it (which may have moved to another thread).
 *
 * @return 0; EXCO_EPERM if the running task does not hold it (or the
 *         caller is not a coroutine); EXCO_EINVAL if @p m is NULL.
 */
EXCO_API int exco_mutex_unlock(exco_mutex *m);

/** A condition variable, used with an exco_mutex. */
typedef struct exco_cond exco_cond;

/** @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM. */
EXCO_API int exco_cond_new(exco_cond **out);

/** @return 0; EXCO_EINVAL; EXCO_EBUSY if tasks wait on it. */
EXCO_API int exco_cond_free(exco_cond *cv);

/**
 * Unlocks @p m, waits for a signal or broadcast on @p cv, and locks @p m
 * again.  The task must hold @p m.  Signals that come before the call
 * are not remembered (check the condition under the mutex, in a loop).
 *
 * @return 0 with @p m held; EXCO_ETIMEDOUT (the task's deadline passed
 *         while waiting for the signal) with @p m held again;
 *         EXCO_ECANCELED, the task was cancelled: @p m is NOT held when
 *         this is returned (the caller must not unlock it);
 *         EXCO_EPERM if the task does not hold @p m or this is not a
 *         coroutine; EXCO_EINVAL if an argument is NULL.
 */
EXCO_API int exco_cond_wait(exco_cond *cv, exco_mutex *m);

/**
 * Wakes the oldest waiter (signal) or all of them (broadcast).  From any
 * thread, with or without the mutex.
 *
 * @return the number of waiters woken (0 or 1 for signal); EXCO_EINVAL.
 */
EXCO_API int exco_cond_signal(exco_cond *cv);
EXCO_API int exco_cond_broadcast(exco_cond *cv);

/** A counting semaphore. */
typedef struct exco_sem exco_sem;

/** @return 0; EXCO_EINVAL if @p out is NULL or @p permits < 0; ENOMEM. */
EXCO_API int exco_sem_new(exco_sem **out, long permits);

/** @return 0; EXCO_EINVAL; EXCO_EBUSY if tasks wait on it. */
EXCO_API int exco_sem_free(exco_sem *s);

/**
 * Takes one permit, suspending while there is none.
 *
 * @return 0; EXCO_ECANCELED, EXCO_ETIMEDOUT (no permit taken; one handed
 *         over meanwhile went to the next waiter); EXCO_EPERM outside a
 *         coroutine; EXCO_EINVAL.
 */
EXCO_API int exco_sem_acquire(exco_sem *s);

/** Takes a permit if one is free: 0, EXCO_EAGAIN, EXCO_EINVAL.  Any
 * thread. */
EXCO_API int exco_sem_try_acquire(exco_sem *s);

/**
 * Gives back one permit, to the oldest waiter if there is one.  From any
 * thread.
 *
 * @return 0; EXCO_EINVAL if @p s is NULL or the count would overflow
 *         LONG_MAX (nothing is released then).
 */
EXCO_API int exco_sem_release(exco_sem *s);

/** Permits free right now (a snapshot), or EXCO_EINVAL. */
EXCO_API long exco_sem_value(exco_sem *s);

/** A wait group: waits until a count of outstanding jobs drops to 0. */
typedef struct exco_waitgroup exco_waitgroup;

/** @return 0 (the count starts at 0); EXCO_EINVAL; EXCO_ENOMEM. */
EXCO_API int exco_waitgroup_new(exco_waitgroup **out);

/** @return 0; EXCO_EINVAL; EXCO_EBUSY if tasks wait on it. */
EXCO_API int exco_waitgroup_free(exco_waitgroup *wg);

/**
 * Adds @p n (which may be negative) to the count; when it reaches 0 every
 * waiter is woken.  From any thread.
 *
 * @return 0; EXCO_EINVAL if @p wg is NULL or the count would go below 0
 *         or overflow (the count is left unchanged).
 */
EXCO_API int exco_waitgroup_add(exco_waitgroup *wg, long n);

/** exco_waitgroup_add(@p wg, -1). */
EXCO_API int exco_waitgroup_done(exco_waitgroup *wg);

/**
 * Waits until the count is 0 (returns at once if it is).
 *
 * @return 0; EXCO_ECANCELED, EXCO_ETIMEDOUT; EXCO_EPERM outside a
 *         coroutine; EXCO_EINVAL.
 */
EXCO_API int exco_waitgroup_wait(exco_waitgroup *wg);

/* ---------------------------------------------------------------------- */
/* Task-local storage                                                      */
/* ---------------------------------------------------------------------- */

/**
 * A key names one slot in every task.  Keys are process-wide, like
 * pthread keys; at most EXCO_TLS_KEYS_MAX exist at a time.
 */
typedef unsigned exco_tls_key;

/** Most keys that can exist at once. */
#define EXCO_TLS_KEYS_MAX 64

/**
 * Creates a key.  When a task's function returns (normally or after a
 * cancellation), each of its non-NULL values is set to NULL and passed to
 * @p dtor, on the task's own stack (so @p dtor may use task-local values
 * and must not await); values that destructors set again get up to four
 * more rounds.
 *
 * @param dtor  may be NULL.
 * @return 0; EXCO_EINVAL if @p key is NULL; EXCO_EAGAIN if
 *         EXCO_TLS_KEYS_MAX keys exist.
 */
EXCO_API int exco_tls_key_create(exco_tls_key *key, void (*dtor)(void *));

/**
 * Deletes a key.  Values still set under it are forgotten, without their
 * destructor (as pthread_key_delete()); the caller frees them if needed.
 *
 * @return 0; EXCO_EINVAL if @p key does not exist.
 */
EXCO_API int exco_tls_key_delete(exco_tls_key key);

/**
 * Sets the running task's value for @p key (the task owns what it points
 * to as far as the destructor goes).
 *
 * @return 0; EXCO_EPERM outside a coroutine; EXCO_EINVAL if @p key does
 *         not exist; EXCO_ENOMEM (the first value of a key in a task
 *         allocates a slot; later ones do not).
 */
EXCO_API int exco_tls_set(exco_tls_key key, void *value);

/** The running task's value for @p key; NULL if none, if @p key does not
 * exist, or outside a coroutine. */
EXCO_API void *exco_tls_get(exco_tls_key key);

/* ---------------------------------------------------------------------- */
/* Scopes: structured concurrency                                          */
/* ---------------------------------------------------------------------- */

/*
 * A scope owns a group of child tasks.  exco_scope_join() -- leaving the
 * scope -- waits until every child has finished.  The first child that
 * fails (returns nonzero), the parent's cancellation or deadline while it
 * waits in exco_scope_join(), or exco_scope_cancel(), cancels every child
 * still running; join then still waits for all of them, so no child
 * outlives the join.  (One exception: if the parent task is being dropped
 * by its host it can't wait any more; then join returns at once with the
 * children cancelled, and keeps the parent's stack mapped -- a stack hold
 * -- until the last child has finished, so arguments on that stack stay
 * valid.)
 *
 * A child counts from exco_scope_spawn() until its function returns.  A
 * host that drops a task before its first poll never runs it (exco.h,
 * exco_drop()); a scope whose child is dropped so waits for it for ever.
 * exco's own hosts and drivers never do that to a live executor's tasks
 * (closing one cancels them, and cancelled tasks still run their
 * function), but a three-callback host tearing down must cancel or join
 * scopes first.
 */

/** A group of child tasks. */
typedef struct exco_scope exco_scope;

/** A child's function: 0 for success, a negative EXCO_E* code for a
 * failure (which cancels its siblings). */
typedef int (*exco_scope_fn)(void *arg);

/**
 * Creates a scope.  The caller owns it and frees it with
 * exco_scope_free() after exco_scope_join().
 *
 * @return 0; EXCO_EINVAL if @p out is NULL; EXCO_ENOMEM.
 */
EXCO_API int exco_scope_new(exco_scope **out);

/**
 * Spawns @p fn(@p arg) as a child of @p s on @p ex (NULL: the running
 * coroutine's executor, or the default one), as exco_spawn() does.  From
 * any thread, until exco_scope_join() has returned.
 *
 * @return 0; EXCO_ECANCELED if the scope is cancelled or failed already
 *         (nothing is spawned); EXCO_EINVAL if @p s or @p fn is NULL, or
 *         join has returned; exco_spawn()'s errors (EXCO_ENOMEM,
 *         EXCO_ESHUTDOWN, ...).
 */
EXCO_API int exco_scope_spawn(exco_scope *s, exco_executor *ex,
                              exco_scope_fn fn, void *arg,
                              const exco_spawn_opts *opts);

/**
 * Cancels every child still running; later spawns fail.  From any thread.
 *
 * @return 0; EXCO_EINVAL if @p s is NULL.
 */
EXCO_API int exco_scope_cancel(exco_scope *s);

/**
 * Leaves the scope: waits until every child has finished (see above).
 * Called once, by a coroutine.
 *
 * @return 0 if every child returned 0; else the first failure: a child's
 *         nonzero return, or EXCO_ECANCELED / EXCO_ETIMEDOUT for the
 *         parent's own cancellation or deadline, or EXCO_ECANCELED after
 *         exco_scope_cancel(); EXCO_EPERM outside a coroutine; EXCO_EINVAL
 *         if @p s is NULL or joined already.
 */
EXCO_API int exco_scope_join(exco_scope *s);

/**
 * Frees @p s.  Call it after exco_scope_join() (or when nothing was
 * spawned); the scope's memory goes once its last child has finished.
 *
 * @return 0; EXCO_EINVAL if @p s is NULL; EXCO_EBUSY if children were
 *         spawned and join was not called (nothing is freed).
 */
EXCO_API int exco_scope_free(exco_scope *s);

/* ---------------------------------------------------------------------- */
/* Blocking offload                                                        */
/* ---------------------------------------------------------------------- */

/** A blocking function for exco_offload(). */
typedef void *(*exco_offload_fn)(void *arg);

/**
 * Runs @p fn(@p arg) on a worker thread of exco's built-in pool and
 * awaits its result, so a blocking call (a DNS lookup, a file read, a
 * long computation) does not block the loop.  Works on every executor.
 * The pool starts its threads on demand, up to EXCO_OFFLOAD_THREADS, and
 * queues jobs beyond that.
 *
 * A cancelled or timed-out offload returns at once, but the function
 * still runs to its end on its worker: the running task's stack stays
 * mapped (a stack hold) until then, so @p arg may point into it, and the
 * function's result is dropped (have @p fn free it through @p arg if it
 * owns memory).
 *
 * @param result  receives fn's return value on success; may be NULL.
 * @return 0; EXCO_ECANCELED, EXCO_ETIMEDOUT (the task's cancellation or
 *         deadline); EXCO_EPERM outside a coroutine; EXCO_EINVAL if
 *         @p fn is NULL; EXCO_ENOMEM, or EXCO_EAGAIN if no worker thread
 *         could be started and none runs; EXCO_ESHUTDOWN after
 *         exco_offload_shutdown().
 */
EXCO_API int exco_offload(exco_offload_fn fn, void *arg, void **result);

/** Most worker threads of the offload pool. */
#define EXCO_OFFLOAD_THREADS 4

/**
 * Stops the offload pool: the queued jobs are run, then the workers exit
 * and are joined.  Later offloads fail with EXCO_ESHUTDOWN.  exco calls
 * it at process exit (atexit) if the pool was started; call it earlier
 * to have the threads gone before, for example, a leak checker looks.
 * Must not be called from a worker (an offloaded function).
 */
EXCO_API void exco_offload_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif /* EXCO_SYNC_H */
