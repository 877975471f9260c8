/*
 * switch.c -- the thread-local state of the switch glue (see switch.h).
 */
#include "config.h"

#include "switch.h"

__thread exco_task *exco__tls_current
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

__thread exco__inplace *exco__tls_inplace
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

__attribute__((noinline)) exco_task *exco__current(void) {
  exco_task *t = exco__tls_current;
  __asm__ volatile("" ::: "memory");
  return t;
}

__attribute__((noinline)) int *exco__errno_ptr(void) {
  __asm__ volatile("" ::: "memory");
  return &errno;
}

exco_task *exco_current(void) {
  return exco__current();
}

exco_executor *exco_current_executor(void) {
  exco_task *t = exco__current();
  return t != NULL ? t->ex : NULL;
}

const char *exco_context_backend(void) {
  return exco__ctx_backend;
}
