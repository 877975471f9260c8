/*
 * io.c -- exco_libev_wait_fd(): a leaf future over one ev_io watcher.
 *
 * The watcher lives in the awaiting coroutine's frame.  That is safe
 * because it never outlives the call: the watcher's callback stops it as
 * soon as it fires (so a level-triggered descriptor doesn't fire again
 * before the task is polled), and a cancellation or deadline stops it in
 * the cancel function, which exco runs on the coroutine's stack before
 * exco_await() returns.  Nothing of the call is left with libev.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>

#include "exco/libev.h"

typedef struct exco__libev_wait {
  ev_io io;
  struct ev_loop *loop;
  exco_waker *waker; /* the awaiting task's, owned */
  int revents;       /* what fired; 0 while pending */
} exco__libev_wait;

static void exco__libev_wait_io_cb(struct ev_loop *loop, ev_io *w,
                                   int revents) {
  exco__libev_wait *wt = w->data;

  ev_io_stop(loop, w);
  wt->revents |= revents;
  exco_waker_wake(wt->waker);
}

static int exco__libev_wait_poll(void *arg, exco_waker *waker) {
  exco__libev_wait *wt = arg;

  (void)waker;
  if (wt->revents != 0)
    return 1;
  /* The first poll starts the watcher; later (spurious) polls find it
   * started already. */
  if (!ev_is_active(&wt->io))
    ev_io_start(wt->loop, &wt->io);
  return 0;
}

static void exco__libev_wait_cancel(void *arg) {
  exco__libev_wait *wt = arg;

  ev_io_stop(wt->loop, &wt->io);
}

int exco_libev_wait_fd(int fd, int events) {
  exco__libev_wait wt;
  int err;

  if (exco_current() == NULL)
    return EXCO_EPERM;
  wt.loop = exco_libev_loop();
  if (wt.loop == NULL)
    return EXCO_ENOTSUP;
  if (fd < 0 || (events & ~(EV_READ | EV_WRITE)) != 0 ||
      (events & (EV_READ | EV_WRITE)) == 0)
    return EXCO_EINVAL;
  /* libev (as Debian builds it, with assertions) aborts the process when
   * the kernel refuses to watch a descriptor that isn't open: ask first. */
  if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
    return EXCO_EINVAL;
  ev_io_init(&wt.io, exco__libev_wait_io_cb, fd, events);
  wt.io.data = &wt;
  wt.revents = 0;
  wt.waker = exco_waker_current();
  exco_await_label("libev.fd");
  err = exco_await(exco__libev_wait_poll, exco__libev_wait_cancel, &wt);
  /* The watcher is stopped by now: it fired (and stopped itself), or the
   * await failed and the cancel function stopped it -- or the task was
   * cancelled before the first poll started it. */
  exco_waker_drop(wt.waker);
  if (err != 0)
    return err;
  /* EV_ERROR: libev could not watch fd and gave up on it (a libev built
   * without assertions does that where Debian's aborts). */
  if (wt.revents & EV_ERROR)
    return EXCO_EINVAL;
  return wt.revents & (EV_READ | EV_WRITE);
}
