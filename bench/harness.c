/*
 * harness.c -- clocks, RSS, repetition and statistics for exco-bench.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "bench.h"

bench_opts bench_o;

/* A fixed array, so that row pointers handed out stay valid. */
#define MAX_RESULTS 512
static bench_result results[MAX_RESULTS];
static size_t nresults;
static uint64_t progress_t0;
/* The last progress message, for the watchdog (see bench_watchdog). */
static char progress_last[160];

static void on_alarm(int sig) {
  static const char msg[] = "\nexco-bench: timed out (--timeout) in: ";
  ssize_t r;

  (void)sig;
  /* Only async-signal-safe calls here. */
  r = write(2, msg, sizeof(msg) - 1);
  r = write(2, progress_last, strlen(progress_last));
  r = write(2, "\n", 1);
  (void)r;
  _exit(3);
}

void bench_watchdog(unsigned seconds) {
  if (seconds == 0)
    return;
  signal(SIGALRM, on_alarm);
  alarm(seconds);
}

uint64_t bench_now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_rss_bytes(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");

  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

void bench_trim(void) {
#ifdef __GLIBC__
  /* Freed chunks that glibc keeps would otherwise be reused by the next
   * measurement and hide its allocations from the RSS difference. */
  malloc_trim(0);
#endif
}

int bench_peer_on(unsigned bit) {
  return (bench_o.peers & bit) != 0;
}

void bench_progress(const char *fmt, ...) {
  va_list ap;
  double t;

  va_start(ap, fmt);
  vsnprintf(progress_last, sizeof(progress_last), fmt, ap);
  va_end(ap);
  if (bench_o.quiet)
    return;
  if (progress_t0 == 0)
    progress_t0 = bench_now_ns();
  t = (double)(bench_now_ns() - progress_t0) / 1e9;
  fprintf(stderr, "[%6.1fs] %s\n", t, progress_last);
  fflush(stderr);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static void stats(bench_result *r) {
  double s[BENCH_MAX_REPS];
  int n = r->n;

  if (n == 0)
    return;
  memcpy(s, r->samples, sizeof(double) * (size_t)n);
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  r->min = s[0];
  r->max = s[n - 1];
  r->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

bench_result *bench_add(const bench_result *r) {
  if (nresults == MAX_RESULTS) {
    fprintf(stderr, "exco-bench: more than %d result rows\n", MAX_RESULTS);
    exit(1);
  }
  results[nresults] = *r;
  stats(&results[nresults]);
  return &results[nresults++];
}

void bench_skip(const bench_result *tmpl, const char *why) {
  bench_result r = *tmpl;

  r.n = 0;
  r.failed = 1;
  snprintf(r.note, sizeof(r.note), "%s", why);
  bench_add(&r);
}

static bench_result *measure(const bench_result *tmpl, bench_rep_fn fn,
                             void *ctx, int warm) {
  bench_result r = *tmpl;
  char note[sizeof(r.note)];
  int i;

  bench_progress("%s %s %s%s%s: %d rep%s%s", r.workload, r.title, r.peer,
                 r.cse[0] ? " " : "", r.cse, bench_o.reps,
                 bench_o.reps == 1 ? "" : "s", warm ? " + warm-up" : "");
  r.n = 0;
  note[0] = '\0';
  for (i = warm ? -1 : 0; i < bench_o.reps; i++) {
    double v = fn(ctx, note, sizeof(note));

    if (v < 0) {
      r.failed = 1;
      snprintf(r.note, sizeof(r.note), "%s", note[0] ? note : "failed");
      bench_progress("  failed: %s", r.note);
      break;
    }
    if (i >= 0)
      r.samples[r.n++] = v;
  }
  if (!r.failed && note[0] && !r.note[0])
    snprintf(r.note, sizeof(r.note), "%s", note);
  return bench_add(&r);
}

bench_result *bench_measure(const bench_result *tmpl, bench_rep_fn fn,
                            void *ctx) {
  return measure(tmpl, fn, ctx, 1);
}

bench_result *bench_measure_nowarm(const bench_result *tmpl, bench_rep_fn fn,
                                   void *ctx) {
  return measure(tmpl, fn, ctx, 0);
}

void bench_target(bench_result *r, double limit, const char *goal) {
  int met;

  if (r == NULL)
    return;
  if (r->failed || r->n == 0) {
    snprintf(r->target, sizeof(r->target), "%s: not measured", goal);
    return;
  }
  met = r->higher_better ? r->median >= limit : r->median <= limit;
  snprintf(r->target, sizeof(r->target), "%s: %s", goal,
           met ? "met" : "NOT met");
}

size_t bench_nresults(void) {
  return nresults;
}

bench_result *bench_results(void) {
  return results;
}
