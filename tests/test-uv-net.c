/*
 * test-uv-net.c -- TCP and UDP awaitables on real sockets, 127.0.0.1
 * only: an echo server with 2,000 concurrent clients through one loop,
 * end of stream, refused connections, large writes under backpressure,
 * closing a socket under a waiting reader, the listener's accept queue
 * (white-box: its fields in uv-internal.h), handles of another loop, and
 * UDP round trips.
 *
 * Coroutines record results in plain variables; asserts come after
 * uv_run() returns.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"
#include "uv-internal.h"

/* Listens on 127.0.0.1 at an ephemeral port (from inside a coroutine). */
static int listen_any(exco_uv_tcp **server, struct sockaddr_in *bound) {
  return h_uv_listen_any(server, bound, 4096);
}

/* ---------------------------------------------------------------------- */
/* Echo with many concurrent clients                                       */
/* ---------------------------------------------------------------------- */

typedef struct echo_ctx {
  long clients;
  struct sockaddr_in addr;
  exco_uv_tcp *server;
  exco_task *acceptor;
  long accepted;
  long served; /* server handlers that saw EOF */
  long ok;     /* clients that got their bytes back */
  long errors;
  int first_err;
  long finished; /* clients done, ok or not */
  int listen_err;
  int accept_end; /* the accept loop's last return */
} echo_ctx;

typedef struct client_job {
  echo_ctx *c;
  long id;
} client_job;

static void note_err(echo_ctx *c, int err) {
  if (c->errors++ == 0)
    c->first_err = err;
}

static void *echo_handler(void *arg) {
  exco_uv_tcp *conn = arg;
  char buf[1024];
  ssize_t n;

  while ((n = exco_uv_tcp_read(conn, buf, sizeof(buf))) > 0)
    if (exco_uv_tcp_write(conn, buf, (size_t)n) != 0)
      break;
  exco_uv_tcp_close(conn);
  return NULL;
}

static void *accept_loop(void *arg) {
  echo_ctx *c = arg;
  exco_uv_tcp *conn;
  int err;

  while ((err = exco_uv_tcp_accept(c->server, &conn)) == 0) {
    c->accepted++;
    if (exco_spawn(NULL, echo_handler, conn, NULL, NULL) != 0) {
      note_err(c, EXCO_ENOMEM);
      exco_uv_tcp_close(conn);
    }
  }
  c->accept_end = err;
  exco_uv_tcp_close(c->server);
  return NULL;
}

static void *echo_client(void *arg) {
  client_job *j = arg;
  echo_ctx *c = j->c;
  char msg[600], back[600];
  size_t len, got = 0;
  exco_uv_tcp *conn;
  ssize_t n;
  int err;

  len = (size_t)snprintf(msg, sizeof(msg), "client %ld says ", j->id);
  while (len < 64 + (size_t)(j->id % 500)) {
    msg[len] = (char)('a' + (j->id + (long)len) % 26);
    len++;
  }
  err = exco_uv_tcp_connect((struct sockaddr *)&c->addr, &conn);
  if (err != 0) {
    note_err(c, err);
    goto done;
  }
  err = exco_uv_tcp_write(conn, msg, len);
  while (err == 0 && got < len) {
    n = exco_uv_tcp_read(conn, back + got, sizeof(back) - got);
    if (n < 0)
      err = (int)n;
    else
      got += (size_t)n;
  }
  if (err == 0)
    err = exco_uv_tcp_shutdown(conn);
  /* The server closes after our EOF: we then read EOF too. */
  if (err == 0 && (n = exco_uv_tcp_read(conn, back, sizeof(back))) != UV_EOF)
    err = n < 0 ? (int)n : -9999;
  if (err == 0 && got == len && memcmp(msg, back, len) == 0)
    c->ok++;
  else
    note_err(c, err != 0 ? err : -8888);
  exco_uv_tcp_close(conn);
done:
  if (++c->finished == c->clients)
    exco_task_cancel(c->acceptor);
  return NULL;
}

static void *echo_main(void *arg) {
  echo_ctx *c = arg;
  client_job *jobs;
  long i;

  c->listen_err = listen_any(&c->server, &c->addr);
  if (c->listen_err != 0)
    return NULL;
  if (exco_spawn(NULL, accept_loop, c, NULL, &c->acceptor) != 0) {
    exco_uv_tcp_close(c->server);
    c->listen_err = EXCO_ENOMEM;
    return NULL;
  }
  jobs = malloc(sizeof(*jobs) * (size_t)c->clients);
  for (i = 0; i < c->clients; i++) {
    jobs[i].c = c;
    jobs[i].id = i;
    if (exco_spawn(NULL, echo_client, &jobs[i], NULL, NULL) != 0) {
      note_err(c, EXCO_ENOMEM);
      c->finished++;
    }
  }
  /* Wait for the acceptor, which ends when the last client is done. */
  exco_join(c->acceptor, NULL);
  exco_task_release(c->acceptor);
  free(jobs);
  return NULL;
}

START_TEST(echo_many_clients) {
  long clients = h_scale(2000);
  struct rlimit rl;
  rlim_t need = (rlim_t)clients * 2 + 64;
  echo_ctx c;
  tloop t;

  /* Two descriptors per connection in this one process. */
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < need) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
      printf("echo_many_clients: SKIPPED: RLIMIT_NOFILE hard limit %lu < "
             "%lu descriptors needed\n",
             (unsigned long)rl.rlim_max, (unsigned long)need);
      return;
    }
    rl.rlim_cur = need;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  memset(&c, 0, sizeof(c));
  c.clients = clients;
  tl_init(&t);
  tl_spawn(&t, echo_main, &c, NULL);
  tl_run(&t);
  ck_assert_int_eq(c.listen_err, 0);
  ck_assert_msg(c.errors == 0, "%ld errors, first %d (%s)", c.errors,
                c.first_err, uv_strerror(c.first_err));
  ck_assert_int_eq(c.ok, clients);
  ck_assert_int_eq(c.accepted, clients);
  ck_assert_int_eq(c.accept_end, EXCO_ECANCELED);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* EOF, argument errors, close under a reader, refused connections         */
/* ---------------------------------------------------------------------- */

typedef struct misc {
  int setup;
  int listen_busy;
  int accept_on_conn;
  int read_on_server;
  int write_len0;
  int ping_ok;
  int eof1, eof2;
  int read_after_close;
  int refused;
  int double_close;
} misc;

typedef struct reader_job {
  exco_uv_tcp *conn;
  int result;
} reader_job;

static void *reader(void *arg) {
  reader_job *r = arg;
  char buf[16];

  r->result = (int)exco_uv_tcp_read(r->conn, buf, sizeof(buf));
  return NULL;
}

static void *misc_main(void *arg) {
  misc *m = arg;
  struct sockaddr_in addr, addr3;
  exco_uv_tcp *server, *server2, *server3, *client, *conn, *other;
  reader_job rj;
  exco_task *rt;
  char buf[16];
  ssize_t n;

  if (listen_any(&server, &addr) != 0)
    return NULL;
  m->listen_busy = exco_uv_tcp_listen((struct sockaddr *)&addr, 0, &server2);
  if (m->listen_busy == 0)
    exco_uv_tcp_close(server2);
  if (exco_uv_tcp_connect((struct sockaddr *)&addr, &client) != 0)
    return NULL;
  if (exco_uv_tcp_accept(server, &conn) != 0)
    return NULL;
  m->setup = 1;

  /* Wrong kinds of socket. */
  m->accept_on_conn = exco_uv_tcp_accept(conn, &other);
  m->read_on_server = (int)exco_uv_tcp_read(server, buf, sizeof(buf));
  m->write_len0 = exco_uv_tcp_write(client, buf, 0);

  /* Data, then end of stream (sticky). */
  if (exco_uv_tcp_write(client, "ping", 4) == 0) {
    size_t got = 0;

    while (got < 4 && (n = exco_uv_tcp_read(conn, buf + got, 4 - got)) > 0)
      got += (size_t)n;
    m->ping_ok = got == 4 && memcmp(buf, "ping", 4) == 0;
  }
  exco_uv_tcp_shutdown(client);
  m->eof1 = (int)exco_uv_tcp_read(conn, buf, sizeof(buf));
  m->eof2 = (int)exco_uv_tcp_read(conn, buf, sizeof(buf));

  /* A read waiting on a socket another coroutine closes. */
  rj.conn = client;
  rj.result = 1;
  if (exco_spawn(NULL, reader, &rj, NULL, &rt) == 0) {
    exco_yield(); /* the reader runs and waits */
    exco_uv_tcp_close(client);
    exco_join(rt, NULL);
    exco_task_release(rt);
    m->read_after_close = rj.result;
  } else {
    exco_uv_tcp_close(client);
  }
  exco_uv_tcp_close(conn);
  exco_uv_tcp_close(server);

  /* Nobody listens on a port that was just closed. */
  if (listen_any(&server3, &addr3) == 0) {
    exco_uv_tcp_close(server3);
    m->refused = exco_uv_tcp_connect((struct sockaddr *)&addr3, &other);
    if (m->refused == 0)
      exco_uv_tcp_close(other);
  }
  return NULL;
}

START_TEST(tcp_misc) {
  misc m;
  tloop t;

  memset(&m, 0, sizeof(m));
  tl_init(&t);
  tl_spawn(&t, misc_main, &m, NULL);
  tl_run(&t);
  ck_assert_int_eq(m.setup, 1);
  ck_assert_int_eq(m.listen_busy, UV_EADDRINUSE);
  ck_assert_int_eq(m.accept_on_conn, EXCO_EINVAL);
  ck_assert_int_eq(m.read_on_server, EXCO_EINVAL);
  ck_assert_int_eq(m.write_len0, 0);
  ck_assert_int_eq(m.ping_ok, 1);
  ck_assert_int_eq(m.eof1, UV_EOF);
  ck_assert_int_eq(m.eof2, UV_EOF);
  ck_assert_int_eq(m.read_after_close, EXCO_ECANCELED);
  ck_assert_int_eq(m.refused, UV_ECONNREFUSED);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Large writes under backpressure, two writers in call order              */
/* ---------------------------------------------------------------------- */

#define CHUNK (8 * 1024 * 1024)

typedef struct big {
  exco_uv_tcp *client;
  char fill;
  int err;
} big;

static void *big_writer(void *arg) {
  big *b = arg;
  char *data = malloc(CHUNK);

  memset(data, b->fill, CHUNK);
  b->err = exco_uv_tcp_write(b->client, data, CHUNK);
  /* The copy of what the kernel did not take is libuv's now. */
  memset(data, 0, CHUNK);
  free(data);
  return NULL;
}

typedef struct big_result {
  int setup;
  int err_a, err_b;
  long got;
  long a_then_b_ok;
  int eof;
} big_result;

static void *big_main(void *arg) {
  big_result *r = arg;
  struct sockaddr_in addr;
  exco_uv_tcp *server, *client, *conn;
  big a = {NULL, 'A', 1}, b = {NULL, 'B', 1};
  exco_task *ta, *tb;
  char *buf = malloc(65536);
  long ok = 0;
  ssize_t n, i;

  if (listen_any(&server, &addr) != 0 ||
      exco_uv_tcp_connect((struct sockaddr *)&addr, &client) != 0 ||
      exco_uv_tcp_accept(server, &conn) != 0)
    goto out;
  r->setup = 1;
  a.client = b.client = client;
  exco_spawn(NULL, big_writer, &a, NULL, &ta);
  exco_spawn(NULL, big_writer, &b, NULL, &tb);
  /* Read slowly at first so the writers queue. */
  exco_uv_sleep(20);
  while (r->got < 2L * CHUNK && (n = exco_uv_tcp_read(conn, buf, 65536)) > 0) {
    for (i = 0; i < n; i++)
      ok += buf[i] == (r->got + i < CHUNK ? 'A' : 'B');
    r->got += n;
  }
  r->a_then_b_ok = ok;
  exco_join(ta, NULL);
  exco_join(tb, NULL);
  exco_task_release(ta);
  exco_task_release(tb);
  r->err_a = a.err;
  r->err_b = b.err;
  exco_uv_tcp_close(client);
  r->eof = (int)exco_uv_tcp_read(conn, buf, 65536);
  exco_uv_tcp_close(conn);
  exco_uv_tcp_close(server);
out:
  free(buf);
  return NULL;
}

START_TEST(tcp_big_writes_in_order) {
  big_result r;
  tloop t;

  memset(&r, 0, sizeof(r));
  tl_init(&t);
  tl_spawn(&t, big_main, &r, NULL);
  tl_run(&t);
  ck_assert_int_eq(r.setup, 1);
  ck_assert_int_eq(r.err_a, 0);
  ck_assert_int_eq(r.err_b, 0);
  ck_assert_int_eq(r.got, 2L * CHUNK);
  ck_assert_int_eq(r.a_then_b_ok, 2L * CHUNK);
  ck_assert_int_eq(r.eof, UV_EOF);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The accept queue: a burst is taken at once, up to the bound, in order   */
/* ---------------------------------------------------------------------- */

#define AQ_CLIENTS (EXCO_UV_TCP_ACCEPT_QUEUE + 72)

static struct {
  int setup;
  int handles0;
  long connected;
  unsigned queued;  /* queued once the loop had taken what it may */
  int held;         /* libuv held the next one (queue full) */
  unsigned queued2; /* after more loop iterations */
  long accepted;
  long in_order;  /* accepted in connect order (by the peer's port) */
  long suspended; /* accepts that had to wait */
  unsigned left;  /* queued when the listener was closed */
  int handles;
} aq;

static int port_of(uv_tcp_t *h, int peer) {
  struct sockaddr_in a;
  int len = sizeof(a);

  if ((peer ? uv_tcp_getpeername(h, (struct sockaddr *)&a, &len)
            : uv_tcp_getsockname(h, (struct sockaddr *)&a, &len)) != 0)
    return -1;
  return a.sin_port;
}

static void *aq_main(void *arg) {
  static exco_uv_tcp *cl[AQ_CLIENTS + 5];
  struct sockaddr_in addr;
  exco_uv_tcp *server, *c;
  long i, n = 0;
  int j;

  (void)arg;
  aq.handles0 = h_uv_handles(exco_uv_loop());
  if (h_uv_listen_any(&server, &addr, 1024) != 0)
    return NULL;
  aq.setup = 1;
  for (i = 0; i < AQ_CLIENTS; i++) {
    if (exco_uv_tcp_connect((struct sockaddr *)&addr, &cl[n]) != 0)
      break;
    n++;
  }
  aq.connected = n;
  for (j = 0; j < 100000 && !server->conn_ready; j++)
    exco_yield();
  aq.queued = server->aq_len;
  aq.held = server->conn_ready;
  for (j = 0; j < 20; j++)
    exco_yield();
  aq.queued2 = server->aq_len;
  /* Hand them out: in connect order, none waits while one is queued. */
  for (i = 0; i < n; i++) {
    int had = server->aq_head != NULL;

    if (exco_uv_tcp_accept(server, &c) != 0)
      break;
    aq.suspended += !had;
    aq.accepted++;
    aq.in_order += port_of(exco_uv_tcp_handle(c), 1) ==
                   port_of(exco_uv_tcp_handle(cl[i]), 0);
    exco_uv_tcp_close(c);
  }
  /* A few more, left queued when the listener closes. */
  for (i = 0; i < 5; i++)
    if (exco_uv_tcp_connect((struct sockaddr *)&addr, &cl[n]) == 0)
      n++;
  for (j = 0; j < 100000 && server->aq_len < 5; j++)
    exco_yield();
  aq.left = server->aq_len;
  exco_uv_tcp_close(server);
  for (i = 0; i < n; i++)
    exco_uv_tcp_close(cl[i]);
  /* The close callbacks run as the loop turns. */
  for (j = 0; j < 100000 && h_uv_handles(exco_uv_loop()) > aq.handles0; j++)
    exco_yield();
  aq.handles = h_uv_handles(exco_uv_loop());
  return NULL;
}

START_TEST(tcp_accept_queue) {
  memset(&aq, 0, sizeof(aq));
  tl_run_one(aq_main, NULL);
  ck_assert_int_eq(aq.setup, 1);
  ck_assert_int_eq(aq.connected, AQ_CLIENTS);
  ck_assert_int_eq(aq.queued, EXCO_UV_TCP_ACCEPT_QUEUE);
  ck_assert_int_eq(aq.held, 1);
  ck_assert_int_eq(aq.queued2, EXCO_UV_TCP_ACCEPT_QUEUE);
  ck_assert_int_eq(aq.accepted, AQ_CLIENTS);
  ck_assert_int_eq(aq.in_order, AQ_CLIENTS);
  /* Only those beyond the bound, still in the kernel, can wait. */
  ck_assert_int_le(aq.suspended, AQ_CLIENTS - EXCO_UV_TCP_ACCEPT_QUEUE);
  ck_assert_int_eq(aq.left, 5);
  ck_assert_int_eq(aq.handles, aq.handles0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A handle used from another loop's coroutine                             */
/* ---------------------------------------------------------------------- */

static exco_uv_tcp *foreign;
static int foreign_err;

static void *make_listener(void *arg) {
  struct sockaddr_in addr;

  (void)arg;
  /* Unreferenced, so that loop can return with it open. */
  if (listen_any(&foreign, &addr) == 0)
    uv_unref((uv_handle_t *)exco_uv_tcp_handle(foreign));
  return NULL;
}

static void *use_foreign(void *arg) {
  exco_uv_tcp *c = NULL;

  (void)arg;
  foreign_err = exco_uv_tcp_accept(foreign, &c);
  return NULL;
}

START_TEST(tcp_foreign_loop) {
  tloop t1, t2;

  tl_init(&t1);
  tl_init(&t2);
  foreign = NULL;
  foreign_err = 1;
  tl_spawn(&t2, make_listener, NULL, NULL);
  tl_run(&t2);
  ck_assert_ptr_nonnull(foreign);
  tl_spawn(&t1, use_foreign, NULL, NULL);
  tl_run(&t1);
  ck_assert_int_eq(foreign_err, EXCO_EINVAL);
  /* Closing works outside coroutines, on the loop's thread. */
  ck_assert_int_eq(exco_uv_tcp_close(foreign), 0);
  tl_fini(&t1);
  tl_fini(&t2);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* UDP                                                                     */
/* ---------------------------------------------------------------------- */

typedef struct udp_result {
  int setup;
  int send1;
  ssize_t recv1;
  int from_ok;
  int reply;
  ssize_t recv2;
  int reply_ok;
  ssize_t timed_out;
  ssize_t truncated;
  int trunc_ok;
  ssize_t after_close;
  ssize_t empty;
} udp_result;

typedef struct udp_reader {
  exco_uv_udp *u;
  ssize_t result;
} udp_reader;

static void *udp_read_one(void *arg) {
  udp_reader *r = arg;
  char buf[8];

  r->result = exco_uv_udp_recv(r->u, buf, sizeof(buf), NULL);
  return NULL;
}

static void *udp_main(void *arg) {
  udp_result *r = arg;
  struct sockaddr_in any, a1, a2;
  struct sockaddr_storage from;
  exco_uv_udp *u1, *u2;
  char buf[256], big[100];
  int len = sizeof(a1);
  udp_reader ur;
  exco_task *rt;

  uv_ip4_addr("127.0.0.1", 0, &any);
  if (exco_uv_udp_open((struct sockaddr *)&any, &u1) != 0)
    return NULL;
  if (exco_uv_udp_open(NULL, &u2) != 0) {
    exco_uv_udp_close(u1);
    return NULL;
  }
  uv_udp_getsockname(exco_uv_udp_handle(u1), (struct sockaddr *)&a1, &len);
  r->setup = 1;

  r->send1 = exco_uv_udp_send(u2, "hello", 5, (struct sockaddr *)&a1);
  r->recv1 = exco_uv_udp_recv(u1, buf, sizeof(buf), &from);
  len = sizeof(a2);
  uv_udp_getsockname(exco_uv_udp_handle(u2), (struct sockaddr *)&a2, &len);
  r->from_ok = r->recv1 == 5 && memcmp(buf, "hello", 5) == 0 &&
               from.ss_family == AF_INET &&
               ((struct sockaddr_in *)&from)->sin_port == a2.sin_port;
  r->reply = exco_uv_udp_send(u1, "world!", 6, (struct sockaddr *)&from);
  r->recv2 = exco_uv_udp_recv(u2, buf, sizeof(buf), NULL);
  r->reply_ok = r->recv2 == 6 && memcmp(buf, "world!", 6) == 0;

  r->timed_out = exco_uv_udp_recv_timeout(u1, buf, sizeof(buf), NULL, 10);

  memset(big, 'z', sizeof(big));
  exco_uv_udp_send(u2, big, sizeof(big), (struct sockaddr *)&a1);
  memset(buf, 0, sizeof(buf));
  r->truncated = exco_uv_udp_recv(u1, buf, 10, NULL);
  r->trunc_ok = memcmp(buf, big, 10) == 0 && buf[10] == 0;

  exco_uv_udp_send(u2, "", 0, (struct sockaddr *)&a1);
  r->empty = exco_uv_udp_recv(u1, buf, sizeof(buf), NULL);

  /* A receive waiting on a socket that is closed meanwhile. */
  ur.u = u1;
  ur.result = 1;
  if (exco_spawn(NULL, udp_read_one, &ur, NULL, &rt) == 0) {
    exco_yield();
    exco_uv_udp_close(u1);
    exco_join(rt, NULL);
    exco_task_release(rt);
    r->after_close = ur.result;
  } else {
    exco_uv_udp_close(u1);
  }
  exco_uv_udp_close(u2);
  return NULL;
}

START_TEST(udp_round_trip) {
  udp_result r;
  tloop t;

  memset(&r, 0, sizeof(r));
  tl_init(&t);
  tl_spawn(&t, udp_main, &r, NULL);
  tl_run(&t);
  ck_assert_int_eq(r.setup, 1);
  ck_assert_int_eq(r.send1, 0);
  ck_assert_int_eq(r.recv1, 5);
  ck_assert_int_eq(r.from_ok, 1);
  ck_assert_int_eq(r.reply, 0);
  ck_assert_int_eq(r.reply_ok, 1);
  ck_assert_int_eq(r.timed_out, UV_ETIMEDOUT);
  ck_assert_int_eq(r.truncated, 10);
  ck_assert_int_eq(r.trunc_ok, 1);
  ck_assert_int_eq(r.empty, 0);
  ck_assert_int_eq(r.after_close, EXCO_ECANCELED);
  tl_fini(&t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-net");
  TCase *tc = h_tcase("net", 120);

  tcase_add_test(tc, echo_many_clients);
  tcase_add_test(tc, tcp_misc);
  tcase_add_test(tc, tcp_big_writes_in_order);
  tcase_add_test(tc, tcp_accept_queue);
  tcase_add_test(tc, tcp_foreign_loop);
  tcase_add_test(tc, udp_round_trip);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
