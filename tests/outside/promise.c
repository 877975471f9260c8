/*
 * An outside program, built against an installed exco with
 * `pkg-config --cflags --libs exco`: coroutines await promises that other
 * threads resolve.  Exits 0 when every coroutine got its value.
 */
#include <exco.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define N 8

static exco_promise *promises[N];
static int got[N];

static void *waiter(void *arg) {
  intptr_t i = (intptr_t)arg;
  void *value = NULL;

  if (exco_promise_await(promises[i], &value) == 0 && (intptr_t)value == i * 10)
    got[i] = 1;
  return NULL;
}

static void *resolver(void *arg) {
  intptr_t i = (intptr_t)arg;

  exco_promise_resolve(promises[i], (void *)(i * 10));
  return NULL;
}

int main(void) {
  pthread_t threads[N];
  int i, err, ok = 1;

  for (i = 0; i < N; i++) {
    err = exco_promise_new(&promises[i]);
    if (err == 0)
      err = exco_spawn(NULL, waiter, (void *)(intptr_t)i, NULL, NULL);
    if (err != 0) {
      fprintf(stderr, "setup: %s\n", exco_strerror(err));
      return 1;
    }
  }
  exco_run_until_idle(NULL); /* every coroutine now waits */
  for (i = 0; i < N; i++)
    pthread_create(&threads[i], NULL, resolver, (void *)(intptr_t)i);
  err = exco_run(NULL); /* sleeps until the threads' wakes arrive */
  for (i = 0; i < N; i++) {
    pthread_join(threads[i], NULL);
    exco_promise_unref(promises[i]);
    ok &= got[i];
  }
  printf("outside/promise: %s (backend %s)\n", ok && !err ? "ok" : "FAILED",
         exco_context_backend());
  return ok && !err ? 0 : 1;
}
