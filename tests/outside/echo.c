/*
 * An outside program, built against an installed exco with
 * `pkg-config --cflags --libs exco-uv`: a TCP echo round trip over
 * 127.0.0.1 written in straight-line code.  Exits 0 when the client got
 * its message back and uv_run returned by itself.
 */
#include <exco/uv.h>
#include <stdio.h>
#include <string.h>

static const char msg[] = "hello through exco";
static int port;
static int echoed, server_ok;

static void *server(void *arg) {
  exco_uv_tcp *lsn = arg, *conn;
  char buf[64];
  ssize_t n;

  if (exco_uv_tcp_accept(lsn, &conn) == 0) {
    while ((n = exco_uv_tcp_read(conn, buf, sizeof(buf))) > 0)
      if (exco_uv_tcp_write(conn, buf, (size_t)n) != 0)
        break;
    server_ok = n == UV_EOF;
    exco_uv_tcp_close(conn);
  }
  exco_uv_tcp_close(lsn);
  return NULL;
}

static void *client(void *arg) {
  struct sockaddr_in addr;
  exco_uv_tcp *c;
  char buf[64];
  size_t got = 0;
  ssize_t n;

  (void)arg;
  uv_ip4_addr("127.0.0.1", port, &addr);
  if (exco_uv_tcp_connect((struct sockaddr *)&addr, &c) != 0)
    return NULL;
  if (exco_uv_tcp_write(c, msg, sizeof(msg)) == 0) {
    while (got < sizeof(msg) &&
           (n = exco_uv_tcp_read(c, buf + got, sizeof(buf) - got)) > 0)
      got += (size_t)n;
    echoed = got == sizeof(msg) && memcmp(buf, msg, sizeof(msg)) == 0;
  }
  exco_uv_tcp_shutdown(c);
  exco_uv_tcp_close(c);
  return NULL;
}

/* Listening needs no waiting, so it can happen before the loop runs. */
static void *start(void *arg) {
  struct sockaddr_in addr;
  struct sockaddr_storage name;
  int len = sizeof(name);
  exco_uv_tcp *lsn;

  (void)arg;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (exco_uv_tcp_listen((struct sockaddr *)&addr, 16, &lsn) != 0)
    return NULL;
  uv_tcp_getsockname(exco_uv_tcp_handle(lsn), (struct sockaddr *)&name, &len);
  port = ntohs(((struct sockaddr_in *)&name)->sin_port);
  exco_spawn(NULL, server, lsn, NULL, NULL);
  exco_spawn(NULL, client, NULL, NULL, NULL);
  return NULL;
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  int err = exco_uv_init(loop);

  if (err == 0)
    err = exco_spawn(NULL, start, NULL, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "setup: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  printf("outside/echo: %s\n", echoed && server_ok ? "ok" : "FAILED");
  return echoed && server_ok ? 0 : 1;
}
