/*
 * stack.h -- coroutine stacks: mmap'd, lazily committed, pooled.
 *
 * Guarded stacks each have their own mapping with a PROT_NONE guard page
 * below the usable area.  Unguarded stacks (EXCO_SPAWN_NOGUARD) are carved
 * from large slab mappings, so they don't use up vm.max_map_count; they
 * have a canary word at their lowest address instead of a guard page.
 * A pool keeps freed stacks for reuse; it is thread-safe.  Pools are per
 * executor; the limits on what they keep are per process.
 */
#ifndef EXCO_STACK_H
#define EXCO_STACK_H

#include <stddef.h>

typedef struct exco__stack exco__stack;
struct exco__stack {
  void *lo;          /* lowest usable address (above guard/canary) */
  size_t size;       /* usable bytes from lo upward */
  unsigned flags;    /* EXCO_SPAWN_NOGUARD or 0 */
  size_t guard;      /* PROT_NONE bytes right below lo (0: unguarded) */
  exco__stack *next; /* free-list link, owned by the pool */
  /* Bytes below the top where the coroutine's first frame goes: each
   * stack gets its own multiple of 64 below 2 KiB, so that the tops of
   * many suspended coroutines (the lines every resume touches) don't all
   * map to the same few L1 cache sets, as page-aligned tops would.  The
   * frames still start in the top page. */
  size_t color;
  /* backend-private bookkeeping follows */
  void *map;
  size_t maplen;
};

typedef struct exco__stack_pool exco__stack_pool;

/* Returns 0 or EXCO_ENOMEM. */
int exco__stack_pool_new(exco__stack_pool **out);
/* Unmaps every stack the pool holds.  All stacks must have been put back. */
void exco__stack_pool_free(exco__stack_pool *pool);

/*
 * Takes a stack of at least @size usable bytes (0 = EXCO_STACK_DEFAULT,
 * rounded up to pages and at least EXCO_STACK_MIN), reusing a pooled one
 * of the same class when it can.  Returns 0, EXCO_ENOMEM when memory or a
 * mapping can't be had (mmap/mprotect failure, e.g. vm.max_map_count
 * exhausted; never aborts), or EXCO_EINVAL for a size that overflows.
 */
int exco__stack_get(exco__stack_pool *pool, size_t size, unsigned flags,
                    exco__stack **out);

/* The guard size for stacks mapped from now on (exco_set_stack_guard()). */
size_t exco__stack_guard_size(void);

/* Gives a stack back to the pool: kept mapped, trimmed (its pages but the
 * top one given back) when the pools are over their resident limit, or
 * unmapped when guarded stacks are over the map limit
 * (exco_set_stack_pool_limits()). */
void exco__stack_put(exco__stack_pool *pool, exco__stack *stack);

/* For unguarded stacks: 1 if the canary at the bottom is intact, else 0.
 * Always 1 for guarded stacks. */
int exco__stack_canary_ok(const exco__stack *stack);

/* fork(): with @prepare nonzero takes the lock of the process-wide list
 * of pools; with 0 (in the parent and in the child) lets it go. */
void exco__stack_fork(int prepare);

#endif
