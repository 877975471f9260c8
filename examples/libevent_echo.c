/*
 * libevent_echo.c -- a TCP echo server on 127.0.0.1 on a libevent
 * event_base, one coroutine per connection, each reading and writing its
 * non-blocking socket top to bottom with exco_libevent_wait_fd().  Ctrl-C
 * (SIGINT) closes the executor from a libevent callback: every task is
 * cancelled, cleans up, and event_base_dispatch() returns by itself.
 *
 * Every task here is woken on the loop's own thread, so the program
 * doesn't need evthread_use_pthreads(); one that spawns or wakes tasks
 * from other threads calls it before event_base_new() (see THREADS in
 * <exco/libevent.h>).
 *
 *     examples/libevent_echo [port]    (default: 7002)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exco/libevent.h>

/* read(), waiting while the socket has nothing: bytes, 0 at end of file,
 * or a negative error (EXCO_ECANCELED when the task is cancelled). */
static ssize_t co_read(int fd, void *buf, size_t len) {
  for (;;) {
    ssize_t n = read(fd, buf, len);
    int ev;

    if (n >= 0)
      return n;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -errno;
    if ((ev = exco_libevent_wait_fd(fd, EV_READ)) < 0)
      return ev;
  }
}

/* Writes all @len bytes, waiting while the socket is full. */
static int co_write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    int ev;

    if (n >= 0) {
      buf += n;
      len -= (size_t)n;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return -errno;
    } else if ((ev = exco_libevent_wait_fd(fd, EV_WRITE)) < 0) {
      return ev;
    }
  }
  return 0;
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[4096];
  ssize_t n;

  /* Echo until the client closes its side, an error, or cancel. */
  while ((n = co_read(fd, buf, sizeof(buf))) > 0)
    if (co_write_all(fd, buf, (size_t)n) != 0)
      break;
  close(fd);
  return NULL;
}

static void *accept_loop(void *arg) {
  int lfd = (int)(intptr_t)arg, fd, err = 0;

  while (err >= 0) {
    fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
      /* One coroutine per connection, on this executor (NULL). */
      if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
          exco_spawn(NULL, serve, (void *)(intptr_t)fd, NULL, NULL) != 0)
        close(fd);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      err = exco_libevent_wait_fd(lfd, EV_READ);
    } else if (errno != EINTR && errno != ECONNABORTED) {
      err = -errno;
    }
  }
  if (err != EXCO_ECANCELED)
    fprintf(stderr, "accept: %s\n", exco_strerror(err));
  close(lfd);
  return NULL;
}

static exco_executor *ex;

static void on_closed(void *arg) {
  struct event *sig = arg;

  /* The executor is gone: delete the last event, and
   * event_base_dispatch() returns. */
  event_del(sig);
}

static void on_sigint(evutil_socket_t signum, short what, void *arg) {
  (void)signum;
  (void)what;
  printf("\nSIGINT: stopping\n");
  exco_executor_close(ex, on_closed, arg);
}

static int listen_on(int port) {
  struct sockaddr_in addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;

  if (fd < 0)
    return -1;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
      bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  struct event_base *base;
  struct event *sig;
  int port = argc > 1 ? atoi(argv[1]) : 7002;
  int lfd, err;

  /* A peer that goes away would kill us with SIGPIPE on the next write;
   * ignored, the write fails with EPIPE instead. */
  signal(SIGPIPE, SIG_IGN);
  lfd = listen_on(port);
  if (lfd < 0) {
    perror("listen");
    return 1;
  }
  base = event_base_new();
  if (base == NULL) {
    fprintf(stderr, "libevent_echo: event_base_new failed\n");
    return 1;
  }
  err = exco_libevent_executor_new(&ex, base);
  if (err == 0)
    err = exco_spawn(ex, accept_loop, (void *)(intptr_t)lfd, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "libevent_echo: %s\n", exco_strerror(err));
    return 1;
  }
  /* evsignal_new() needs the event's own address as its argument. */
  sig = evsignal_new(base, SIGINT, on_sigint, event_self_cbarg());
  if (sig == NULL || event_add(sig, NULL) != 0) {
    fprintf(stderr, "libevent_echo: no SIGINT event\n");
    return 1;
  }
  printf("echoing on 127.0.0.1:%d\n", port);
  fflush(stdout);
  event_base_dispatch(base);
  /* The executor freed itself when its close finished. */
  event_free(sig);
  event_base_free(base);
  return 0;
}
