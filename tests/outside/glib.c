/*
 * An outside program on the GLib driver, built with nothing but
 * `pkg-config --cflags --libs exco-glib` (tests/outside.sh): a coroutine
 * sleeps on the loop's timers, waits for a pipe it wrote to with
 * exco_glib_wait_fd(), and reads a file through GIO with exco_glib_async;
 * the executor's idle callback quits the GMainLoop.  Exits 0 when all of
 * that worked.
 */
#include <exco/glib.h>
#include <stdio.h>
#include <unistd.h>

static int ok;

static void *job(void *arg) {
  GFile *file = g_file_new_for_path(arg);
  exco_glib_async *a;
  GAsyncResult *res;
  GFileInfo *info = NULL;
  int pfd[2];

  if (exco_sleep(10) != 0 || pipe(pfd) != 0)
    goto out;
  if (write(pfd[1], "x", 1) == 1 && exco_glib_wait_fd(pfd[0], G_IO_IN) > 0)
    ok++;
  close(pfd[0]);
  close(pfd[1]);
  if (exco_glib_async_new(&a) != 0)
    goto out;
  g_file_query_info_async(file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                          G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT,
                          exco_glib_async_cancellable(a), exco_glib_async_cb,
                          a);
  if (exco_glib_async_await(a, &res) == 0)
    info = g_file_query_info_finish(file, res, NULL);
  exco_glib_async_free(a);
  if (info != NULL) {
    ok += g_file_info_get_size(info) > 0;
    g_object_unref(info);
  }
out:
  g_object_unref(file);
  return NULL;
}

static void quit(void *loop) {
  g_main_loop_quit(loop);
}

int main(int argc, char **argv) {
  GMainLoop *loop = g_main_loop_new(NULL, FALSE);
  exco_executor *ex;

  (void)argc;
  if (exco_glib_executor_new(&ex, NULL) != 0 ||
      exco_glib_executor_on_idle(ex, quit, loop) != 0 ||
      exco_spawn(ex, job, argv[0], NULL, NULL) != 0)
    return 1;
  g_main_loop_run(loop);
  if (exco_executor_free(ex) != 0)
    return 1;
  g_main_loop_unref(loop);
  printf("outside/glib: %s\n", ok == 2 ? "ok" : "FAILED");
  return ok == 2 ? 0 : 1;
}
