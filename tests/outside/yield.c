/*
 * An outside program that leans on the context switch: tasks keep live
 * integer and floating-point values in many locals across thousands of
 * yields, with calls in between so the compiler puts them in callee-saved
 * registers, and each checks them after every resume.  Each task runs in
 * a rounding mode of its own, which must survive its switches and never
 * reach main (include/exco.h, THREADS).  Exits 0 when every value and
 * mode survived.  Used to check a backend on another architecture under
 * emulation (tests/cross-aarch64.sh), where the rest of the suite's
 * dependencies are not available.
 */
#include <exco.h>
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>

#define TASKS 8
#define ROUNDS 2000

static int bad;

static __attribute__((noinline)) long mix(long a, long b) {
  return a * 31 + b;
}

/* The value a double reaches after ROUNDS steps of @step from @start. */
static __attribute__((noinline)) double expect(double start, double step) {
  volatile double r = start;
  long i;

  for (i = 0; i < ROUNDS; i++)
    r += step;
  return r;
}

static const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD,
                             FE_TOWARDZERO};

static void *worker(void *arg) {
  long id = (long)(intptr_t)arg;
  int mode = modes[id % 4];
  long a = id, b = id * 3, c = id * 5, d = id * 7, e = id * 11, f = id * 13;
  double x = id / 3.0, y = id * 1.5, z = id + 0.25;
  double w = id * 0.75, v = id - 0.5;
  long i;

  if (fegetround() != FE_TONEAREST || fesetround(mode) != 0)
    bad++;
  for (i = 0; i < ROUNDS; i++) {
    /* Snapshots in memory, taken before the switch and compared with
     * values recomputed after it from the (register-held) variables:
     * volatile keeps the compiler from recomputing them after the call. */
    volatile long sum = mix(a, b) + mix(c, d) + mix(e, f);
    volatile double fx = x * 2.0 + y, fz = z * w - v;

    if (exco_yield() != 0 || fegetround() != mode)
      bad++;
    if (sum != mix(a, b) + mix(c, d) + mix(e, f) || fx != x * 2.0 + y ||
        fz != z * w - v)
      bad++;
    a++, b++, c++, d++, e++, f++;
    x += 1.0, y -= 0.5, z += 0.125, w -= 0.25, v += 2.0;
  }
  /* A register that a switch failed to restore changes a variable for
   * good, even where no check right after the switch looked at it: the
   * end values must be the ones the same arithmetic gives without any
   * switch. */
  if (a != id + ROUNDS || b != id * 3 + ROUNDS || c != id * 5 + ROUNDS ||
      d != id * 7 + ROUNDS || e != id * 11 + ROUNDS || f != id * 13 + ROUNDS)
    bad++;
  if (x != expect(id / 3.0, 1.0) || y != expect(id * 1.5, -0.5) ||
      z != expect(id + 0.25, 0.125) || w != expect(id * 0.75, -0.25) ||
      v != expect(id - 0.5, 2.0))
    bad++;
  return NULL;
}

int main(void) {
  long i;

  for (i = 0; i < TASKS; i++)
    if (exco_spawn(NULL, worker, (void *)(intptr_t)i, NULL, NULL) != 0)
      return 1;
  if (exco_run(NULL) != 0)
    return 1;
  if (fegetround() != FE_TONEAREST)
    bad++;
  printf("outside/yield: %s (backend %s, %d tasks x %d yields)\n",
         bad == 0 ? "ok" : "FAILED", exco_context_backend(), TASKS, ROUNDS);
  return bad == 0 ? 0 : 1;
}
