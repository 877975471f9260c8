/*
 * queue.h -- intrusive lists as small static inline helpers.
 *
 * exco__fifo is a singly linked FIFO of nodes that embed an exco__fifo_node
 * (the local executor's run queue).  exco__list is a circular doubly linked
 * list with a sentinel (waiters on a task's completion), so a node can
 * unlink itself in O(1) when its coroutine is cancelled.
 */
#ifndef EXCO_QUEUE_H
#define EXCO_QUEUE_H

#include <stddef.h>

#define exco__container_of(ptr, type, member)                                  \
  ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct exco__fifo_node {
  struct exco__fifo_node *next;
} exco__fifo_node;

typedef struct exco__fifo {
  exco__fifo_node *head;
  exco__fifo_node **tailp;
} exco__fifo;

static inline void exco__fifo_init(exco__fifo *q) {
  q->head = NULL;
  q->tailp = &q->head;
}

static inline int exco__fifo_empty(const exco__fifo *q) {
  return q->head == NULL;
}

static inline void exco__fifo_push(exco__fifo *q, exco__fifo_node *n) {
  n->next = NULL;
  *q->tailp = n;
  q->tailp = &n->next;
}

/* Moves all of @from to the end of @q; @from is left empty. */
static inline void exco__fifo_concat(exco__fifo *q, exco__fifo *from) {
  if (from->head == NULL)
    return;
  *q->tailp = from->head;
  q->tailp = from->tailp;
  exco__fifo_init(from);
}

static inline exco__fifo_node *exco__fifo_pop(exco__fifo *q) {
  exco__fifo_node *n = q->head;
  if (n != NULL) {
    q->head = n->next;
    if (q->head == NULL)
      q->tailp = &q->head;
  }
  return n;
}

typedef struct exco__list {
  struct exco__list *next;
  struct exco__list *prev;
} exco__list;

static inline void exco__list_init(exco__list *l) {
  l->next = l;
  l->prev = l;
}

static inline int exco__list_empty(const exco__list *l) {
  return l->next == l;
}

static inline void exco__list_insert_tail(exco__list *head, exco__list *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

/* Unlinks @n and leaves it pointing at itself, so that a second remove
 * and exco__list_empty(n) ("is it linked?") are both safe. */
static inline void exco__list_remove(exco__list *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  exco__list_init(n);
}

#endif
