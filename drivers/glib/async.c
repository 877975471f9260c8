/*
 * async.c -- awaiting GIO's asynchronous calls: exco_glib_async, the heap
 * object that is a GAsyncReadyCallback's user data.
 *
 * The callback and the coroutine meet in a promise (resolved by the
 * callback, awaited by the coroutine), and the object's lifetime is
 * decided under its mutex by three flags: awaited (a call was made, so a
 * callback is coming), called (it came) and freed (the owner gave the
 * object back).  Whoever comes last of "the owner's free" and "the
 * callback" frees it; an object that was never awaited has no callback
 * coming and goes with the owner's free.  The callback may run on any
 * thread (GIO calls it on the caller's thread-default context, which the
 * caller chose), so everything it shares is under the mutex, and it
 * resolves the promise before it lets go of the mutex: once it has, the
 * owner may free the object at any moment.
 *
 * An await that gives up (cancellation, deadline) cancels the call's
 * GCancellable and, while the callback is still to come, takes a hold on
 * the coroutine's stack (exco_hold_stack()), which the callback releases:
 * a buffer on that stack lent to the call stays mapped until GIO is done.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "exco/glib.h"
#include "internal.h"

struct exco_glib_async {
  pthread_mutex_t mu;
  exco_promise *done; /* resolved by the callback */
  GCancellable *cancellable;
  GAsyncResult *res; /* the callback's, referenced; NULL until then */
  exco_hold *hold;   /* taken by an await that gave up early */
  void *driver;      /* with the hold: the GLib driver to kick, or NULL */
  int awaited;       /* an await started: a callback is coming */
  int called;        /* the callback came */
  int freed;         /* exco_glib_async_free() was called */
};

static void exco__glib_async_destroy(exco_glib_async *a) {
  if (a->res != NULL)
    g_object_unref(a->res);
  g_object_unref(a->cancellable);
  exco_promise_unref(a->done);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

int exco_glib_async_new(exco_glib_async **out) {
  exco_glib_async *a;
  int err;

  if (out == NULL)
    return EXCO_EINVAL;
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return EXCO_ENOMEM;
  err = exco_promise_new(&a->done);
  if (err != 0) {
    free(a);
    return err;
  }
  if (pthread_mutex_init(&a->mu, NULL) != 0) {
    exco_promise_unref(a->done);
    free(a);
    return EXCO_ENOMEM;
  }
  a->cancellable = g_cancellable_new();
  *out = a;
  return 0;
}

GCancellable *exco_glib_async_cancellable(exco_glib_async *a) {
  return a != NULL ? a->cancellable : NULL;
}

void exco_glib_async_cb(GObject *source, GAsyncResult *res,
                        gpointer user_data) {
  exco_glib_async *a = user_data;
  exco_hold *hold;
  void *driver;
  int last;

  (void)source;
  pthread_mutex_lock(&a->mu);
  a->res = res != NULL ? g_object_ref(res) : NULL;
  a->called = 1;
  hold = a->hold;
  driver = a->driver;
  a->hold = NULL;
  a->driver = NULL;
  last = a->freed;
  /* Under the mutex: the owner may free the object as soon as it sees
   * `called`. */
  (void)exco_promise_resolve(a->done, NULL);
  pthread_mutex_unlock(&a->mu);
  exco_hold_release(hold);
  /* The task may have been the executor's last: let the driver see it
   * (its reference keeps it readable, even if the executor is gone). */
  if (driver != NULL)
    exco__glib_idle_kick(driver);
  if (last)
    exco__glib_async_destroy(a);
}

int exco_glib_async_await(exco_glib_async *a, GAsyncResult **res) {
  int err;

  if (a == NULL)
    return EXCO_EINVAL;
  if (exco_current() == NULL)
    return EXCO_EPERM;
  pthread_mutex_lock(&a->mu);
  a->awaited = 1;
  pthread_mutex_unlock(&a->mu);
  err = exco_promise_await(a->done, NULL);
  if (err == 0) {
    if (res != NULL)
      *res = a->res;
    return 0;
  }
  if (err == EXCO_ECANCELED || err == EXCO_ETIMEDOUT) {
    /* Outside the mutex: cancelling may run the callback at once (a
     * GCancellable's handlers run in g_cancellable_cancel()). */
    g_cancellable_cancel(a->cancellable);
    pthread_mutex_lock(&a->mu);
    if (!a->called && a->hold == NULL) {
      a->hold = exco_hold_stack();
      a->driver = exco__glib_driver_ref(exco_current_executor());
    }
    pthread_mutex_unlock(&a->mu);
  }
  return err;
}

void exco_glib_async_free(exco_glib_async *a) {
  int last;

  if (a == NULL)
    return;
  pthread_mutex_lock(&a->mu);
  a->freed = 1;
  last = a->called || !a->awaited;
  pthread_mutex_unlock(&a->mu);
  if (last)
    exco__glib_async_destroy(a);
}
