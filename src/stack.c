/*
 * stack.c -- coroutine stacks: mmap'd, lazily committed, pooled.
 * Implements src/stack.h.
 *
 * Guarded stacks: one mapping each, [guard page][usable size], the guard
 * made PROT_NONE with mprotect().  That splits the mapping in two kernel
 * VMAs, so vm.max_map_count (65530 by default) caps them at about 32,000.
 * A freed guarded stack stays mapped on its size class's free list, up to
 * GUARDED_KEEP of them, so reuse costs neither a system call nor page
 * faults on the pages it already touched.
 *
 * Unguarded stacks (EXCO_SPAWN_NOGUARD): carved from slabs, each one
 * mapping of up to SLAB_STACKS stacks, so a million of them take only
 * some 16,000 mappings.  Within a slab the stacks are laid out back to
 * back in chunks of the class size plus one page, after a lead page.
 * Each stack's usable area ends CANARY_GAP bytes below its chunk's end;
 * the canary of the next stack up sits in that gap, right below the next
 * stack's lowest address:
 *
 *   slab: [lead page |c0][stack 0 .......... |c1][stack 1 ......... |c2]
 *
 * A stack that overflows runs into its own canary first.  Two things are
 * on purpose.  The canary of stack i+1 shares a page with the top of
 * stack i, which that stack touches anyway, so writing canaries commits
 * no memory of its own (a page-aligned canary would double the resident
 * size of a shallow coroutine).  And every stack's top sits CANARY_GAP
 * bytes below a page boundary, so a shallow coroutine's frames fit in one
 * page instead of straddling two, as they would if the tops drifted
 * through the page from one stack to the next.  The extra page per chunk
 * is address space only.  Freed unguarded stacks go back
 * on their class's free list; slabs are unmapped only with the pool.
 *
 * Descriptors: an exco__stack lives in malloc'd memory, not in the stack
 * it describes.  Storing it at the top of the stack would save a malloc
 * but eat into the usable size (or cost a page of address space per
 * stack to keep "at least size usable bytes"), and put bookkeeping where
 * a buffer overrun in the coroutine's outermost frame can reach it.
 * Guarded stacks cost a mmap and an mprotect each, beside which a malloc
 * is noise; unguarded descriptors are allocated 64 at a time inside the
 * slab's malloc'd header, so they cost no per-stack allocation either.
 *
 * All size classes use the exact page-rounded usable size: programs use
 * few distinct sizes, and a list of classes searched linearly is cheap.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <exco.h>

#include "stack.h"

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#define STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define STACK_REGISTER(lo, hi) ((void)(lo), (void)(hi), 0u)
#define STACK_DEREGISTER(id) ((void)(id))
#endif

#if defined(__SANITIZE_ADDRESS__)
#define EXCO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EXCO_ASAN 1
#endif
#endif
#if defined(EXCO_ASAN) && defined(HAVE_SANITIZER_ASAN_INTERFACE_H)
#include <sanitizer/asan_interface.h>
/*
 * A coroutine that ends by switching away leaves its last frames'
 * redzones poisoned; clear them before the stack is used again, or
 * uninstrumented code's frames there (libc's) would look poisoned to
 * instrumented callees.  Only from the lowest poisoned byte up: clearing
 * the whole stack would write, and so commit, shadow memory for all of it
 * (32 KiB per default stack), where reading untouched shadow commits
 * nothing.
 */
static void stack_unpoison(void *lo, size_t size) {
  char *p = __asan_region_is_poisoned(lo, size);
  if (p != NULL)
    ASAN_UNPOISON_MEMORY_REGION(p, (size_t)((char *)lo + size - p));
}
#define STACK_UNPOISON(lo, size) stack_unpoison((lo), (size))
#else
#define STACK_UNPOISON(lo, size) ((void)(lo), (void)(size))
#endif

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

/* The guard below each guarded stack (exco_set_stack_guard()): 1 MiB of
 * address space on 64-bit systems, where it costs nothing else, so that
 * frames far larger than a page can't jump it; 64 KiB elsewhere. */
#if UINTPTR_MAX > 0xffffffffu
#define GUARD_DEFAULT ((size_t)1024 * 1024)
#else
#define GUARD_DEFAULT ((size_t)64 * 1024)
#endif
#define GUARD_MAX ((size_t)1024 * 1024 * 1024)
static size_t stack_guard = GUARD_DEFAULT;

/* Guarded stacks kept mapped per size class once freed. */
#define GUARDED_KEEP 4096
/* Unguarded stacks per slab, and the most address space one slab takes
 * (larger stacks get fewer per slab, at least one). */
#define SLAB_STACKS 64
#define SLAB_MAX_BYTES ((size_t)64 * 1024 * 1024)
/* Gap below each unguarded stack; its top word is the canary.  A cache
 * line, so the canary doesn't share one with the stack below's top. */
#define CANARY_GAP 64
#define CANARY_MAGIC ((uintptr_t)0x6578636f5a7e11a5ull)

typedef struct stack_impl {
  exco__stack pub; /* first, so an exco__stack * converts back */
  unsigned vg_id;  /* valgrind stack id */
  size_t klass;    /* the size class it belongs to */
} stack_impl;

typedef struct slab {
  struct slab *next;
  void *map;
  size_t maplen;
  size_t count;
  stack_impl stacks[];
} slab;

typedef struct size_class {
  struct size_class *next;
  size_t size;
  exco__stack *guarded; /* free guarded stacks */
  size_t nguarded;
  exco__stack *unguarded; /* free unguarded stacks */
} size_class;

struct exco__stack_pool {
  pthread_mutex_t lock;
  size_class *classes;
  slab *slabs;
};

static size_t page_size(void) {
  static size_t cached;
  size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (ps == 0) {
    long v = sysconf(_SC_PAGESIZE);
    ps = v > 0 ? (size_t)v : 4096;
    __atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
  }
  return ps;
}

static uintptr_t canary_value(const void *lo) {
  return CANARY_MAGIC ^ (uintptr_t)lo;
}

static void canary_set(void *lo) {
  ((uintptr_t *)lo)[-1] = canary_value(lo);
}

static void *map_anon(size_t len, int prot) {
  void *p =
      mmap(NULL, len, prot,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

int exco__stack_pool_new(exco__stack_pool **out) {
  exco__stack_pool *pool;

  if (out == NULL)
    return EXCO_EINVAL;
  pool = calloc(1, sizeof(*pool));
  if (pool == NULL)
    return EXCO_ENOMEM;
  if (pthread_mutex_init(&pool->lock, NULL) != 0) {
    free(pool);
    return EXCO_ENOMEM;
  }
  *out = pool;
  return 0;
}

static void guarded_destroy(stack_impl *s) {
  STACK_DEREGISTER(s->vg_id);
  munmap(s->pub.map, s->pub.maplen);
  free(s);
}

void exco__stack_pool_free(exco__stack_pool *pool) {
  size_class *c, *cnext;
  slab *sl, *slnext;

  if (pool == NULL)
    return;
  for (c = pool->classes; c != NULL; c = cnext) {
    exco__stack *s, *snext;
    cnext = c->next;
    for (s = c->guarded; s != NULL; s = snext) {
      snext = s->next;
      guarded_destroy((stack_impl *)s);
    }
    free(c);
  }
  for (sl = pool->slabs; sl != NULL; sl = slnext) {
    size_t i;
    slnext = sl->next;
    for (i = 0; i < sl->count; i++)
      STACK_DEREGISTER(sl->stacks[i].vg_id);
    munmap(sl->map, sl->maplen);
    free(sl);
  }
  pthread_mutex_destroy(&pool->lock);
  free(pool);
}

/* Finds or makes the class for @size.  Called with the lock held. */
static size_class *class_get(exco__stack_pool *pool, size_t size) {
  size_class *c;

  for (c = pool->classes; c != NULL; c = c->next)
    if (c->size == size)
      return c;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->size = size;
  c->next = pool->classes;
  pool->classes = c;
  return c;
}

size_t exco__stack_guard_size(void) {
  return __atomic_load_n(&stack_guard, __ATOMIC_RELAXED);
}

int exco_set_stack_guard(size_t bytes) {
  size_t ps = page_size();

  if (bytes > GUARD_MAX)
    return EXCO_EINVAL;
  if (bytes == 0)
    bytes = GUARD_DEFAULT;
  bytes = (bytes + ps - 1) / ps * ps;
  __atomic_store_n(&stack_guard, bytes, __ATOMIC_RELAXED);
  return 0;
}

size_t exco_stack_guard(void) {
  return exco__stack_guard_size();
}

/* Maps a new guarded stack.  Called without the lock. */
static int guarded_new(size_t size, exco__stack **out) {
  size_t ps = exco__stack_guard_size();
  size_t maplen = size + ps;
  stack_impl *s;
  char *map;

  s = malloc(sizeof(*s));
  if (s == NULL)
    return EXCO_ENOMEM;
  map = map_anon(maplen, PROT_READ | PROT_WRITE);
  if (map == NULL) {
    free(s);
    return EXCO_ENOMEM;
  }
  /* This is the call that fails once vm.max_map_count is reached: the
   * guard splits the mapping in two. */
  if (mprotect(map, ps, PROT_NONE) != 0) {
    munmap(map, maplen);
    free(s);
    return EXCO_ENOMEM;
  }
#ifdef MADV_NOHUGEPAGE
  /* Only big stacks could be backed by transparent huge pages, which
   * would commit 2 MiB at the first touch. */
  if (maplen >= (size_t)2 * 1024 * 1024)
    (void)madvise(map, maplen, MADV_NOHUGEPAGE);
#endif
  s->pub.lo = map + ps;
  s->pub.size = size;
  s->pub.flags = 0;
  s->pub.guard = ps;
  s->klass = size;
  s->pub.next = NULL;
  s->pub.map = map;
  s->pub.maplen = maplen;
  s->vg_id = STACK_REGISTER(s->pub.lo, map + maplen);
  *out = &s->pub;
  return 0;
}

/* Maps a new slab of unguarded stacks of @size bytes.  Called without the
 * lock; the caller links the slab into the pool. */
static int slab_new(size_t size, slab **out) {
  size_t ps = page_size();
  size_t stride = size + ps;
  size_t n = SLAB_STACKS;
  size_t maplen, i;
  char *map;
  slab *sl;

  if (stride > SLAB_MAX_BYTES / n)
    n = SLAB_MAX_BYTES / stride;
  if (n == 0)
    n = 1;
  /* stride * n can't overflow: it is at most SLAB_MAX_BYTES, or stride
   * alone, and size was checked against SIZE_MAX / 4. */
  maplen = ps + stride * n;
  sl = malloc(sizeof(*sl) + n * sizeof(sl->stacks[0]));
  if (sl == NULL)
    return EXCO_ENOMEM;
  map = map_anon(maplen, PROT_READ | PROT_WRITE);
  if (map == NULL) {
    free(sl);
    return EXCO_ENOMEM;
  }
#ifdef MADV_NOHUGEPAGE
  /* With transparent huge pages set to "always", a slab's first touch
   * would commit 2 MiB, several stacks' worth of memory that most
   * coroutines never use. */
  (void)madvise(map, maplen, MADV_NOHUGEPAGE);
#endif
  sl->next = NULL;
  sl->map = map;
  sl->maplen = maplen;
  sl->count = n;
  for (i = 0; i < n; i++) {
    stack_impl *s = &sl->stacks[i];
    char *chunk = map + ps + i * stride;
    s->pub.lo = chunk;
    s->pub.size = stride - CANARY_GAP;
    s->pub.flags = EXCO_SPAWN_NOGUARD;
    s->pub.guard = 0;
    s->pub.map = chunk;
    s->pub.maplen = stride;
    s->klass = size;
    s->vg_id = STACK_REGISTER(s->pub.lo, chunk + s->pub.size);
    /* Lowest address first out of the free list. */
    s->pub.next = i + 1 < n ? &sl->stacks[i + 1].pub : NULL;
  }
  *out = sl;
  return 0;
}

int exco__stack_get(exco__stack_pool *pool, size_t size, unsigned flags,
                    exco__stack **out) {
  size_t ps = page_size();
  size_class *c;
  exco__stack *s;
  int err;

  if (pool == NULL || out == NULL || (flags & ~EXCO_SPAWN_NOGUARD) != 0)
    return EXCO_EINVAL;
  if (size == 0)
    size = EXCO_STACK_DEFAULT;
  if (size < EXCO_STACK_MIN)
    size = EXCO_STACK_MIN;
  /* Leaves headroom for the guard page, the canary gap and slab sizes. */
  if (size > SIZE_MAX / 4)
    return EXCO_EINVAL;
  size = (size + ps - 1) & ~(ps - 1);

  pthread_mutex_lock(&pool->lock);
  c = class_get(pool, size);
  if (c == NULL) {
    pthread_mutex_unlock(&pool->lock);
    return EXCO_ENOMEM;
  }
  if (flags & EXCO_SPAWN_NOGUARD) {
    s = c->unguarded;
    if (s == NULL) {
      slab *sl;
      /* Map outside the lock: other threads keep using the pool.  Two
       * threads racing here both add a slab, which is harmless. */
      pthread_mutex_unlock(&pool->lock);
      err = slab_new(size, &sl);
      if (err != 0)
        return err;
      pthread_mutex_lock(&pool->lock);
      sl->next = pool->slabs;
      pool->slabs = sl;
      s = &sl->stacks[0].pub;
      if (sl->count > 1) {
        sl->stacks[sl->count - 1].pub.next = c->unguarded;
        c->unguarded = &sl->stacks[1].pub;
      }
    } else {
      c->unguarded = s->next;
      STACK_UNPOISON(s->lo, s->size);
    }
    pthread_mutex_unlock(&pool->lock);
    /* Rewritten on every reuse: an overflow of the previous user may have
     * clobbered it.  The page is resident already (see the top). */
    canary_set(s->lo);
  } else {
    s = c->guarded;
    if (s != NULL) {
      c->guarded = s->next;
      c->nguarded--;
      pthread_mutex_unlock(&pool->lock);
      STACK_UNPOISON(s->lo, s->size);
    } else {
      pthread_mutex_unlock(&pool->lock);
      err = guarded_new(size, &s);
      if (err != 0)
        return err;
    }
  }
  s->next = NULL;
  *out = s;
  return 0;
}

void exco__stack_put(exco__stack_pool *pool, exco__stack *stack) {
  size_class *c;

  if (pool == NULL || stack == NULL)
    return;
  pthread_mutex_lock(&pool->lock);
  /* The class exists: the stack came from it.  class_get() only
   * allocates for a size it has never seen. */
  c = class_get(pool, ((stack_impl *)stack)->klass);
  if (c == NULL) {
    /* Can't happen (see above); don't crash if it does.  An unguarded
     * stack is then lost until its slab is unmapped with the pool. */
    pthread_mutex_unlock(&pool->lock);
    if (!(stack->flags & EXCO_SPAWN_NOGUARD))
      guarded_destroy((stack_impl *)stack);
    return;
  }
  if (stack->flags & EXCO_SPAWN_NOGUARD) {
    stack->next = c->unguarded;
    c->unguarded = stack;
  } else if (c->nguarded < GUARDED_KEEP) {
    stack->next = c->guarded;
    c->guarded = stack;
    c->nguarded++;
  } else {
    pthread_mutex_unlock(&pool->lock);
    guarded_destroy((stack_impl *)stack);
    return;
  }
  pthread_mutex_unlock(&pool->lock);
}

int exco__stack_canary_ok(const exco__stack *stack) {
  if (!(stack->flags & EXCO_SPAWN_NOGUARD))
    return 1;
  return ((const uintptr_t *)stack->lo)[-1] == canary_value(stack->lo);
}
