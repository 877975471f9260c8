/*
 * bench.h -- the harness shared by exco-bench's workloads.
 *
 * Every workload (W1..W9, described in BENCHMARKS.md, "Workloads") measures one
 * or more "peers" doing the same work: exco's uv driver, the seed's driver
 * design (one uv_async_t per task) driving exco's core, exco's built-in
 * local executor, and plain libuv callbacks.  Each measurement is repeated
 * opts.reps times after one discarded warm-up run; the harness keeps the
 * samples and reports median, min and max.
 */
#ifndef EXCO_BENCH_H
#define EXCO_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "exco.h"

#define BENCH_MAX_REPS 64
#define BENCH_MAX_P 8

/* Peers: who does the work.  The first one is the reference of ratios. */
#define BENCH_PEER_EXCO_UV "exco-uv"  /* exco's libuv driver */
#define BENCH_PEER_SEED_UV "seed-uv"  /* uv_async_t per task + exco core */
#define BENCH_PEER_LOCAL "exco-local" /* exco's built-in local executor */
#define BENCH_PEER_RAW_UV "raw-uv"    /* plain libuv callbacks */
/* W2 and W4 only: exco's libev and libevent drivers, and the same work
 * in plain callbacks of those hosts (when exco-bench was built with them). */
#define BENCH_PEER_EXCO_LIBEV "exco-libev"
#define BENCH_PEER_RAW_LIBEV "raw-libev"
#define BENCH_PEER_EXCO_LIBEVENT "exco-libevent"
#define BENCH_PEER_RAW_LIBEVENT "raw-libevent"
/* W2 and W4 only: exco's GLib driver and plain GLib sources (when
 * exco-bench was built with GLib). */
#define BENCH_PEER_EXCO_GLIB "exco-glib"
#define BENCH_PEER_RAW_GLIB "raw-glib"
/* Outside exco, separate programs (ext-peers.c), when they were built or
 * found: Boost.Fiber (W1, W2, W3 channel, W8, W9), Boost.Context (W1, W2,
 * W6) and Go (W3 channel, W8, W9). */
#define BENCH_PEER_BOOST_FIBER "boost-fiber"
#define BENCH_PEER_BOOST_CONTEXT "boost-context"
#define BENCH_PEER_GO "go"

typedef struct bench_opts {
  int reps;         /* recorded repetitions per measurement */
  int quick;        /* --quick: small sizes, few reps */
  int json;         /* --json: machine-readable output on stdout */
  int quiet;        /* --quiet: no progress lines on stderr */
  unsigned timeout; /* --timeout: seconds before giving up (0: never) */
  unsigned only;    /* bit i set: run workload W(i+1) */
  unsigned peers;   /* BENCH_P_* bits: which peers to run */
  long w1_n, w1_batch;
  long w1r_r[BENCH_MAX_P]; /* W1R: live tasks per round, smallest first */
  int w1r_nr;
  long w1r_passes; /* rounds per repetition */
  long w1r_touch;  /* KiB of stack each task touches */
  long w2_n, w2_k;
  long w3_m;
  long w4_k;
  double w4_seconds; /* time cap of one W4 repetition */
  long w4_p[BENCH_MAX_P];
  int w4_np;
  long w5_p;                         /* P for the unguarded RSS measurement */
  long w5_guard_p;                   /* P for the guarded RSS measurement */
  long w5_guard_max, w5_noguard_max; /* caps of the limit searches */
  double w6_seconds;                 /* target duration of one W6 repetition */
  int w7_clients;
  double w7_seconds;
  int w7_size; /* bytes per echo request */
  long w8_t;   /* W8: sending threads */
  long w8_n;   /* W8: items in all */
  long w9_k;   /* W9: tasks */
  long w9_m;   /* W9: critical sections in all */
} bench_opts;

#define BENCH_P_EXCO_UV 0x1u
#define BENCH_P_SEED_UV 0x2u
#define BENCH_P_LOCAL 0x4u
#define BENCH_P_RAW_UV 0x8u
#define BENCH_P_EXCO_LIBEV 0x10u
#define BENCH_P_RAW_LIBEV 0x20u
#define BENCH_P_EXCO_LIBEVENT 0x40u
#define BENCH_P_RAW_LIBEVENT 0x80u
#define BENCH_P_EXCO_GLIB 0x100u
#define BENCH_P_RAW_GLIB 0x200u
#define BENCH_P_BOOST 0x400u      /* Boost.Fiber (W1, W2, W3 ch., W8, W9) */
#define BENCH_P_GO 0x800u         /* Go (W3 channel, W8, W9) */
#define BENCH_P_BOOST_CTX 0x1000u /* Boost.Context (W1, W2, W6) */

extern bench_opts bench_o;

/* ---- time, memory ---------------------------------------------------- */

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/* Resident set size of this process in bytes, from /proc/self/statm. */
long bench_rss_bytes(void);
/* Gives freed heap back to the system so RSS baselines are honest. */
void bench_trim(void);

/* ---- results --------------------------------------------------------- */

typedef struct bench_result {
  const char *workload; /* "W1".."W7", "W1R" */
  const char *title;    /* "spawn", "yield", ... */
  char cse[48];         /* the case within the workload, e.g. "P=1000" */
  const char *peer;     /* BENCH_PEER_* or a backend name for W6 */
  const char *metric;   /* unit, e.g. "ns/yield" */
  int higher_better;    /* 1 for rates (req/s), 0 for costs */
  int ref;              /* 1: this row is exco's (ratios are against it) */
  int n;                /* samples */
  double samples[BENCH_MAX_REPS];
  double median, min, max;
  char params[96]; /* sizes used, e.g. "N=10000 K=100" */
  char note[160];  /* anything the reader must know */
  char target[96]; /* the goal and whether it is met, if any */
  int failed;      /* 1: could not be measured; note says why */
} bench_result;

/* Adds a result row (copied) and computes its statistics. */
bench_result *bench_add(const bench_result *r);

/* One repetition: returns the sample (for example ns per operation), or a
 * negative value on failure after filling *note. */
typedef double (*bench_rep_fn)(void *ctx, char *note, size_t notelen);

/*
 * Runs fn once as a warm-up (discarded) and then bench_o.reps times,
 * recording the samples into a new result row built from @tmpl.  Prints
 * a progress line first.  A failing repetition ends the measurement and
 * marks the row failed with fn's note.
 */
bench_result *bench_measure(const bench_result *tmpl, bench_rep_fn fn,
                            void *ctx);

/* Same without the warm-up run (for workloads whose setup is the point). */
bench_result *bench_measure_nowarm(const bench_result *tmpl, bench_rep_fn fn,
                                   void *ctx);

/* Sets r->target to "<goal text>: met" or ": NOT met" by comparing the
 * median with @limit (costs: median <= limit; rates: median >= limit). */
void bench_target(bench_result *r, double limit, const char *goal);

/* All rows so far, in order. */
size_t bench_nresults(void);
bench_result *bench_results(void);

/* Records a row that could not be measured, with the reason. */
void bench_skip(const bench_result *tmpl, const char *why);

/* Ends the process with status 3 and the current step on stderr if it
 * still runs after @seconds (0: no limit), so that a hung workload can't
 * hang CI. */
void bench_watchdog(unsigned seconds);

/* A progress line on stderr (unless --quiet). */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints every result as a table (stdout) or as JSON. */
void bench_report_table(void);
void bench_report_json(void);

/* Returns 1 if the peer is selected. */
int bench_peer_on(unsigned bit);

/* ---- exco hosts: the same exco tasks under different drivers ---------- */

typedef enum bench_host_kind {
  BENCH_HOST_EXCO_UV,
  BENCH_HOST_SEED_UV,
  BENCH_HOST_LOCAL,
  BENCH_HOST_EXCO_LIBEV,    /* exco_libev_executor_new() on its own loop */
  BENCH_HOST_EXCO_LIBEVENT, /* exco_libevent_executor_new() on a base */
  BENCH_HOST_EXCO_GLIB      /* exco_glib_executor_new() on its own context */
} bench_host_kind;

typedef struct bench_host {
  bench_host_kind kind;
  const char *peer; /* BENCH_PEER_* */
  uv_loop_t *loop;  /* NULL for the local executor and other hosts */
  void *other; /* the struct ev_loop, event_base or GMainContext of others */
  int stopped; /* GLib: bench_host_stop() was called during this run */
  exco_executor *ex;
} bench_host;

/* Sets up a loop (if any) and an executor.  Returns 0 or an EXCO_E*. */
int bench_host_init(bench_host *h, bench_host_kind kind);
/* Runs until every task spawned on the host has finished, or until
 * bench_host_stop(). */
int bench_host_run(bench_host *h);
/* From inside a task: make bench_host_run() return soon even though
 * tasks are still pending (uv_stop(), ev_break(), event_base_loopbreak(),
 * a flag for GLib; nothing for the local executor, whose run returns by
 * itself when no task is ready). */
void bench_host_stop(bench_host *h);
/* Tears down; every task must have been dropped. */
void bench_host_close(bench_host *h);
/* Loops over the selected exco hosts: BENCH_HOST_* values, -1 at end. */
extern const bench_host_kind bench_host_kinds[];
/* The exco drivers of other hosts built in (libev, libevent, GLib), -1 at
 * end:
 * measured in W2 and W4, whose tasks use no libuv awaitables. */
extern const bench_host_kind bench_other_host_kinds[];
unsigned bench_host_bit(bench_host_kind kind);
const char *bench_host_peer(bench_host_kind kind);

/* A uv_close callback for handles that were malloc'd at their start. */
void bench_free_handle(uv_handle_t *h);

/* A future that is never ready (until its task is cancelled). */
int bench_never_poll(void *arg, exco_waker *waker);

/*
 * Parks up to @p tasks on @h: each is spawned with @flags, polled once and
 * left pending on bench_never_poll.  Join handles go to tasks[].  Returns
 * how many were parked; if fewer than @p, *err says why spawn failed.
 */
long bench_park(bench_host *h, long p, unsigned flags, exco_task **tasks,
                int *err);
/* Nonzero: bench_park()'s tasks sleep for an hour (exco_sleep(), a timer
 * each) instead of awaiting a future that is never ready. */
extern int bench_park_sleeping;
/* Cancels and releases @n parked tasks and runs @h until they are gone. */
int bench_unpark(bench_host *h, exco_task **tasks, long n);

/*
 * Measures @fn (called with a bench_host * as ctx) under every selected
 * exco host, one row each; the exco-uv row is the reference.  Returns the
 * exco-uv row, or NULL if it was not run.
 */
bench_result *bench_hosts_measure(bench_result *t, bench_rep_fn fn);
/* The same for the hosts of @kinds (bench_other_host_kinds); returns
 * the exco-uv row if @kinds has it and it was run, else NULL. */
bench_result *bench_hosts_measure_list(bench_result *t, bench_rep_fn fn,
                                       const bench_host_kind *kinds);
/* Measures @fn (ctx: a fresh uv_loop_t *) as the raw-uv row, with @what
 * as its note (how the workload is done in plain libuv). */
void bench_raw_measure(bench_result *t, bench_rep_fn fn, const char *what);

/* ---- peers outside exco (ext-peers.c) -------------------------------- */

/*
 * Measures the outside peer @bit (BENCH_P_BOOST, BENCH_P_BOOST_CTX or
 * BENCH_P_GO), if it is selected, as a row of @t labelled @label (NULL:
 * the peer's name) with the note @what (NULL: none): its program runs
 * with @args once to warm up and once per repetition, and prints its ns
 * per operation.  A peer that was not built (or, for go, can't be) gets a
 * skipped row saying why.  Returns the row, or NULL if none was measured.
 */
bench_result *bench_ext_measure(bench_result *t, unsigned bit,
                                const char *label, const char *args,
                                const char *what);
/* Runs @bit's program once with @args (for calibrating sizes): returns the
 * number it printed, or a negative value and why. */
double bench_ext_once(unsigned bit, const char *args, char *why, size_t len);
/* 1 if the Boost peer @bit was built, 0 if not, -1 for go (found or built
 * at run time). */
int bench_ext_built(unsigned bit);
/* BENCH_PEER_BOOST_FIBER, BENCH_PEER_BOOST_CONTEXT or BENCH_PEER_GO. */
const char *bench_ext_name(unsigned bit);

/* ---- workloads ------------------------------------------------------- */

void bench_w1_spawn(void);
void bench_w1r_rounds(void);
void bench_w2_yield(void);
void bench_w3_pingpong(void);
/* W3's channel case (w8-sync.c), run by bench_w3_pingpong(). */
void bench_w3_channel(void);
void bench_w8_fanin(void);
void bench_w9_mutex(void);
void bench_w4_idle(void);
void bench_w5_memory(void);
void bench_w6_switch(void);
/* The raw backend copies built into this binary, e.g. "asm ucontext". */
const char *bench_w6_copies(void);
void bench_w7_echo(void);

#endif
