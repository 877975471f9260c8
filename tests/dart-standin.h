/*
 * dart-standin.h -- a stand-in for a Dart isolate's ReceivePort, to test
 * the Dart driver (<exco/dart.h>) without a Dart VM.  Reusable by any
 * test (the driver conformance suite's adapter too): it needs only
 * pthreads and libexco-dart, not Check.
 *
 * A stand-in port is a queue drained by a thread of its own (the
 * isolate), which calls a handler for each message, one at a time (the
 * port's listener).  dart_standin_post() is the stand-in of
 * Dart_PostCObject (NativeApi.postCObject): thread-safe, it copies the
 * message (an Int64 only: other types are refused and counted as
 * bad_type), and returns false once the port is closed or if there is no
 * such port.  As in Dart, closing a port discards the messages still
 * queued for it, and port numbers are never reused.
 *
 * The default handler (handler NULL) is the listener of
 * drivers/dart/exco.dart, written in C: 0 means the executor has been
 * freed (counted as gone) and closes the port; any other message is a
 * task handle, given to exco_dart_poll() and, when that returns 0, to
 * exco_dart_drop().  Its counters are in dart_standin_stats.
 *
 * Code that Dart would run on the isolate (a shutdown path, say) runs on
 * the port's thread through dart_standin_call(), in order with the
 * messages.  Nothing here asserts: the counters are read and checked by
 * the test after the fact.
 */
#ifndef EXCO_TESTS_DART_STANDIN_H
#define EXCO_TESTS_DART_STANDIN_H

#include <stdbool.h>
#include <stdint.h>

#include "exco/dart.h"

typedef struct dart_standin dart_standin;

/* The listener: called on the port's thread for each message. */
typedef void (*dart_standin_handler)(dart_standin *p, int64_t message,
                                     void *arg);

typedef struct dart_standin_stats {
  /* The port. */
  unsigned long posted;    /* messages taken by dart_standin_post() */
  unsigned long refused;   /* posts refused because the port was closed */
  unsigned long bad_type;  /* posts refused because not an Int64 */
  unsigned long handled;   /* messages given to the handler */
  unsigned long discarded; /* messages dropped by the close */
  unsigned long calls;     /* dart_standin_call() functions run */
  /* The default (exco) listener. */
  unsigned long polls;       /* exco_dart_poll() calls */
  unsigned long pending;     /* ... that returned 1 */
  unsigned long finished;    /* ... that returned 0 */
  unsigned long poll_errors; /* ... that returned < 0 */
  unsigned long drops;       /* exco_dart_drop() calls that returned 0 */
  unsigned long drop_errors; /* ... that returned an error */
  unsigned long gone;        /* 0 messages: the executor was freed */
} dart_standin_stats;

/* Opens a port and starts its thread.  @handler NULL means the default
 * (exco) listener, and @arg is ignored then.  Returns 0 or -1. */
int dart_standin_open(dart_standin **out, dart_standin_handler handler,
                      void *arg);

/* The port's number (its Dart_Port), never 0. */
int64_t dart_standin_port(const dart_standin *p);

/* Dart_PostCObject's stand-in (an exco_dart_post_fn), and the same with
 * the seed's type (rust_async_executor_dart_init's post_cobject). */
bool dart_standin_post(int64_t port, exco_dart_cobject *message);
bool dart_standin_post_void(int64_t port, void *message);

/* Runs @fn(@arg) on the port's thread after what is queued.  Calls run
 * whether the port is closed or not (the isolate goes on).  Returns 0, or
 * -1 if @fn could not be queued (no memory). */
int dart_standin_call(dart_standin *p, void (*fn)(void *arg), void *arg);
/* The same, and waits until it has run (not from the port's thread).
 * Returns 0, or -1 after @timeout seconds. */
int dart_standin_call_wait(dart_standin *p, void (*fn)(void *arg), void *arg,
                           double timeout);

/* The default listener's work for one message, for handlers that add to
 * it (a handler that records, then calls this). */
void dart_standin_exco_listen(dart_standin *p, int64_t message);

/* Closes the port: later posts return false and the queued messages are
 * discarded.  From any thread: from another one it also waits for a
 * handler in progress to return, so that afterwards the listener calls
 * nothing more.  Closing twice is harmless. */
void dart_standin_close(dart_standin *p);
int dart_standin_closed(dart_standin *p);

/* 1 if the caller runs on the port's thread. */
int dart_standin_on_thread(dart_standin *p);

/* Waits until nothing is queued and no handler or call runs.  Returns 0,
 * or -1 after @timeout seconds.  Wakes from other threads (timers,
 * promises) can make the port busy again at once: wait for what the test
 * needs, then for idle. */
int dart_standin_wait_idle(dart_standin *p, double timeout);

/* A consistent snapshot of the counters. */
void dart_standin_stats_get(dart_standin *p, dart_standin_stats *out);

/* Closes the port, stops and joins its thread (queued calls still run
 * first), frees it.  NULL is ignored.  Not from the port's thread. */
void dart_standin_free(dart_standin *p);

#endif
