/*
 * read_file.c -- read a whole file on libuv's thread pool and print it.
 *
 *     examples/read_file [path]      (default: /proc/version)
 */
#include <stdio.h>
#include <stdlib.h>

#include <exco/uv.h>

static void *cat(void *arg) {
  const char *path = arg;
  uv_stat_t st;
  char *text;
  size_t len;
  int err;

  err = exco_uv_fs_stat(path, &st);
  if (err == 0)
    printf("%s: %llu bytes according to stat\n", path,
           (unsigned long long)st.st_size);
  err = exco_uv_fs_read_file(path, &text, &len);
  if (err != 0) {
    fprintf(stderr, "%s: %s\n", path, uv_strerror(err));
    return NULL;
  }
  printf("%s: read %zu bytes\n", path, len);
  fwrite(text, 1, len, stdout);
  free(text);
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  char *path = argc > 1 ? argv[1] : "/proc/version";
  int err;

  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_spawn(NULL, cat, path, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "read_file: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
