/*
 * delay.c -- sleep, then print.
 *
 *     examples/delay [milliseconds]
 */
#include <stdio.h>
#include <stdlib.h>

#include <exco/uv.h>

static void *delay(void *arg) {
  uint64_t ms = *(uint64_t *)arg;
  int err;

  printf("sleeping %llu ms\n", (unsigned long long)ms);
  err = exco_uv_sleep(ms);
  if (err != 0)
    fprintf(stderr, "sleep: %s\n", exco_strerror(err));
  else
    printf("woke up\n");
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  uint64_t ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 500;
  int err;

  /* The default executor now runs on the loop. */
  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_spawn(NULL, delay, &ms, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "delay: %s\n", exco_strerror(err));
    return 1;
  }
  /* Returns once the task has finished. */
  uv_run(loop, UV_RUN_DEFAULT);
  /* Close the driver's handles, let their callbacks run, close the loop. */
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
