/*
 * w7-echo.c -- W7 echo: TCP echo over loopback (127.0.0.1 only) with C
 * concurrent clients; requests per second.
 *
 * Server and clients share one loop on one thread.  Each repetition
 * starts a server on an ephemeral port and C clients; once all of them
 * are connected the clock starts, and each client sends --w7-size bytes,
 * waits until it has them back, and repeats until --w7-seconds have
 * passed.  The result is completed round trips divided by the time from
 * the start to the last client's last reply.
 *
 * exco: a server task accepts and spawns one echo task per connection
 * (read, write back, until EOF); each client is a task; all of them use
 * exco's uv awaitables (exco_uv_tcp_*).  raw-uv: the classic libuv echo
 * server and clients, callbacks only, writing with uv_try_write first and
 * uv_write for the rest, as the awaitables do.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#include "exco/uv.h"

#define BUF_SIZE 65536

/* ---- exco ------------------------------------------------------------ */

typedef struct w7_run {
  bench_host *h;
  exco_uv_tcp *server;
  struct sockaddr_in addr;
  int connected; /* clients connected so far */
  int finished;  /* clients done */
  long requests; /* completed round trips */
  uint64_t t0, t1, deadline;
  int err; /* first error seen */
} w7_run;

static void w7_fail(w7_run *r, int err) {
  if (r->err == 0)
    r->err = err;
}

static void *echo_conn(void *arg) {
  exco_uv_tcp *c = arg;
  char buf[BUF_SIZE];
  ssize_t n;

  while ((n = exco_uv_tcp_read(c, buf, sizeof(buf))) > 0)
    if (exco_uv_tcp_write(c, buf, (size_t)n) != 0)
      break;
  exco_uv_tcp_close(c);
  return NULL;
}

static void *server(void *arg) {
  w7_run *r = arg;
  exco_uv_tcp *c;
  int err;

  for (;;) {
    err = exco_uv_tcp_accept(r->server, &c);
    if (err != 0)
      break; /* EXCO_ECANCELED: the listening socket was closed */
    if ((err = exco_spawn(NULL, echo_conn, c, NULL, NULL)) != 0) {
      w7_fail(r, err);
      exco_uv_tcp_close(c);
    }
  }
  return NULL;
}

static void *client(void *arg) {
  w7_run *r = arg;
  char buf[BUF_SIZE];
  size_t size = (size_t)bench_o.w7_size, got;
  exco_uv_tcp *c;
  ssize_t n;
  int err;

  if ((err = exco_uv_tcp_connect((const struct sockaddr *)&r->addr, &c)) != 0) {
    w7_fail(r, err);
    goto out;
  }
  memset(buf, 'x', size);
  /* Start together: the clock runs from the last connection. */
  if (++r->connected == bench_o.w7_clients) {
    r->t0 = bench_now_ns();
    r->deadline = r->t0 + (uint64_t)(bench_o.w7_seconds * 1e9);
  }
  while (r->connected < bench_o.w7_clients && r->err == 0)
    if (exco_yield() != 0)
      break;
  while (r->err == 0 && bench_now_ns() < r->deadline) {
    if ((err = exco_uv_tcp_write(c, buf, size)) != 0) {
      w7_fail(r, err);
      break;
    }
    /* Into the rest of the buffer, as raw_alloc() does: asking for just
     * the rest of the reply would have the read fill its buffer, and
     * libuv read again at once (see drivers/uv/stream.c). */
    for (got = 0; got < size; got += (size_t)n) {
      n = exco_uv_tcp_read(c, buf + got, sizeof(buf) - got);
      if (n <= 0) {
        w7_fail(r, n < 0 ? (int)n : EXCO_EINVAL);
        break;
      }
    }
    if (got < size)
      break;
    r->requests++;
  }
  exco_uv_tcp_close(c);
out:
  if (++r->finished == bench_o.w7_clients) {
    r->t1 = bench_now_ns();
    /* Ends the server's accept loop. */
    exco_uv_tcp_close(r->server);
  }
  return NULL;
}

/* Listens from inside a task: the awaitables need a coroutine. */
static void *start(void *arg) {
  w7_run *r = arg;
  struct sockaddr_storage ss;
  int len = sizeof(ss), i, err;

  uv_ip4_addr("127.0.0.1", 0, &r->addr);
  err = exco_uv_tcp_listen((const struct sockaddr *)&r->addr, 0, &r->server);
  if (err == 0)
    err = uv_tcp_getsockname(exco_uv_tcp_handle(r->server),
                             (struct sockaddr *)&ss, &len);
  if (err != 0) {
    w7_fail(r, err);
    if (r->server != NULL)
      exco_uv_tcp_close(r->server);
    return NULL;
  }
  r->addr.sin_port = ((struct sockaddr_in *)&ss)->sin_port;
  if ((err = exco_spawn(NULL, server, r, NULL, NULL)) != 0) {
    w7_fail(r, err);
    exco_uv_tcp_close(r->server);
    return NULL;
  }
  for (i = 0; i < bench_o.w7_clients; i++)
    if ((err = exco_spawn(NULL, client, r, NULL, NULL)) != 0) {
      /* The clients already spawned stop at their first check. */
      w7_fail(r, err);
      r->finished += bench_o.w7_clients - i;
      if (r->finished == bench_o.w7_clients)
        exco_uv_tcp_close(r->server);
      break;
    }
  return NULL;
}

static double rep_exco(void *ctx, char *note, size_t len) {
  bench_host *h = ctx;
  w7_run r;
  int err;

  memset(&r, 0, sizeof(r));
  r.h = h;
  if ((err = exco_spawn(h->ex, start, &r, NULL, NULL)) != 0) {
    snprintf(note, len, "exco_spawn: %s", exco_strerror(err));
    return -1;
  }
  bench_host_run(h);
  if (r.err != 0 || r.t1 <= r.t0) {
    snprintf(note, len, "%s", r.err ? exco_strerror(r.err) : "no run");
    return -1;
  }
  return (double)r.requests / ((double)(r.t1 - r.t0) / 1e9);
}

/* ---- raw libuv ------------------------------------------------------- */

typedef struct raw_run raw_run;

typedef struct raw_conn {
  uv_tcp_t tcp;
  raw_run *run;
  int is_client;
  int dead; /* a client that failed before the start */
  size_t got;
  char buf[BUF_SIZE];
} raw_conn;

typedef struct raw_write {
  uv_write_t req;
  char data[];
} raw_write;

struct raw_run {
  uv_loop_t *loop;
  uv_tcp_t server;
  struct sockaddr_in addr;
  raw_conn **clients;
  int connected, finished;
  long requests;
  uint64_t t0, t1, deadline;
  int err;
};

static void raw_fail(raw_run *r, int err) {
  if (r->err == 0)
    r->err = err;
}

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  raw_conn *c = (raw_conn *)h;

  (void)hint;
  /* Clients and the server read as much as there is, into the rest of
   * the buffer (the exco clients do the same). */
  *buf = uv_buf_init(c->buf + c->got, (unsigned)(BUF_SIZE - c->got));
}

static void raw_written(uv_write_t *req, int status) {
  raw_conn *c = req->handle->data;

  if (status != 0 && status != UV_ECANCELED)
    raw_fail(c->run, status);
  free(req);
}

/* Writes @len bytes: what the kernel takes at once, then a copy of the
 * rest through uv_write. */
static int raw_send(raw_conn *c, const char *data, size_t len) {
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  raw_write *w;

  if (n == (int)len)
    return 0;
  if (n < 0 && n != UV_EAGAIN)
    return n;
  if (n < 0)
    n = 0;
  w = malloc(sizeof(*w) + len - (size_t)n);
  if (w == NULL)
    return UV_ENOMEM;
  memcpy(w->data, data + n, len - (size_t)n);
  b = uv_buf_init(w->data, (unsigned)(len - (size_t)n));
  return uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, raw_written);
}

static void raw_client_done(raw_conn *c) {
  raw_run *r = c->run;

  uv_close((uv_handle_t *)&c->tcp, bench_free_handle);
  if (++r->finished == bench_o.w7_clients) {
    r->t1 = bench_now_ns();
    uv_close((uv_handle_t *)&r->server, NULL);
  }
}

static void raw_request(raw_conn *c) {
  int err;

  c->got = 0;
  if ((err = raw_send(c, c->buf, (size_t)bench_o.w7_size)) != 0) {
    raw_fail(c->run, err);
    raw_client_done(c);
  }
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  raw_conn *c = (raw_conn *)s;
  raw_run *r = c->run;
  int err;

  (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    if (n != UV_EOF)
      raw_fail(r, (int)n);
    if (c->is_client)
      raw_client_done(c);
    else
      uv_close((uv_handle_t *)&c->tcp, bench_free_handle);
    return;
  }
  if (!c->is_client) {
    if ((err = raw_send(c, c->buf, (size_t)n)) != 0) {
      raw_fail(r, err);
      uv_close((uv_handle_t *)&c->tcp, bench_free_handle);
    }
    return;
  }
  c->got += (size_t)n;
  if (c->got < (size_t)bench_o.w7_size)
    return;
  r->requests++;
  if (r->err == 0 && bench_now_ns() < r->deadline) {
    raw_request(c);
  } else {
    uv_read_stop(s);
    raw_client_done(c);
  }
}

static void raw_accept(uv_stream_t *server, int status) {
  raw_run *r = server->data;
  raw_conn *c;
  int err;

  if (status != 0) {
    raw_fail(r, status);
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    raw_fail(r, UV_ENOMEM);
    return;
  }
  c->run = r;
  uv_tcp_init(r->loop, &c->tcp);
  c->tcp.data = c;
  if ((err = uv_accept(server, (uv_stream_t *)&c->tcp)) != 0 ||
      (err = uv_read_start((uv_stream_t *)&c->tcp, raw_alloc, raw_read)) != 0) {
    raw_fail(r, err);
    uv_close((uv_handle_t *)&c->tcp, bench_free_handle);
  }
}

/* Counts a client as arrived at the start line, connected or failed; the
 * last one starts the clock and every live client's first request. */
static void raw_arrived(raw_run *r) {
  raw_conn *c;
  int i, err;

  if (++r->connected < bench_o.w7_clients)
    return;
  r->t0 = bench_now_ns();
  r->deadline = r->t0 + (uint64_t)(bench_o.w7_seconds * 1e9);
  for (i = 0; i < bench_o.w7_clients; i++) {
    c = r->clients[i];
    if (c->dead)
      continue;
    memset(c->buf, 'x', (size_t)bench_o.w7_size);
    if ((err = raw_send(c, c->buf, (size_t)bench_o.w7_size)) != 0) {
      raw_fail(r, err);
      uv_read_stop((uv_stream_t *)&c->tcp);
      raw_client_done(c);
    }
  }
}

static void raw_connected(uv_connect_t *req, int status) {
  raw_conn *c = req->data;
  raw_run *r = c->run;

  free(req);
  if (status == 0)
    status = uv_read_start((uv_stream_t *)&c->tcp, raw_alloc, raw_read);
  if (status != 0) {
    raw_fail(r, status);
    c->dead = 1;
    raw_client_done(c);
  }
  raw_arrived(r);
}

static double rep_raw(void *ctx, char *note, size_t len) {
  uv_loop_t *loop = ctx;
  struct sockaddr_storage ss;
  int namelen = sizeof(ss), i, err;
  raw_run r;

  memset(&r, 0, sizeof(r));
  r.loop = loop;
  r.clients = calloc((size_t)bench_o.w7_clients, sizeof(*r.clients));
  if (r.clients == NULL) {
    snprintf(note, len, "out of memory");
    return -1;
  }
  uv_ip4_addr("127.0.0.1", 0, &r.addr);
  uv_tcp_init(loop, &r.server);
  r.server.data = &r;
  if ((err = uv_tcp_bind(&r.server, (const struct sockaddr *)&r.addr, 0)) !=
          0 ||
      (err = uv_listen((uv_stream_t *)&r.server, SOMAXCONN, raw_accept)) != 0 ||
      (err = uv_tcp_getsockname(&r.server, (struct sockaddr *)&ss, &namelen)) !=
          0) {
    uv_close((uv_handle_t *)&r.server, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    free(r.clients);
    snprintf(note, len, "listen: %s", uv_strerror(err));
    return -1;
  }
  r.addr.sin_port = ((struct sockaddr_in *)&ss)->sin_port;
  for (i = 0; i < bench_o.w7_clients; i++) {
    raw_conn *c = calloc(1, sizeof(*c));
    uv_connect_t *req = malloc(sizeof(*req));

    if (c == NULL || req == NULL) {
      /* Unreachable in practice; give up on the run. */
      fprintf(stderr, "exco-bench: out of memory\n");
      exit(1);
    }
    c->run = &r;
    c->is_client = 1;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    req->data = c;
    r.clients[i] = c;
    if ((err = uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&r.addr,
                              raw_connected)) != 0) {
      free(req);
      raw_fail(&r, err);
      c->dead = 1;
      raw_client_done(c);
      raw_arrived(&r);
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);
  free(r.clients);
  if (r.err != 0 || r.t1 <= r.t0) {
    snprintf(note, len, "%s", r.err ? uv_strerror(r.err) : "no run");
    return -1;
  }
  return (double)r.requests / ((double)(r.t1 - r.t0) / 1e9);
}

void bench_w7_echo(void) {
  bench_result t = {0};
  int local = bench_o.peers & BENCH_P_LOCAL;

  t.workload = "W7";
  t.title = "echo";
  t.metric = "req/s";
  t.higher_better = 1;
  snprintf(t.params, sizeof(t.params),
           "C=%d clients, %d-byte requests, %.3g s per rep, 127.0.0.1",
           bench_o.w7_clients, bench_o.w7_size, bench_o.w7_seconds);
  /* The awaitables need a loop, which the local executor does not have. */
  bench_o.peers &= ~BENCH_P_LOCAL;
  bench_hosts_measure(&t, rep_exco);
  bench_o.peers |= (unsigned)local;
  bench_raw_measure(&t, rep_raw,
                    "callback echo server and clients; uv_try_write, then "
                    "uv_write");
}
