/*
 * echo_client.c -- send a line to an echo server on 127.0.0.1 and print
 * what comes back.
 *
 *     examples/echo_client [port] [message]   (default: 7000 "hello")
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <exco/uv.h>

typedef struct job {
  int port;
  const char *message;
} job;

static void *client(void *arg) {
  job *j = arg;
  struct sockaddr_in addr;
  exco_uv_tcp *conn;
  char buf[4096];
  ssize_t n;
  int err;

  uv_ip4_addr("127.0.0.1", j->port, &addr);
  err = exco_uv_tcp_connect_timeout((struct sockaddr *)&addr, &conn, 5000);
  if (err != 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(err));
    return NULL;
  }
  err = exco_uv_tcp_write(conn, j->message, strlen(j->message));
  /* Shut down our side: the server echoes, sees EOF and closes. */
  if (err == 0)
    err = exco_uv_tcp_shutdown(conn);
  while (err == 0 &&
         (n = exco_uv_tcp_read_timeout(conn, buf, sizeof(buf), 5000)) > 0)
    fwrite(buf, 1, (size_t)n, stdout);
  if (err != 0)
    fprintf(stderr, "echo: %s\n", uv_strerror(err));
  printf("\n");
  exco_uv_tcp_close(conn);
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  job j = {argc > 1 ? atoi(argv[1]) : 7000, argc > 2 ? argv[2] : "hello"};
  int err;

  /* A peer that goes away would kill us with SIGPIPE on the next write;
   * ignored, the write returns UV_EPIPE instead. */
  signal(SIGPIPE, SIG_IGN);
  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_spawn(NULL, client, &j, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "echo_client: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
