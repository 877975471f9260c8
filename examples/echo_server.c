/*
 * echo_server.c -- a TCP echo server on 127.0.0.1, one coroutine per
 * connection.  Ctrl-C (SIGINT) cancels every task and the loop ends.
 *
 *     examples/echo_server [port]    (default: 7000)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <exco/uv.h>

static void *serve(void *arg) {
  exco_uv_tcp *client = arg;
  char buf[4096];
  ssize_t n;

  /* Echo until the client shuts down its side, an error, or cancel. */
  while ((n = exco_uv_tcp_read(client, buf, sizeof(buf))) > 0)
    if (exco_uv_tcp_write(client, buf, (size_t)n) != 0)
      break;
  exco_uv_tcp_close(client);
  return NULL;
}

static void *accept_loop(void *arg) {
  int port = *(int *)arg;
  struct sockaddr_in addr;
  exco_uv_tcp *server, *client;
  int err;

  uv_ip4_addr("127.0.0.1", port, &addr);
  err = exco_uv_tcp_listen((struct sockaddr *)&addr, 0, &server);
  if (err != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(err));
    return NULL;
  }
  printf("echoing on 127.0.0.1:%d\n", port);
  while ((err = exco_uv_tcp_accept(server, &client)) == 0)
    if (exco_spawn(NULL, serve, client, NULL, NULL) != 0)
      exco_uv_tcp_close(client);
  if (err != EXCO_ECANCELED)
    fprintf(stderr, "accept: %s\n", uv_strerror(err));
  exco_uv_tcp_close(server);
  return NULL;
}

static void *stop_on_sigint(void *arg) {
  (void)arg;
  if (exco_uv_signal(SIGINT) == 0) {
    printf("\nSIGINT: stopping\n");
    exco_uv_executor_cancel_all(exco_current_executor());
  }
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  int port = argc > 1 ? atoi(argv[1]) : 7000;
  int err;

  /* A peer that goes away would kill us with SIGPIPE on the next write;
   * ignored, the write returns UV_EPIPE instead. */
  signal(SIGPIPE, SIG_IGN);
  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_spawn(NULL, accept_loop, &port, NULL, NULL);
  if (err == 0)
    err = exco_spawn(NULL, stop_on_sigint, NULL, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "echo_server: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
