/*
 * error.c -- error strings and the replaceable allocator.
 */
/* For strerrordesc_np(), a GNU extension. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "exco-internal.h"

/* Without strerrordesc_np, strerror() is asked only about numbers that
 * are errno values everywhere exco runs, for which it returns a constant
 * string (unknown ones would be formatted into a shared buffer). */
#ifdef EHWPOISON
#define EHWPOISON_OR_LAST EHWPOISON
#else
#define EHWPOISON_OR_LAST 34 /* ERANGE: C and POSIX's own */
#endif

const char *exco_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
  case EXCO_EINVAL:
    return "invalid argument or handle";
  case EXCO_ENOMEM:
    return "out of memory, or a stack mapping could not be made";
  case EXCO_ECANCELED:
    return "task cancelled";
  case EXCO_EPERM:
    return "not inside a coroutine";
  case EXCO_EBUSY:
    return "busy: in use, running, or has live tasks";
  case EXCO_EALREADY:
    return "already done (dropped, resolved)";
  case EXCO_EDEADLK:
    return "a task cannot join itself";
  case EXCO_ENOTSUP:
    return "not supported by this executor";
  case EXCO_EXDEV:
    return "the task runs on another thread (migration not allowed)";
  default:
#ifdef HAVE_STRERRORDESC_NP
    /* A static string, or NULL for a number the C library doesn't know;
     * strerror() would format those into a shared buffer. */
    if (err < 0 && err > -4096 && strerrordesc_np(-err) != NULL)
      return strerrordesc_np(-err);
#else
    if (err < 0 && err >= -EHWPOISON_OR_LAST)
      return strerror(-err);
#endif
    return "unknown error";
  }
}

/* The allocator is process-wide and meant to be set before any exco object
 * exists, so plain variables are enough; see exco_replace_allocator(). */
static void *(*exco__malloc_fn)(size_t) = malloc;
static void (*exco__free_fn)(void *) = free;

int exco__alloc_libc = 1;

int exco_replace_allocator(void *(*malloc_fn)(size_t),
                           void (*free_fn)(void *)) {
  if ((malloc_fn == NULL) != (free_fn == NULL))
    return EXCO_EINVAL;
  exco__malloc_fn = malloc_fn != NULL ? malloc_fn : malloc;
  exco__free_fn = free_fn != NULL ? free_fn : free;
  exco__alloc_libc = exco__malloc_fn == malloc && exco__free_fn == free;
  return 0;
}

void *exco__malloc(size_t size) {
  return exco__malloc_fn(size);
}

void exco__free(void *ptr) {
  if (ptr != NULL)
    exco__free_fn(ptr);
}
