/*
 * glib_cat.c -- cat(1) on a GLib main loop.  One coroutine reads each file
 * named on the command line top to bottom with GIO's asynchronous calls
 * (g_file_read_async(), g_input_stream_read_async(),
 * g_input_stream_close_async()), each awaited with exco_glib_async, and
 * waits 50 ms between files with exco_sleep() on the loop's timers.  The
 * executor's idle callback quits the GMainLoop once the coroutine has
 * finished; Ctrl-C (SIGINT) closes the executor from a GLib callback
 * instead: the pending GIO call is cancelled through its GCancellable and
 * the loop quits once everything is gone.
 *
 *     examples/glib_cat FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include <exco/glib.h>

typedef struct job {
  char **paths;
  int n;
  int status; /* the exit status */
} job;

/* Waits for the GIO call just made with @a; on success *res is its result
 * (owned by @a).  The async is freed by the caller in every case. */
static int await_call(exco_glib_async *a, GAsyncResult **res) {
  int err = exco_glib_async_await(a, res);

  /* EXCO_ECANCELED: Ctrl-C; the calls after it fail the same way. */
  if (err != 0 && err != EXCO_ECANCELED)
    fprintf(stderr, "glib_cat: %s\n", exco_strerror(err));
  return err;
}

/* Copies one file to standard output; 0 or -1. */
static int cat_one(const char *path) {
  GFile *file = g_file_new_for_commandline_arg(path);
  GInputStream *in = NULL;
  GError *error = NULL;
  exco_glib_async *a;
  GAsyncResult *res;
  char buf[8192]; /* lent to the reads: this frame lives until the end */
  gssize n = 0;
  int ok = -1;

  if (exco_glib_async_new(&a) != 0)
    goto out;
  g_file_read_async(file, G_PRIORITY_DEFAULT, exco_glib_async_cancellable(a),
                    exco_glib_async_cb, a);
  if (await_call(a, &res) == 0)
    in = G_INPUT_STREAM(g_file_read_finish(file, res, &error));
  exco_glib_async_free(a);
  if (in == NULL)
    goto out;
  for (;;) {
    if (exco_glib_async_new(&a) != 0)
      break;
    g_input_stream_read_async(in, buf, sizeof(buf), G_PRIORITY_DEFAULT,
                              exco_glib_async_cancellable(a),
                              exco_glib_async_cb, a);
    n = -1;
    if (await_call(a, &res) == 0)
      n = g_input_stream_read_finish(in, res, &error);
    exco_glib_async_free(a);
    if (n <= 0 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
      break;
  }
  ok = n == 0 ? 0 : -1;
  if (exco_glib_async_new(&a) == 0) {
    g_input_stream_close_async(in, G_PRIORITY_DEFAULT, NULL, exco_glib_async_cb,
                               a);
    if (await_call(a, &res) == 0 &&
        !g_input_stream_close_finish(in, res, error == NULL ? &error : NULL))
      ok = -1;
    exco_glib_async_free(a);
  }
out:
  if (error != NULL) {
    fprintf(stderr, "glib_cat: %s: %s\n", path, error->message);
    g_error_free(error);
  }
  if (in != NULL)
    g_object_unref(in);
  g_object_unref(file);
  return ok;
}

static void *cat_all(void *arg) {
  job *j = arg;
  int i;

  for (i = 0; i < j->n; i++) {
    if (cat_one(j->paths[i]) != 0)
      j->status = 1;
    fflush(stdout);
    /* A pause between files, on the loop's timers. */
    if (i + 1 < j->n && exco_sleep(50) != 0)
      break;
  }
  return NULL;
}

static void quit(void *loop) {
  g_main_loop_quit(loop);
}

static exco_executor *ex;

static gboolean on_sigint(gpointer loop) {
  /* Cancels the coroutine; quit() runs once it is gone and the executor
   * is freed. */
  if (exco_executor_close(ex, quit, loop) == 0)
    ex = NULL;
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
  GMainLoop *loop;
  job j = {argv + 1, argc - 1, 0};
  int err;

  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE...\n", argv[0]);
    return 2;
  }
  loop = g_main_loop_new(NULL, FALSE);
  err = exco_glib_executor_new(&ex, NULL);
  if (err == 0)
    err = exco_glib_executor_on_idle(ex, quit, loop);
  if (err == 0)
    err = exco_spawn(ex, cat_all, &j, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "glib_cat: %s\n", exco_strerror(err));
    return 1;
  }
  g_unix_signal_add(SIGINT, on_sigint, loop);
  g_main_loop_run(loop);
  if (ex != NULL)
    exco_executor_free(ex);
  g_main_loop_unref(loop);
  return j.status;
}
