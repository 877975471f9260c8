/*
 * stack.c -- coroutine stacks: mmap'd, lazily committed, pooled.
 * Implements src/stack.h.
 *
 * Guarded stacks: one mapping each, [guard page][usable size], the guard
 * made PROT_NONE with mprotect().  That splits the mapping in two kernel
 * VMAs, so vm.max_map_count (65530 by default) caps them at about 32,000.
 * A freed guarded stack stays mapped on its size class's free list, so
 * reuse costs neither a system call nor page faults on the pages it
 * already touched.  There is no cap on how many a class keeps (a cap
 * below the number of live tasks a program swings between makes every
 * swing unmap, map and fault in the difference again: 10-20 us a stack on
 * a VM, against well under a microsecond for reuse); two process-wide
 * limits (exco_set_stack_pool_limits()) bound what the pools hold
 * instead, see "Limits" below.
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
 *
 * Limits.  Pools are per executor, the limits are per process (counted
 * with atomics, so a put or get touches no shared lock):
 *
 * - Mappings.  Every guarded stack, live or pooled, counts two mappings.
 *   A freed guarded stack is pooled only while that count is within the
 *   map limit (by default vm.max_map_count less a sixteenth, read from
 *   /proc at first use); otherwise it is unmapped.  A new guarded stack
 *   that would take the count past the limit first makes the pools give
 *   back what is over it; one that would take it past vm.max_map_count
 *   less a sixteenth makes them give back everything, and if that is not
 *   enough the spawn fails with EXCO_ENOMEM: neither pooled nor live
 *   stacks take the last mappings that threads, malloc, unguarded slabs
 *   or the program need.  And when
 *   mmap() or mprotect() fails with ENOMEM anyway (the program's own
 *   mappings), every pool of the process gives back its guarded stacks
 *   and the mapping is tried once more before the spawn fails.
 *
 * - Resident memory.  Every pooled stack carries an estimate of the bytes
 *   it keeps resident, and the process-wide sum stays within the
 *   resident limit: a stack that would go over it is trimmed on its way
 *   into the pool with madvise(MADV_DONTNEED), all of it for a guarded
 *   stack, all but the top page (which holds the canary of the stack
 *   above) for an unguarded one.  The mapping stays, so its reuse costs
 *   page faults but no mmap, mprotect or munmap.  Trimmed stacks go
 *   on a cold list that is used only when no untrimmed (hot) one is left.
 *   The estimate can't be exact for free: mincore() costs a system call
 *   (a microsecond or more on a VM), far more than a pooled spawn.  So a
 *   stack is measured with mincore() at its first release and at every
 *   SAMPLE_EVERY-th after that, and its class remembers the measurements
 *   (at once when they grow, a sixteenth of the way per sample when they
 *   shrink).  An unmeasured release counts as the larger of the class's
 *   figure and the stack's own last measurement (its pages only grow
 *   until it is trimmed).  A program whose tasks of one size go from
 *   shallow to deep is caught at the first measured release; stacks
 *   pooled before that keep their old figure.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <fcntl.h>
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

/* A released stack's resident pages are counted with mincore() at its
 * first release and at every SAMPLE_EVERY-th after that. */
#define SAMPLE_EVERY 256
/* Mappings each guarded stack takes: the guard and the usable area. */
#define GUARDED_MAPS 2
/* The default map limit leaves vm.max_map_count / MAPS_HEADROOM_DIV
 * mappings to the rest of the process; this when /proc can't be read. */
#define MAPS_HEADROOM_DIV 16
#define MAX_MAP_COUNT_FALLBACK 65530
/* The default resident limit: physical memory / RESIDENT_DIV, within
 * RESIDENT_MIN and RESIDENT_MAX. */
#define RESIDENT_DIV 16
#define RESIDENT_MIN ((size_t)64 * 1024 * 1024)
#define RESIDENT_MAX ((size_t)512 * 1024 * 1024)
/* A pool's resident bytes may drift this far from what it published. */
#define PUBLISH_STEP ((size_t)256 * 1024)
/* Unguarded stacks per slab, and the most address space one slab takes
 * (larger stacks get fewer per slab, at least one). */
#define SLAB_STACKS 64
#define SLAB_MAX_BYTES ((size_t)64 * 1024 * 1024)
/* Gap below each unguarded stack; its top word is the canary.  A cache
 * line, so the canary doesn't share one with the stack below's top. */
#define CANARY_GAP 64
#define CANARY_MAGIC ((uintptr_t)0x6578636f5a7e11a5ull)

struct size_class;

typedef struct stack_impl {
  exco__stack pub;        /* first, so an exco__stack * converts back */
  unsigned vg_id;         /* valgrind stack id */
  struct size_class *cls; /* its size class, set when handed out */
  size_t resident;        /* while pooled: bytes counted as resident */
  size_t measured;        /* by the last mincore(); 0 once trimmed */
  unsigned long releases; /* times put back, for sampling */
} stack_impl;

typedef struct slab {
  struct slab *next;
  void *map;
  size_t maplen;
  size_t count;
  stack_impl stacks[];
} slab;

/* Free stacks of one kind: untrimmed ones first, trimmed ones after. */
typedef struct free_list {
  exco__stack *hot;  /* pages as the last user left them */
  exco__stack *cold; /* trimmed (stack_trim()) */
} free_list;

typedef struct size_class {
  struct size_class *next;
  size_t size;
  free_list guarded;
  free_list unguarded;
  size_t estimate; /* resident bytes of a released stack (atomic) */
} size_class;

struct exco__stack_pool {
  atomic_flag lock; /* pool_lock() */
  size_class *classes;
  slab *slabs;
  /* What the free lists hold (under the lock): stacks, the bytes they
   * count as resident, and how much of that pooled_resident knows. */
  size_t count;
  size_t resident;
  size_t published;
  /* In the process-wide list of pools (pools_lock). */
  exco__stack_pool *prev, *next;
};

/*
 * A pool's lock is held for a few list operations on the spawn and finish
 * paths, twice per task: a spin lock that yields the processor when taken
 * costs a tenth of a pthread mutex's lock and unlock there (W1, callgrind:
 * 106 instructions a task).  The long holders (pools_shrink(), trimming
 * stacks) are rare: a limit was reached or an mmap failed.
 */
static void pool_lock(exco__stack_pool *p) {
  while (atomic_flag_test_and_set_explicit(&p->lock, memory_order_acquire))
    sched_yield();
}

static void pool_unlock(exco__stack_pool *p) {
  atomic_flag_clear_explicit(&p->lock, memory_order_release);
}

/* Every pool of the process, so that one failing mmap can empty them
 * all.  The lock is taken before a pool's own lock, never after it. */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static exco__stack_pool *pools;

/* Process-wide counters and limits (atomics, relaxed: they bound memory,
 * they order nothing).  A limit of 0 means "the default, not computed
 * yet".  pooled_resident is the sum of the pools' published figures: a
 * pool tells it of a change once the change reaches PUBLISH_STEP, so a
 * pooled spawn and release take no atomic read-modify-write.  (With six
 * of them per task, W1 measured 270-350 ns a task against 200-250.)
 */
static size_t maps_used;       /* mappings of guarded stacks */
static size_t pooled_resident; /* bytes pooled stacks count as resident */
static size_t maps_limit;
static size_t resident_limit;

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

/* ---- Limits and counters ------------------------------------------- */

/* Reads a positive number from a file of /proc; 0 if it can't. */
static long read_proc_long(const char *path) {
  char buf[32];
  ssize_t n;
  long v;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  v = strtol(buf, NULL, 10);
  return v > 0 ? v : 0;
}

static size_t default_maps_limit(void) {
  long v = read_proc_long("/proc/sys/vm/max_map_count");

  if (v <= 0)
    v = MAX_MAP_COUNT_FALLBACK;
  return (size_t)v - (size_t)v / MAPS_HEADROOM_DIV;
}

static size_t default_resident_limit(void) {
  long pages = sysconf(_SC_PHYS_PAGES);
  size_t v = RESIDENT_MIN;

  if (pages > 0 && (size_t)pages / RESIDENT_DIV <= SIZE_MAX / page_size())
    v = (size_t)pages / RESIDENT_DIV * page_size();
  if (v < RESIDENT_MIN)
    v = RESIDENT_MIN;
  if (v > RESIDENT_MAX)
    v = RESIDENT_MAX;
  return v;
}

/* vm.max_map_count less its headroom, read once. */
static size_t kernel_maps_limit(void) {
  static size_t cached;
  size_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

  if (v == 0) {
    v = default_maps_limit();
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
  }
  return v;
}

/* The limits, computed at first use unless set before. */
static size_t limit_maps(void) {
  size_t v = __atomic_load_n(&maps_limit, __ATOMIC_RELAXED);

  if (v == 0) {
    v = default_maps_limit();
    __atomic_store_n(&maps_limit, v, __ATOMIC_RELAXED);
  }
  return v;
}

static size_t limit_resident(void) {
  size_t v = __atomic_load_n(&resident_limit, __ATOMIC_RELAXED);

  if (v == 0) {
    v = default_resident_limit();
    __atomic_store_n(&resident_limit, v, __ATOMIC_RELAXED);
  }
  return v;
}

/* Stack colours (exco__stack.color): COLORS lines' worth, in turn. */
#define COLORS 32
static unsigned colors_next;

static size_t color_next(void) {
  unsigned n = __atomic_fetch_add(&colors_next, 1, __ATOMIC_RELAXED);

  return (size_t)(n % COLORS) * 64;
}

static size_t counter_add(size_t *c, size_t n) {
  return __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static void counter_sub(size_t *c, size_t n) {
  __atomic_sub_fetch(c, n, __ATOMIC_RELAXED);
}

/* Counts the resident pages of a stack's usable area (its top page
 * included) with mincore().  If mincore() fails, all of it. */
static size_t resident_measure(const exco__stack *s) {
  size_t ps = page_size(), n = 0, pages, i;
  uintptr_t lo = (uintptr_t)s->lo & ~(uintptr_t)(ps - 1);
  uintptr_t hi = ((uintptr_t)s->lo + s->size + ps - 1) & ~(uintptr_t)(ps - 1);
  unsigned char vec[256];

  while (lo < hi) {
    pages = (hi - lo) / ps;
    if (pages > sizeof(vec))
      pages = sizeof(vec);
    if (mincore((void *)lo, pages * ps, vec) != 0)
      return s->size;
    for (i = 0; i < pages; i++)
      n += vec[i] & 1;
    lo += pages * ps;
  }
  return n * ps;
}

/* Gives a pooled stack's pages back to the system; returns the bytes it
 * may still keep resident.  A guarded stack gives all of them.  An
 * unguarded one keeps its top page, which in its slab holds the canary of
 * the stack above: that one may be live, and checks it at every switch. */
static size_t stack_trim(exco__stack *s) {
  size_t ps = page_size();
  uintptr_t lo = (uintptr_t)s->lo;
  uintptr_t top = (lo + s->size - 1) & ~(uintptr_t)(ps - 1);

  if (!(s->flags & EXCO_SPAWN_NOGUARD)) {
    (void)madvise(s->lo, s->size, MADV_DONTNEED);
    return 0;
  }
  if (top > lo)
    (void)madvise(s->lo, top - lo, MADV_DONTNEED);
  return ps;
}

/* Tells pooled_resident how the pool's resident bytes changed, once the
 * change reaches @step.  With the pool's lock held. */
static void pool_publish(exco__stack_pool *p, size_t step) {
  size_t r = p->resident, q = p->published;

  if (r > q && r - q >= step)
    counter_add(&pooled_resident, r - q);
  else if (q > r && q - r >= step)
    counter_sub(&pooled_resident, q - r);
  else
    return;
  p->published = r;
}

/* Counts a stack into the pool with @res resident bytes, or out of it.
 * With the pool's lock held. */
static void pool_add(exco__stack_pool *p, stack_impl *s, size_t res) {
  s->resident = res;
  p->resident += res;
  p->count++;
  pool_publish(p, PUBLISH_STEP);
}

static void pool_remove(exco__stack_pool *p, stack_impl *s) {
  p->resident -= s->resident;
  p->count--;
  s->resident = 0;
  pool_publish(p, PUBLISH_STEP);
}

/* Whether pooling @res more bytes in @p would go over the resident limit.
 * With the pool's lock held.  The other pools count as they published
 * (pooled_resident includes p->published: the subtraction can't wrap). */
static int pool_over(exco__stack_pool *p, size_t res) {
  size_t total = __atomic_load_n(&pooled_resident, __ATOMIC_RELAXED) -
                 p->published + p->resident;

  return total + res > limit_resident();
}

/* ---- Free lists ------------------------------------------------------ */

static void list_push(exco__stack **head, exco__stack *s) {
  s->next = *head;
  *head = s;
}

/* Pops an untrimmed stack if there is one, else a trimmed one. */
static exco__stack *list_pop(free_list *fl) {
  exco__stack **head = fl->hot != NULL ? &fl->hot : &fl->cold;
  exco__stack *s = *head;

  if (s != NULL)
    *head = s->next;
  return s;
}

/* Pops a trimmed stack if there is one, else an untrimmed one: the one
 * to unmap first. */
static exco__stack *list_pop_cold(free_list *fl) {
  exco__stack **head = fl->cold != NULL ? &fl->cold : &fl->hot;
  exco__stack *s = *head;

  if (s != NULL)
    *head = s->next;
  return s;
}

/* ---- Pools ----------------------------------------------------------- */

int exco__stack_pool_new(exco__stack_pool **out) {
  exco__stack_pool *pool;

  if (out == NULL)
    return EXCO_EINVAL;
  pool = calloc(1, sizeof(*pool));
  if (pool == NULL)
    return EXCO_ENOMEM;
  atomic_flag_clear(&pool->lock);
  pthread_mutex_lock(&pools_lock);
  pool->next = pools;
  if (pools != NULL)
    pools->prev = pool;
  pools = pool;
  pthread_mutex_unlock(&pools_lock);
  *out = pool;
  return 0;
}

static void guarded_destroy(stack_impl *s) {
  STACK_DEREGISTER(s->vg_id);
  munmap(s->pub.map, s->pub.maplen);
  counter_sub(&maps_used, GUARDED_MAPS);
  free(s);
}

/* Unmaps the guarded stacks of @list (taken out of the pool's count
 * already, or with the pool). */
static size_t destroy_list(exco__stack *list) {
  exco__stack *next;
  size_t n = 0;

  for (; list != NULL; list = next, n++) {
    next = list->next;
    guarded_destroy((stack_impl *)list);
  }
  return n;
}

void exco__stack_pool_free(exco__stack_pool *pool) {
  size_class *c, *cnext;
  slab *sl, *slnext;

  if (pool == NULL)
    return;
  pthread_mutex_lock(&pools_lock);
  if (pool->prev != NULL)
    pool->prev->next = pool->next;
  else
    pools = pool->next;
  if (pool->next != NULL)
    pool->next->prev = pool->prev;
  pthread_mutex_unlock(&pools_lock);
  counter_sub(&pooled_resident, pool->published);
  for (c = pool->classes; c != NULL; c = cnext) {
    cnext = c->next;
    destroy_list(c->guarded.hot);
    destroy_list(c->guarded.cold);
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
  free(pool);
}

/*
 * Brings every pool within the limits: unmaps pooled guarded stacks while
 * the mappings are over the map limit (all of them if @all), and trims
 * untrimmed ones while the resident bytes are over the resident limit.
 * Returns how many stacks it unmapped.  Rare (a failed mmap, new limits),
 * so it does its system calls with each pool's lock held; called with no
 * pool's lock held.
 */
static size_t pools_shrink(int all) {
  size_t n = 0;
  exco__stack_pool *p;

  pthread_mutex_lock(&pools_lock);
  /* Exact figures first. */
  for (p = pools; p != NULL; p = p->next) {
    pool_lock(p);
    pool_publish(p, 0);
    pool_unlock(p);
  }
  for (p = pools; p != NULL; p = p->next) {
    exco__stack *doomed = NULL, *s;
    size_t pending = 0;
    size_class *c;

    pool_lock(p);
    for (c = p->classes; c != NULL; c = c->next) {
      free_list *fl;

      /* The stacks on doomed still count in maps_used until they are
       * unmapped below. */
      while ((all || __atomic_load_n(&maps_used, __ATOMIC_RELAXED) >
                         limit_maps() + pending * GUARDED_MAPS) &&
             (s = list_pop_cold(&c->guarded)) != NULL) {
        pool_remove(p, (stack_impl *)s);
        list_push(&doomed, s);
        pending++;
      }
      for (fl = &c->guarded; fl != NULL;
           fl = fl == &c->guarded ? &c->unguarded : NULL)
        while (pool_over(p, 0) && (s = fl->hot) != NULL) {
          stack_impl *si = (stack_impl *)s;
          size_t left;
          fl->hot = s->next;
          left = stack_trim(s);
          si->measured = 0;
          if (si->resident > left) {
            p->resident -= si->resident - left;
            si->resident = left;
          }
          list_push(&fl->cold, s);
        }
    }
    pool_publish(p, 0);
    pool_unlock(p);
    n += destroy_list(doomed);
  }
  pthread_mutex_unlock(&pools_lock);
  return n;
}

/* Unmaps the pooled guarded stacks of every pool, after mmap() or
 * mprotect() failed.  Returns how many. */
static size_t pools_release(void) {
  return pools_shrink(1);
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

/* Maps a new guarded stack, once.  Called without the lock. */
static int guarded_map(size_t size, exco__stack **out) {
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
  counter_add(&maps_used, GUARDED_MAPS);
  s->pub.lo = map + ps;
  s->pub.size = size;
  s->pub.flags = 0;
  s->pub.guard = ps;
  s->pub.next = NULL;
  s->pub.color = color_next();
  s->pub.map = map;
  s->pub.maplen = maplen;
  s->cls = NULL;
  s->resident = 0;
  s->measured = 0;
  s->releases = 0;
  s->vg_id = STACK_REGISTER(s->pub.lo, map + maplen);
  *out = &s->pub;
  return 0;
}

/* Maps a new guarded stack; when the system says no, empties every pool
 * of its guarded stacks and tries once more.  Called without the lock. */
static int guarded_new(size_t size, exco__stack **out) {
  int err;

  /* Pooled stacks (of other classes or executors: this pool had none of
   * this class) never hold mappings that a live stack needs to stay
   * within the map limit. */
  if (__atomic_load_n(&maps_used, __ATOMIC_RELAXED) + GUARDED_MAPS >
      limit_maps())
    pools_shrink(0);
  /* Live stacks stay within the kernel's limit less its headroom (not
   * the pools' limit, which a program may set lower than what it keeps
   * live), so that the last mappings are left to threads, malloc and
   * unguarded slabs: whether the kernel's own limit would have been hit
   * at the mmap or at the mprotect (which needs one more) must not decide
   * whether they get any. */
  if (__atomic_load_n(&maps_used, __ATOMIC_RELAXED) + GUARDED_MAPS >
      kernel_maps_limit()) {
    pools_release();
    if (__atomic_load_n(&maps_used, __ATOMIC_RELAXED) + GUARDED_MAPS >
        kernel_maps_limit())
      return EXCO_ENOMEM;
  }
  err = guarded_map(size, out);
  if (err == EXCO_ENOMEM && pools_release() > 0)
    err = guarded_map(size, out);
  return err;
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
    s->pub.color = color_next();
    s->pub.map = chunk;
    s->pub.maplen = stride;
    s->cls = NULL;
    s->resident = 0;
    s->measured = 0;
    s->releases = 0;
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

  pool_lock(pool);
  c = class_get(pool, size);
  if (c == NULL) {
    pool_unlock(pool);
    return EXCO_ENOMEM;
  }
  if (flags & EXCO_SPAWN_NOGUARD) {
    s = list_pop(&c->unguarded);
    if (s == NULL) {
      slab *sl;
      size_t i;
      /* Map outside the lock: other threads keep using the pool.  Two
       * threads racing here both add a slab, which is harmless. */
      pool_unlock(pool);
      err = slab_new(size, &sl);
      if (err == EXCO_ENOMEM && pools_release() > 0)
        err = slab_new(size, &sl);
      if (err != 0)
        return err;
      pool_lock(pool);
      sl->next = pool->slabs;
      pool->slabs = sl;
      for (i = 0; i < sl->count; i++)
        sl->stacks[i].cls = c;
      s = &sl->stacks[0].pub;
      if (sl->count > 1) {
        sl->stacks[sl->count - 1].pub.next = c->unguarded.hot;
        c->unguarded.hot = &sl->stacks[1].pub;
        /* Pooled, with nothing resident yet. */
        pool->count += sl->count - 1;
      }
      pool_unlock(pool);
    } else {
      pool_remove(pool, (stack_impl *)s);
      pool_unlock(pool);
      STACK_UNPOISON(s->lo, s->size);
    }
    /* Rewritten on every reuse: an overflow of the previous user may have
     * clobbered it.  The page is resident already (see the top). */
    canary_set(s->lo);
  } else {
    s = list_pop(&c->guarded);
    if (s != NULL)
      pool_remove(pool, (stack_impl *)s);
    pool_unlock(pool);
    if (s != NULL) {
      STACK_UNPOISON(s->lo, s->size);
    } else {
      err = guarded_new(size, &s);
      if (err != 0)
        return err;
      ((stack_impl *)s)->cls = c;
    }
  }
  s->next = NULL;
  *out = s;
  return 0;
}

/* Folds a measurement of a released stack into its class's figure: up at
 * once, down by a sixteenth of the difference, so that a few shallow
 * tasks among deep ones of the same size (a spawner among its workers)
 * don't make the deep ones' stacks count for less than they hold. */
static void estimate_update(size_class *c, size_t measured) {
  size_t old = __atomic_load_n(&c->estimate, __ATOMIC_RELAXED);

  if (measured < old)
    measured = old - (old - measured) / 16;
  __atomic_store_n(&c->estimate, measured, __ATOMIC_RELAXED);
}

void exco__stack_put(exco__stack_pool *pool, exco__stack *stack) {
  size_t ps = page_size(), res;
  stack_impl *s = (stack_impl *)stack;
  size_class *c;
  free_list *fl;

  if (pool == NULL || stack == NULL)
    return;
  c = s->cls;
  if (c == NULL) {
    /* Can't happen: exco__stack_get() sets the class.  Don't crash if it
     * does.  An unguarded stack is then lost until its slab is unmapped
     * with the pool. */
    if (!(stack->flags & EXCO_SPAWN_NOGUARD))
      guarded_destroy(s);
    return;
  }
  /* Over the map limit: the live stacks use up what pooled ones might
   * have, so this one goes. */
  if (!(stack->flags & EXCO_SPAWN_NOGUARD) &&
      __atomic_load_n(&maps_used, __ATOMIC_RELAXED) > limit_maps()) {
    guarded_destroy(s);
    return;
  }
  /* The stack is ours alone here: no lock needed to measure it. */
  if (s->releases++ % SAMPLE_EVERY == 0) {
    res = s->measured = resident_measure(stack);
    estimate_update(c, res);
  } else {
    /* Its pages only grow until it is trimmed; the class's figure says
     * how deep its recent users went. */
    res = __atomic_load_n(&c->estimate, __ATOMIC_RELAXED);
    if (res < s->measured)
      res = s->measured;
  }
  if (res < ps)
    res = ps;
  pool_lock(pool);
  fl = stack->flags & EXCO_SPAWN_NOGUARD ? &c->unguarded : &c->guarded;
  if (!pool_over(pool, res)) {
    list_push(&fl->hot, stack);
    pool_add(pool, s, res);
    pool_unlock(pool);
    return;
  }
  /* Over the resident limit: trim it, outside the lock. */
  pool_unlock(pool);
  res = stack_trim(stack);
  s->measured = 0;
  pool_lock(pool);
  list_push(&fl->cold, stack);
  pool_add(pool, s, res);
  pool_unlock(pool);
}

int exco_set_stack_pool_limits(size_t resident_bytes, size_t maps) {
  if (resident_bytes == 0)
    resident_bytes = default_resident_limit();
  if (maps == 0)
    maps = default_maps_limit();
  __atomic_store_n(&resident_limit, resident_bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&maps_limit, maps, __ATOMIC_RELAXED);
  pools_shrink(0);
  return 0;
}

int exco_stack_pool_usage(exco_stack_pool_stats *out) {
  exco__stack_pool *p;

  if (out == NULL)
    return EXCO_EINVAL;
  out->pooled = 0;
  out->resident = 0;
  pthread_mutex_lock(&pools_lock);
  for (p = pools; p != NULL; p = p->next) {
    pool_lock(p);
    out->pooled += p->count;
    out->resident += p->resident;
    pool_unlock(p);
  }
  pthread_mutex_unlock(&pools_lock);
  out->resident_limit = limit_resident();
  out->maps = __atomic_load_n(&maps_used, __ATOMIC_RELAXED);
  out->maps_limit = limit_maps();
  return 0;
}

void exco__stack_fork(int prepare) {
  if (prepare)
    pthread_mutex_lock(&pools_lock);
  else
    pthread_mutex_unlock(&pools_lock);
}

int exco__stack_canary_ok(const exco__stack *stack) {
  if (!(stack->flags & EXCO_SPAWN_NOGUARD))
    return 1;
  return ((const uintptr_t *)stack->lo)[-1] == canary_value(stack->lo);
}
