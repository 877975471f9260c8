/*
 * report.c -- exco-bench's output: a table for people, JSON for machines.
 *
 * Rows are grouped by workload and case.  In each group the exco row (the
 * one with ref set: exco's uv driver, or the library's own backend in W6)
 * is the reference, and every other row gets the ratio of medians
 * exco / peer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "bench.h"

static void cpu_model(char *buf, size_t len) {
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");

  snprintf(buf, len, "unknown");
  if (f == NULL)
    return;
  while (fgets(line, sizeof(line), f) != NULL) {
    char *colon = strchr(line, ':');

    if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
      colon++;
      while (*colon == ' ' || *colon == '\t')
        colon++;
      colon[strcspn(colon, "\n")] = '\0';
      snprintf(buf, len, "%s", colon);
      break;
    }
  }
  fclose(f);
}

static const char *libc_version(void) {
#ifdef __GLIBC__
  return gnu_get_libc_version();
#else
  return "unknown";
#endif
}

static const char *compiler(void) {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

/* The reference (exco) row of the group that @i belongs to, or NULL. */
static const bench_result *group_ref(const bench_result *rs, size_t n,
                                     size_t i) {
  size_t j;

  for (j = 0; j < n; j++)
    if (rs[j].ref && strcmp(rs[j].workload, rs[i].workload) == 0 &&
        strcmp(rs[j].cse, rs[i].cse) == 0 &&
        strcmp(rs[j].metric, rs[i].metric) == 0)
      return &rs[j];
  return NULL;
}

/* exco / peer for row @i; 0 when there is nothing to compare. */
static double ratio(const bench_result *rs, size_t n, size_t i) {
  const bench_result *ref = group_ref(rs, n, i);

  if (ref == NULL || ref == &rs[i] || ref->failed || rs[i].failed ||
      ref->n == 0 || rs[i].n == 0 || rs[i].median == 0)
    return 0;
  return ref->median / rs[i].median;
}

static void fmt_value(char *buf, size_t len, double v) {
  if (v >= 1e7)
    snprintf(buf, len, "%.3g", v);
  else if (v >= 100)
    snprintf(buf, len, "%.0f", v);
  else if (v >= 10)
    snprintf(buf, len, "%.1f", v);
  else
    snprintf(buf, len, "%.2f", v);
}

static void header(FILE *out) {
  char model[128];
  struct utsname u;

  cpu_model(model, sizeof(model));
  if (uname(&u) != 0)
    snprintf(u.release, sizeof(u.release), "unknown");
  fprintf(out, "exco-bench: %s, %ld CPUs, Linux %s, glibc %s, libuv %s\n",
          model, sysconf(_SC_NPROCESSORS_ONLN), u.release, libc_version(),
          uv_version_string());
  fprintf(out,
          "compiler: %s; libexco context backend: %s; raw copies for W6: "
          "%s\n",
          compiler(), exco_context_backend(), bench_w6_copies());
  fprintf(out,
          "outside peers: boost-fiber %s, boost-context %s, go when on "
          "PATH\n",
          bench_ext_built(BENCH_P_BOOST) ? "built" : "not built",
          bench_ext_built(BENCH_P_BOOST_CTX) ? "built" : "not built");
  fprintf(out,
          "%d recorded repetitions per row%s; median, min and max of them\n",
          bench_o.reps, bench_o.quick ? " (--quick sizes)" : "");
  fprintf(out, "exco/peer = exco's median / the peer's median.  For costs (ns, "
               "B) below 1\nmeans exco is cheaper; for rates (req/s) above 1 "
               "means exco is faster.\n");
}

void bench_report_table(void) {
  const bench_result *rs = bench_results();
  size_t n = bench_nresults(), i;
  const char *lastw = "", *lastc = NULL;

  header(stdout);
  for (i = 0; i < n; i++) {
    const bench_result *r = &rs[i];
    char med[32], mn[32], mx[32], rat[32];
    double q;

    if (strcmp(r->workload, lastw) != 0 || lastc == NULL ||
        strcmp(r->cse, lastc) != 0) {
      printf("\n%s %s%s%s  (%s)\n", r->workload, r->title, r->cse[0] ? " " : "",
             r->cse, r->params);
      printf("  %-31s %-9s %10s %10s %10s %9s\n", "peer", "metric", "median",
             "min", "max", "exco/peer");
      lastw = r->workload;
      lastc = r->cse;
    }
    if (r->failed || r->n == 0) {
      printf("  %-31s %-9s %10s  %s\n", r->peer, r->metric, "-",
             r->note[0] ? r->note : "not measured");
      continue;
    }
    fmt_value(med, sizeof(med), r->median);
    fmt_value(mn, sizeof(mn), r->min);
    fmt_value(mx, sizeof(mx), r->max);
    q = ratio(rs, n, i);
    if (q > 0)
      snprintf(rat, sizeof(rat), "%.2f", q);
    else
      snprintf(rat, sizeof(rat), "%s", r->ref ? "(exco)" : "");
    printf("  %-31s %-9s %10s %10s %10s %9s\n", r->peer, r->metric, med, mn, mx,
           rat);
    if (r->target[0])
      printf("  %-31s target %s\n", "", r->target);
    if (r->note[0])
      printf("  %-31s note: %s\n", "", r->note);
  }
  fflush(stdout);
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;

    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void json_num(double v) {
  /* JSON has no inf or nan. */
  if (v != v || v > 1e300 || v < -1e300)
    printf("null");
  else
    printf("%.6g", v);
}

void bench_report_json(void) {
  const bench_result *rs = bench_results();
  size_t n = bench_nresults(), i;
  char model[128];
  struct utsname u;
  int k;

  cpu_model(model, sizeof(model));
  if (uname(&u) != 0)
    snprintf(u.release, sizeof(u.release), "unknown");
  printf("{\n  \"machine\": {\"cpu\": ");
  json_str(model);
  printf(", \"cpus\": %ld, \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
  json_str(u.release);
  printf(", \"glibc\": ");
  json_str(libc_version());
  printf(", \"compiler\": ");
  json_str(compiler());
  printf(", \"libuv\": ");
  json_str(uv_version_string());
  printf(", \"context_backend\": ");
  json_str(exco_context_backend());
  printf(", \"w6_raw_copies\": ");
  json_str(bench_w6_copies());
  printf(", \"boost_fiber_built\": %s, \"boost_context_built\": %s",
         bench_ext_built(BENCH_P_BOOST) ? "true" : "false",
         bench_ext_built(BENCH_P_BOOST_CTX) ? "true" : "false");
  printf("},\n  \"reps\": %d, \"quick\": %s,\n  \"results\": [", bench_o.reps,
         bench_o.quick ? "true" : "false");
  for (i = 0; i < n; i++) {
    const bench_result *r = &rs[i];
    double q = ratio(rs, n, i);

    printf("%s\n    {\"workload\": ", i ? "," : "");
    json_str(r->workload);
    printf(", \"title\": ");
    json_str(r->title);
    printf(", \"case\": ");
    json_str(r->cse);
    printf(", \"peer\": ");
    json_str(r->peer);
    printf(", \"metric\": ");
    json_str(r->metric);
    printf(", \"higher_is_better\": %s, \"exco\": %s,\n     \"params\": ",
           r->higher_better ? "true" : "false", r->ref ? "true" : "false");
    json_str(r->params);
    if (r->failed || r->n == 0) {
      printf(", \"failed\": true");
    } else {
      printf(", \"median\": ");
      json_num(r->median);
      printf(", \"min\": ");
      json_num(r->min);
      printf(", \"max\": ");
      json_num(r->max);
      printf(", \"samples\": [");
      for (k = 0; k < r->n; k++) {
        printf("%s", k ? ", " : "");
        json_num(r->samples[k]);
      }
      printf("]");
      if (q > 0) {
        printf(", \"exco_over_peer\": ");
        json_num(q);
      }
    }
    if (r->target[0]) {
      printf(", \"target\": ");
      json_str(r->target);
    }
    if (r->note[0]) {
      printf(", \"note\": ");
      json_str(r->note);
    }
    printf("}");
  }
  printf("\n  ]\n}\n");
  fflush(stdout);
}
