/*
 * ext-peers.c -- peers from outside exco, run as separate programs.
 *
 *   boost-fiber    bench/peers/boost_fiber.cc (W1, W2, W3's channel case,
 *                  W8, W9), built by make when configure finds Boost.Fiber
 *   boost-context  bench/peers/boost_context.cc (W1, W2, W6), built by make
 *                  when configure finds Boost.Context
 *   go             bench/peers/chanpeer.go (W3's channel case, W8, W9),
 *                  built by exco-bench at run time when the go tool is on
 *                  PATH
 *
 * Each program does one repetition per run and prints its ns per
 * operation; process start-up is outside its clock.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_PEER_DIR
#define BENCH_PEER_DIR ""
#endif
#ifndef BENCH_SRC_DIR
#define BENCH_SRC_DIR ""
#endif

static char go_dir[128]; /* where the go peer was built, or why not */
static int go_state;     /* 0 not tried, 1 built, -1 not available */

static void go_cleanup(void) {
  char cmd[400];
  char *slash;

  if (go_state != 1)
    return;
  slash = strrchr(go_dir, '/');
  if (slash != NULL)
    *slash = '\0';
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", go_dir);
  if (system(cmd) != 0)
    bench_progress("could not remove %s", go_dir);
  go_state = 0;
}

/* The go peer's path, building it on first use; NULL (and why) if not
 * possible. */
static const char *go_peer(char *why, size_t len) {
  char cmd[2048];

  if (go_state == 0) {
    go_state = -1;
    if (BENCH_SRC_DIR[0] == '\0') {
      snprintf(go_dir, sizeof(go_dir), "source directory unknown");
    } else if (system("command -v go >/dev/null 2>&1") != 0) {
      snprintf(go_dir, sizeof(go_dir), "go not on PATH");
    } else {
      snprintf(go_dir, sizeof(go_dir), "/tmp/exco-bench-go.XXXXXX");
      if (mkdtemp(go_dir) == NULL) {
        snprintf(go_dir, sizeof(go_dir), "mkdtemp failed");
      } else {
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && GOCACHE='%s/cache' GOPATH='%s/gopath' "
                 "GO111MODULE=off go build -o '%s/chanpeer' "
                 "'%s/peers/chanpeer.go' >/dev/null 2>&1",
                 go_dir, go_dir, go_dir, go_dir, BENCH_SRC_DIR);
        bench_progress("building the go peer");
        strncat(go_dir, "/chanpeer", sizeof(go_dir) - strlen(go_dir) - 1);
        go_state = 1;
        atexit(go_cleanup);
        if (system(cmd) != 0) {
          go_cleanup();
          go_state = -1;
          snprintf(go_dir, sizeof(go_dir), "go build failed");
        }
      }
    }
  }
  if (go_state < 0) {
    snprintf(why, len, "%s", go_dir);
    return NULL;
  }
  return go_dir;
}

/* The program of the Boost peer @bit, or NULL (and why) if not built. */
static const char *boost_peer(unsigned bit, char *buf, size_t len, char *why,
                              size_t wlen) {
  const char *prog =
      bit == BENCH_P_BOOST_CTX ? "peer-boost-context" : "peer-boost-fiber";
  const char *lib = bit == BENCH_P_BOOST_CTX ? "Boost.Context" : "Boost.Fiber";

  snprintf(buf, len, "%s/%s", BENCH_PEER_DIR, prog);
  if (BENCH_PEER_DIR[0] == '\0' || access(buf, X_OK) != 0) {
    snprintf(why, wlen, "not built (configure did not find %s)", lib);
    return NULL;
  }
  return buf;
}

static const char *peer_program(unsigned bit, char *buf, size_t len, char *why,
                                size_t wlen) {
  if (bit == BENCH_P_GO)
    return go_peer(why, wlen);
  return boost_peer(bit, buf, len, why, wlen);
}

const char *bench_ext_name(unsigned bit) {
  switch (bit) {
  case BENCH_P_BOOST:
    return BENCH_PEER_BOOST_FIBER;
  case BENCH_P_BOOST_CTX:
    return BENCH_PEER_BOOST_CONTEXT;
  case BENCH_P_GO:
    return BENCH_PEER_GO;
  default:
    return "?";
  }
}

int bench_ext_built(unsigned bit) {
  char buf[600], why[128];

  if (bit == BENCH_P_GO)
    return -1;
  return boost_peer(bit, buf, sizeof(buf), why, sizeof(why)) != NULL;
}

typedef struct ext_run {
  char cmd[700];
} ext_run;

static double run_cmd(const char *cmd, char *note, size_t len) {
  FILE *f = popen(cmd, "r");
  double v = -1;

  if (f == NULL) {
    snprintf(note, len, "popen failed");
    return -1;
  }
  if (fscanf(f, "%lf", &v) != 1)
    v = -1;
  if (pclose(f) != 0 || !(v >= 0)) {
    snprintf(note, len, "peer failed: %s", cmd);
    return -1;
  }
  return v;
}

static double rep_ext(void *ctx, char *note, size_t len) {
  ext_run *x = ctx;

  return run_cmd(x->cmd, note, len);
}

double bench_ext_once(unsigned bit, const char *args, char *why, size_t len) {
  char prog[600], cmd[700];
  const char *p = peer_program(bit, prog, sizeof(prog), why, len);

  if (p == NULL)
    return -1;
  snprintf(cmd, sizeof(cmd), "%s %s", p, args);
  return run_cmd(cmd, why, len);
}

bench_result *bench_ext_measure(bench_result *t, unsigned bit,
                                const char *label, const char *args,
                                const char *what) {
  char prog[600], why[200];
  bench_result *r = NULL;
  ext_run x;
  const char *p;

  if (!bench_peer_on(bit))
    return NULL;
  t->ref = 0;
  t->peer = label != NULL ? label : bench_ext_name(bit);
  p = peer_program(bit, prog, sizeof(prog), why, sizeof(why));
  if (p == NULL) {
    bench_skip(t, why);
  } else {
    snprintf(x.cmd, sizeof(x.cmd), "%s %s", p, args);
    snprintf(t->note, sizeof(t->note), "%s", what != NULL ? what : "");
    r = bench_measure(t, rep_ext, &x);
    t->note[0] = '\0';
  }
  return r;
}
