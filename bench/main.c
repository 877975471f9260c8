/*
 * main.c -- exco-bench: options, workload selection, output.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

typedef struct workload {
  const char *id;
  const char *name;
  void (*run)(void);
  const char *what;
} workload;

static const workload workloads[] = {
    {"W1", "spawn", bench_w1_spawn, "N tasks that finish at once; ns/task"},
    {"W1R", "rounds", bench_w1r_rounds,
     "rounds of R live tasks that then finish; ns/task, RSS after"},
    {"W2", "yield", bench_w2_yield, "N tasks x K yields; ns/yield"},
    {"W3", "ping-pong", bench_w3_pingpong,
     "two tasks pass a token M times; ns/hop"},
    {"W4", "idle", bench_w4_idle,
     "one task yields while P tasks stay pending; ns/yield"},
    {"W5", "memory", bench_w5_memory,
     "RSS per pending task; largest P with/without guard pages"},
    {"W6", "switch", bench_w6_switch,
     "context switch round trip and create+destroy, per backend"},
    {"W7", "echo", bench_w7_echo, "TCP echo over loopback; requests/s"},
    {"W8", "fan-in", bench_w8_fanin,
     "T threads send into one channel drained by one task; ns/item"},
    {"W9", "mutex", bench_w9_mutex,
     "K tasks take turns on a mutex, yielding inside; ns/section"},
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static const struct {
  const char *name;
  unsigned bit;
} peers[] = {
    {BENCH_PEER_EXCO_UV, BENCH_P_EXCO_UV},
    {BENCH_PEER_SEED_UV, BENCH_P_SEED_UV},
    {BENCH_PEER_LOCAL, BENCH_P_LOCAL},
    {BENCH_PEER_RAW_UV, BENCH_P_RAW_UV},
#ifdef BENCH_LIBEV
    {BENCH_PEER_EXCO_LIBEV, BENCH_P_EXCO_LIBEV},
    {BENCH_PEER_RAW_LIBEV, BENCH_P_RAW_LIBEV},
#endif
#ifdef BENCH_LIBEVENT
    {BENCH_PEER_EXCO_LIBEVENT, BENCH_P_EXCO_LIBEVENT},
    {BENCH_PEER_RAW_LIBEVENT, BENCH_P_RAW_LIBEVENT},
#endif
#ifdef BENCH_GLIB
    {BENCH_PEER_EXCO_GLIB, BENCH_P_EXCO_GLIB},
    {BENCH_PEER_RAW_GLIB, BENCH_P_RAW_GLIB},
#endif
    {BENCH_PEER_BOOST_FIBER, BENCH_P_BOOST},
    {BENCH_PEER_BOOST_CONTEXT, BENCH_P_BOOST_CTX},
    {BENCH_PEER_GO, BENCH_P_GO},
};
#define NPEERS (sizeof(peers) / sizeof(peers[0]))

static void defaults(int quick) {
  bench_opts *o = &bench_o;

  memset(o, 0, sizeof(*o));
  o->quick = quick;
  o->peers = ~0u;
  o->reps = quick ? 3 : 5;
  o->timeout = quick ? 300 : 1800;
  o->w1_n = quick ? 20000 : 200000;
  o->w1_batch = 100;
  o->w1r_r[0] = quick ? 1000 : 4000;
  o->w1r_r[1] = quick ? 4000 : 16000;
  o->w1r_r[2] = quick ? 8000 : 30000;
  o->w1r_nr = 3;
  o->w1r_passes = quick ? 2 : 4;
  o->w1r_touch = 4;
  o->w2_n = quick ? 1000 : 10000;
  o->w2_k = quick ? 20 : 100;
  o->w3_m = quick ? 5000 : 100000;
  o->w4_k = 1000000;
  o->w4_seconds = quick ? 0.01 : 0.1;
  o->w4_p[0] = 0;
  o->w4_p[1] = 1000;
  o->w4_p[2] = 10000;
  o->w4_p[3] = 100000;
  o->w4_np = quick ? 3 : 4;
  o->w5_p = quick ? 10000 : 100000;
  o->w5_guard_p = quick ? 2000 : 30000;
  o->w5_guard_max = quick ? 4000 : 100000;
  o->w5_noguard_max = quick ? 20000 : 1000000;
  o->w6_seconds = quick ? 0.005 : 0.05;
  o->w7_clients = quick ? 8 : 50;
  o->w7_seconds = quick ? 0.05 : 0.5;
  o->w7_size = 64;
  o->w8_t = 4;
  o->w8_n = quick ? 20000 : 1000000;
  o->w9_k = 8;
  o->w9_m = quick ? 20000 : 400000;
}

static void usage(FILE *f) {
  size_t i;

  fprintf(f,
          "usage: exco-bench [options] [WORKLOAD...]\n"
          "\n"
          "Runs exco's benchmark workloads, each against its peers in the "
          "same run:\n"
          "  %-13s exco's libuv driver (the reference of the ratios)\n"
          "  %-13s the seed's driver design (one uv_async_t per task) "
          "driving exco's core\n"
          "  %-13s exco's built-in local executor (no event loop)\n"
          "  %-13s plain libuv callbacks doing the same work\n",
          BENCH_PEER_EXCO_UV, BENCH_PEER_SEED_UV, BENCH_PEER_LOCAL,
          BENCH_PEER_RAW_UV);
#ifdef BENCH_LIBEV
  fprintf(f,
          "  %-13s exco's libev driver (W2, W4)\n"
          "  %-13s plain libev callbacks doing the same work (W2, W4)\n",
          BENCH_PEER_EXCO_LIBEV, BENCH_PEER_RAW_LIBEV);
#endif
#ifdef BENCH_LIBEVENT
  fprintf(f,
          "  %-13s exco's libevent driver (W2, W4)\n"
          "  %-13s plain libevent callbacks doing the same work (W2, W4)\n",
          BENCH_PEER_EXCO_LIBEVENT, BENCH_PEER_RAW_LIBEVENT);
#endif
#ifdef BENCH_GLIB
  fprintf(f,
          "  %-13s exco's GLib driver (W2, W4)\n"
          "  %-13s plain GLib sources doing the same work (W2, W4)\n",
          BENCH_PEER_EXCO_GLIB, BENCH_PEER_RAW_GLIB);
#endif
  fprintf(f,
          "Peers outside exco, separate programs (not built: configure did "
          "not\nfind the library):\n"
          "  %-13s Boost.Fiber (W1, W2, W3's channel case, W8, W9): %s\n"
          "  %-13s Boost.Context's fiber, no scheduler (W1, W2, W6): %s\n"
          "  %-13s Go (W3's channel case, W8, W9): built at run time when "
          "go is on PATH\n",
          BENCH_PEER_BOOST_FIBER,
          bench_ext_built(BENCH_P_BOOST) ? "built" : "not built",
          BENCH_PEER_BOOST_CONTEXT,
          bench_ext_built(BENCH_P_BOOST_CTX) ? "built" : "not built",
          BENCH_PEER_GO);
  fprintf(f, "\nWorkloads (by id or name; default: all):\n");
  for (i = 0; i < NWORKLOADS; i++)
    fprintf(f, "  %s %-10s %s\n", workloads[i].id, workloads[i].name,
            workloads[i].what);
  fprintf(f, "\nOptions:\n"
             "  --only=W1,W3     same as naming workloads as arguments\n"
             "  --peers=LIST     comma-separated peers to run (default all;\n"
             "                   exco's may be named without \"exco-\")\n"
             "  --reps=R         recorded repetitions (default 5, quick 3)\n"
             "  --quick          small sizes for CI smoke runs (seconds)\n"
             "  --json           JSON on stdout instead of the table\n"
             "  --quiet          no progress lines on stderr\n"
             "  --timeout=S      give up (exit 3) after S seconds; 0: never\n"
             "                   (default 1800, quick 300)\n"
             "  --w1-n=N --w1-batch=B        W1: tasks, spawned B at a time\n"
             "  --w1r-r=R1,R2,.. --w1r-passes=P --w1r-touch=KIB\n"
             "                               W1R: live tasks per round (the "
             "first is\n"
             "                               the reference), rounds per rep, "
             "KiB of\n"
             "                               stack each task touches\n"
             "  --w2-n=N --w2-k=K            W2: tasks and yields per task\n"
             "  --w3-m=M                     W3: hops\n"
             "  --w4-p=P1,P2,.. --w4-k=K --w4-seconds=S\n"
             "                               W4: pending counts, yield cap, "
             "time cap per rep\n"
             "  --w5-p=P --w5-guard-p=P      W5: tasks for RSS, unguarded and "
             "guarded\n"
             "  --w5-guard-max=P --w5-noguard-max=P\n"
             "                               W5: caps of the limit searches\n"
             "  --w6-seconds=S               W6: target time per rep\n"
             "  --w7-clients=C --w7-seconds=S --w7-size=BYTES\n"
             "                               W7: clients, duration per rep, "
             "request size\n"
             "  --w8-t=T --w8-n=N            W8: sending threads (at most 8), "
             "items\n"
             "  --w9-k=K --w9-m=M            W9: tasks, critical sections\n"
             "  --help\n");
}

static int select_workload(const char *s) {
  size_t i;

  for (i = 0; i < NWORKLOADS; i++)
    if (strcasecmp(s, workloads[i].id) == 0 ||
        strcasecmp(s, workloads[i].name) == 0) {
      bench_o.only |= 1u << i;
      return 0;
    }
  return -1;
}

/* Calls fn on each comma-separated item of a copy of @list. */
static int each_item(const char *list, int (*fn)(const char *)) {
  char buf[256], *save = NULL, *tok;

  snprintf(buf, sizeof(buf), "%s", list);
  for (tok = strtok_r(buf, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save))
    if (fn(tok) != 0) {
      fprintf(stderr, "exco-bench: unknown item '%s'\n", tok);
      return -1;
    }
  return 0;
}

static int select_peer(const char *s) {
  size_t i;

  for (i = 0; i < NPEERS; i++)
    if (strcasecmp(s, peers[i].name) == 0 ||
        (strncmp(peers[i].name, "exco-", 5) == 0 &&
         strcasecmp(s, peers[i].name + 5) == 0)) {
      bench_o.peers |= peers[i].bit;
      return 0;
    }
  return -1;
}

static int add_p(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);

  if (*end != '\0' || v < 0 || bench_o.w4_np == BENCH_MAX_P)
    return -1;
  bench_o.w4_p[bench_o.w4_np++] = v;
  return 0;
}

static int add_r(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);

  if (*end == 'k' || *end == 'K')
    v *= 1000, end++;
  if (*end != '\0' || v < 1 || bench_o.w1r_nr == BENCH_MAX_P)
    return -1;
  bench_o.w1r_r[bench_o.w1r_nr++] = v;
  return 0;
}

static long num(const char *opt, const char *s, long lo) {
  char *end;
  long v = strtol(s, &end, 10);

  if (*end == 'k' || *end == 'K')
    v *= 1000, end++;
  else if (*end == 'm' || *end == 'M')
    v *= 1000000, end++;
  if (*end != '\0' || v < lo) {
    fprintf(stderr, "exco-bench: bad value for --%s: %s\n", opt, s);
    exit(2);
  }
  return v;
}

static double fnum(const char *opt, const char *s) {
  char *end;
  double v = strtod(s, &end);

  if (*end != '\0' || !(v > 0)) {
    fprintf(stderr, "exco-bench: bad value for --%s: %s\n", opt, s);
    exit(2);
  }
  return v;
}

enum {
  O_ONLY = 256,
  O_PEERS,
  O_REPS,
  O_QUICK,
  O_JSON,
  O_QUIET,
  O_TIMEOUT,
  O_HELP,
  O_W1N,
  O_W1B,
  O_W1RR,
  O_W1RP,
  O_W1RT,
  O_W2N,
  O_W2K,
  O_W3M,
  O_W4P,
  O_W4K,
  O_W4S,
  O_W5P,
  O_W5GP,
  O_W5GM,
  O_W5NM,
  O_W6S,
  O_W7C,
  O_W7S,
  O_W7Z,
  O_W8T,
  O_W8N,
  O_W9K,
  O_W9M
};

static const struct option longopts[] = {
    {"only", required_argument, NULL, O_ONLY},
    {"peers", required_argument, NULL, O_PEERS},
    {"reps", required_argument, NULL, O_REPS},
    {"quick", no_argument, NULL, O_QUICK},
    {"json", no_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, O_QUIET},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"help", no_argument, NULL, O_HELP},
    {"w1-n", required_argument, NULL, O_W1N},
    {"w1-batch", required_argument, NULL, O_W1B},
    {"w1r-r", required_argument, NULL, O_W1RR},
    {"w1r-passes", required_argument, NULL, O_W1RP},
    {"w1r-touch", required_argument, NULL, O_W1RT},
    {"w2-n", required_argument, NULL, O_W2N},
    {"w2-k", required_argument, NULL, O_W2K},
    {"w3-m", required_argument, NULL, O_W3M},
    {"w4-p", required_argument, NULL, O_W4P},
    {"w4-k", required_argument, NULL, O_W4K},
    {"w4-seconds", required_argument, NULL, O_W4S},
    {"w5-p", required_argument, NULL, O_W5P},
    {"w5-guard-p", required_argument, NULL, O_W5GP},
    {"w5-guard-max", required_argument, NULL, O_W5GM},
    {"w5-noguard-max", required_argument, NULL, O_W5NM},
    {"w6-seconds", required_argument, NULL, O_W6S},
    {"w7-clients", required_argument, NULL, O_W7C},
    {"w7-seconds", required_argument, NULL, O_W7S},
    {"w7-size", required_argument, NULL, O_W7Z},
    {"w8-t", required_argument, NULL, O_W8T},
    {"w8-n", required_argument, NULL, O_W8N},
    {"w9-k", required_argument, NULL, O_W9K},
    {"w9-m", required_argument, NULL, O_W9M},
    {NULL, 0, NULL, 0},
};

static void parse(int argc, char **argv) {
  int i, c, quick = 0, peers_set = 0;

  /* --quick changes the defaults, which other flags then override, so it
   * is looked for first. */
  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
  defaults(quick);
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_ONLY:
      if (each_item(optarg, select_workload) != 0)
        exit(2);
      break;
    case O_PEERS:
      if (!peers_set)
        bench_o.peers = 0;
      peers_set = 1;
      if (each_item(optarg, select_peer) != 0)
        exit(2);
      break;
    case O_REPS:
      bench_o.reps = (int)num("reps", optarg, 1);
      if (bench_o.reps > BENCH_MAX_REPS)
        bench_o.reps = BENCH_MAX_REPS;
      break;
    case O_QUICK:
      break;
    case O_JSON:
      bench_o.json = 1;
      break;
    case O_QUIET:
      bench_o.quiet = 1;
      break;
    case O_TIMEOUT:
      bench_o.timeout = (unsigned)num("timeout", optarg, 0);
      break;
    case O_W1N:
      bench_o.w1_n = num("w1-n", optarg, 1);
      break;
    case O_W1B:
      bench_o.w1_batch = num("w1-batch", optarg, 1);
      break;
    case O_W1RR:
      bench_o.w1r_nr = 0;
      if (each_item(optarg, add_r) != 0)
        exit(2);
      break;
    case O_W1RP:
      bench_o.w1r_passes = num("w1r-passes", optarg, 1);
      break;
    case O_W1RT:
      bench_o.w1r_touch = num("w1r-touch", optarg, 0);
      break;
    case O_W2N:
      bench_o.w2_n = num("w2-n", optarg, 1);
      break;
    case O_W2K:
      bench_o.w2_k = num("w2-k", optarg, 1);
      break;
    case O_W3M:
      bench_o.w3_m = num("w3-m", optarg, 2);
      break;
    case O_W4P:
      bench_o.w4_np = 0;
      if (each_item(optarg, add_p) != 0)
        exit(2);
      break;
    case O_W4K:
      bench_o.w4_k = num("w4-k", optarg, 1);
      break;
    case O_W4S:
      bench_o.w4_seconds = fnum("w4-seconds", optarg);
      break;
    case O_W5P:
      bench_o.w5_p = num("w5-p", optarg, 1);
      break;
    case O_W5GP:
      bench_o.w5_guard_p = num("w5-guard-p", optarg, 1);
      break;
    case O_W5GM:
      bench_o.w5_guard_max = num("w5-guard-max", optarg, 0);
      break;
    case O_W5NM:
      bench_o.w5_noguard_max = num("w5-noguard-max", optarg, 0);
      break;
    case O_W6S:
      bench_o.w6_seconds = fnum("w6-seconds", optarg);
      break;
    case O_W7C:
      bench_o.w7_clients = (int)num("w7-clients", optarg, 1);
      break;
    case O_W7S:
      bench_o.w7_seconds = fnum("w7-seconds", optarg);
      break;
    case O_W7Z:
      bench_o.w7_size = (int)num("w7-size", optarg, 1);
      break;
    case O_W8T:
      bench_o.w8_t = num("w8-t", optarg, 1);
      if (bench_o.w8_t > BENCH_MAX_P)
        bench_o.w8_t = BENCH_MAX_P;
      break;
    case O_W8N:
      bench_o.w8_n = num("w8-n", optarg, 1);
      break;
    case O_W9K:
      bench_o.w9_k = num("w9-k", optarg, 1);
      break;
    case O_W9M:
      bench_o.w9_m = num("w9-m", optarg, 1);
      break;
    case 'h':
    case O_HELP:
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      exit(2);
    }
  }
  for (i = optind; i < argc; i++)
    if (select_workload(argv[i]) != 0) {
      fprintf(stderr, "exco-bench: unknown workload '%s'\n", argv[i]);
      usage(stderr);
      exit(2);
    }
  if (bench_o.only == 0)
    bench_o.only = (1u << NWORKLOADS) - 1;
}

int main(int argc, char **argv) {
  uint64_t t0;
  size_t i;

  parse(argc, argv);
  bench_watchdog(bench_o.timeout);
  /* Progress lines go to stderr; keep them apart from a piped table. */
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  t0 = bench_now_ns();
  for (i = 0; i < NWORKLOADS; i++)
    if (bench_o.only & (1u << i))
      workloads[i].run();
  bench_progress("done in %.1f s", (double)(bench_now_ns() - t0) / 1e9);
  if (bench_o.json)
    bench_report_json();
  else
    bench_report_table();
  return 0;
}
