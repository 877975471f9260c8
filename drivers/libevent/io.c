/*
 * io.c -- exco_libevent_wait_fd(): a leaf future over one one-shot event.
 *
 * The event (a struct event, set up with event_assign()) lives in the
 * awaiting coroutine's frame.  That is safe because it never outlives the
 * call: libevent deletes a one-shot event before it runs its callback (so
 * a level-triggered descriptor doesn't fire again before the task is
 * polled), and a cancellation or deadline deletes it in the cancel
 * function, which exco runs on the coroutine's stack before exco_await()
 * returns; event_del() also takes an event that fired but whose callback
 * has not run yet off the base's active list.  Nothing of the call is left
 * with libevent.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>

#include <event2/event_struct.h>

#include "exco/libevent.h"

typedef struct exco__libevent_wait {
  struct event ev;
  exco_waker *waker; /* the awaiting task's, owned */
  int added;         /* event_add() was called */
  int failed;        /* ... and failed */
  int revents;       /* what fired; 0 while pending */
} exco__libevent_wait;

static void exco__libevent_wait_cb(evutil_socket_t fd, short what, void *arg) {
  exco__libevent_wait *wt = arg;

  (void)fd;
  wt->revents |= what;
  exco_waker_wake(wt->waker);
}

static int exco__libevent_wait_poll(void *arg, exco_waker *waker) {
  exco__libevent_wait *wt = arg;

  (void)waker;
  if (wt->revents != 0 || wt->failed)
    return 1;
  /* The first poll adds the event; later (spurious) polls find it added
   * already. */
  if (!wt->added) {
    wt->added = 1;
    if (event_add(&wt->ev, NULL) != 0) {
      wt->failed = 1;
      return 1;
    }
  }
  return 0;
}

static void exco__libevent_wait_cancel(void *arg) {
  exco__libevent_wait *wt = arg;

  event_del(&wt->ev);
}

int exco_libevent_wait_fd(int fd, int events) {
  exco__libevent_wait wt;
  struct event_base *base;
  int err;

  if (exco_current() == NULL)
    return EXCO_EPERM;
  base = exco_libevent_base();
  if (base == NULL)
    return EXCO_ENOTSUP;
  if (fd < 0 || (events & ~(EV_READ | EV_WRITE)) != 0 ||
      (events & (EV_READ | EV_WRITE)) == 0)
    return EXCO_EINVAL;
  /* epoll would refuse it, and libevent print a warning: ask first. */
  if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
    return EXCO_EINVAL;
  if (event_assign(&wt.ev, base, fd, (short)events, exco__libevent_wait_cb,
                   &wt) != 0)
    return EXCO_EINVAL;
  wt.added = 0;
  wt.failed = 0;
  wt.revents = 0;
  wt.waker = exco_waker_current();
  exco_await_label("libevent.fd");
  err = exco_await(exco__libevent_wait_poll, exco__libevent_wait_cancel, &wt);
  /* The event is deleted by now: it fired (libevent deleted it), the add
   * failed, or the await failed and the cancel function deleted it -- or
   * the task was cancelled before the first poll added it.  A deleted
   * event may be forgotten; tell libevent's debug mode so too. */
  event_debug_unassign(&wt.ev);
  exco_waker_drop(wt.waker);
  if (err != 0)
    return err;
  if (wt.failed)
    return EXCO_EINVAL;
  return wt.revents & (EV_READ | EV_WRITE);
}
