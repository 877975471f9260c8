/*
 * scope_deadline.c -- structured concurrency with a deadline on a libuv
 * loop.  A request handler starts three "backend lookups" as children of
 * a scope, each taking a different time and sending its answer on a
 * channel, and gives the lot a deadline.  Leaving the scope (join) waits
 * for every child: the slow ones are cancelled when the deadline passes,
 * so none outlives the handler.  Then the handler takes whatever answers
 * arrived in time.
 *
 *     examples/scope_deadline [deadline-ms]
 */
#include <stdio.h>
#include <stdlib.h>

#include <exco/sync.h>
#include <exco/uv.h>

typedef struct lookup {
  const char *name;
  uint64_t ms;        /* how long this backend takes */
  exco_chan *answers; /* of const char * */
} lookup;

static int backend(void *arg) {
  lookup *l = arg;
  int err = exco_uv_sleep(l->ms);

  if (err != 0) {
    printf("  %-6s cancelled after less than %llu ms (%s)\n", l->name,
           (unsigned long long)l->ms, exco_strerror(err));
    return err;
  }
  printf("  %-6s answered after %llu ms\n", l->name, (unsigned long long)l->ms);
  return exco_chan_try_send(l->answers, &l->name);
}

static void *handler(void *arg) {
  uint64_t deadline_ms = *(uint64_t *)arg;
  lookup lookups[] = {
      {"cache", 10, NULL}, {"db", 60, NULL}, {"remote", 400, NULL}};
  exco_chan *answers;
  exco_scope *scope;
  const char *name;
  int64_t prev;
  size_t i;
  int err;

  if (exco_chan_new(&answers, sizeof(const char *), 3) != 0 ||
      exco_scope_new(&scope) != 0)
    return NULL;
  printf("handler: three lookups, deadline %llu ms\n",
         (unsigned long long)deadline_ms);
  for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
    lookups[i].answers = answers;
    exco_scope_spawn(scope, NULL, backend, &lookups[i], NULL);
  }
  exco_deadline_after(deadline_ms, &prev);
  err = exco_scope_join(scope); /* every child has finished after this */
  exco_deadline_set(prev, NULL);
  exco_scope_free(scope);
  printf("handler: scope left: %s\n",
         err == 0 ? "all answered" : exco_strerror(err));
  while (exco_chan_try_recv(answers, &name) == 0)
    printf("handler: have an answer from %s\n", name);
  exco_chan_unref(answers);
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  uint64_t ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
  int err;

  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_spawn(NULL, handler, &ms, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "scope_deadline: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
