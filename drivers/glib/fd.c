/*
 * fd.c -- exco_glib_wait_fd(): a leaf future over one GLib unix fd source.
 *
 * The source is GLib's (g_unix_fd_source_new()), allocated by GLib, and
 * the awaiting coroutine holds the only reference that outlives the call's
 * frame: the source's callback destroys it as soon as it fires (so a
 * level-triggered descriptor doesn't fire again before the task is
 * polled), and a cancellation or deadline destroys it in the cancel
 * function, which exco runs on the coroutine's stack before exco_await()
 * returns.  The call then drops its reference, so nothing of it is left
 * with the context.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>

#include <glib-unix.h>

#include "exco/glib.h"
#include "internal.h"

typedef struct exco__glib_wait {
  GSource *source;
  GMainContext *ctx;
  exco_waker *waker;  /* the awaiting task's, owned */
  GIOCondition fired; /* 0 while pending */
  int attached;
} exco__glib_wait;

static gboolean exco__glib_wait_cb(gint fd, GIOCondition condition,
                                   gpointer user_data) {
  exco__glib_wait *wt = user_data;

  (void)fd;
  if (condition == 0)
    return G_SOURCE_CONTINUE;
  wt->fired = condition;
  exco_waker_wake(wt->waker);
  return G_SOURCE_REMOVE;
}

static int exco__glib_wait_poll(void *arg, exco_waker *waker) {
  exco__glib_wait *wt = arg;

  (void)waker;
  if (wt->fired != 0)
    return 1;
  /* The first poll attaches the source; later (spurious) polls find it
   * attached already. */
  if (!wt->attached) {
    wt->attached = 1;
    g_source_attach(wt->source, wt->ctx);
  }
  return 0;
}

static void exco__glib_wait_cancel(void *arg) {
  exco__glib_wait *wt = arg;

  g_source_destroy(wt->source);
}

int exco_glib_wait_fd(int fd, GIOCondition condition) {
  const GIOCondition valid = G_IO_IN | G_IO_OUT | G_IO_PRI;
  exco__glib_wait wt;
  int priority, err;

  if (exco_current() == NULL)
    return EXCO_EPERM;
  err = exco__glib_source_params(exco_current_executor(), &wt.ctx, &priority);
  if (err != 0)
    return err;
  if (fd < 0 || (condition & ~valid) != 0 || (condition & valid) == 0)
    return EXCO_EINVAL;
  if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
    return EXCO_EINVAL;
  wt.source = g_unix_fd_source_new(fd, condition);
  g_source_set_priority(wt.source, priority);
  g_source_set_callback(
      wt.source, (GSourceFunc)(void (*)(void))exco__glib_wait_cb, &wt, NULL);
  wt.waker = exco_waker_current();
  wt.fired = 0;
  wt.attached = 0;
  exco_await_label("glib.fd");
  err = exco_await(exco__glib_wait_poll, exco__glib_wait_cancel, &wt);
  /* Destroyed by now if it fired or the await failed after attaching it;
   * destroying again is harmless, and covers a task cancelled before its
   * first poll. */
  g_source_destroy(wt.source);
  g_source_unref(wt.source);
  exco_waker_drop(wt.waker);
  if (err != 0)
    return err;
  if (wt.fired & G_IO_NVAL)
    return EXCO_EINVAL;
  return (int)(wt.fired & (condition | G_IO_HUP | G_IO_ERR));
}
