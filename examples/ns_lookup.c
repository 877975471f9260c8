/*
 * ns_lookup.c -- resolve a host name and print its addresses.
 *
 *     examples/ns_lookup [name]      (default: localhost)
 */
#include <stdio.h>
#include <string.h>

#include <exco/uv.h>

static void *lookup(void *arg) {
  const char *name = arg;
  struct addrinfo hints, *res, *ai;
  char text[INET6_ADDRSTRLEN];
  int err;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  /* Give up after five seconds rather than hang on a dead resolver. */
  err = exco_uv_getaddrinfo_timeout(name, NULL, &hints, &res, 5000);
  if (err != 0) {
    fprintf(stderr, "%s: %s\n", name, uv_strerror(err));
    return NULL;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)ai->ai_addr, text, sizeof(text));
    else if (ai->ai_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, text, sizeof(text));
    else
      continue;
    printf("%s has address %s\n", name, text);
  }
  uv_freeaddrinfo(res);
  return NULL;
}

int main(int argc, char **argv) {
  uv_loop_t *loop = uv_default_loop();
  char *name = argc > 1 ? argv[1] : "localhost";
  int err;

  err = exco_uv_init(loop);
  if (err == 0)
    err = exco_spawn(NULL, lookup, name, NULL, NULL);
  if (err != 0) {
    fprintf(stderr, "ns_lookup: %s\n", exco_strerror(err));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  exco_uv_executor_free(exco_default_executor());
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
