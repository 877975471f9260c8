/*
 * dns.c -- exco_uv_getaddrinfo() (getaddrinfo on libuv's thread pool).
 *
 * libuv copies node, service and hints, so they may live on the
 * coroutine's stack.  The request record is on the heap; a cancelled or
 * timed-out call leaves it to the callback, which frees it and any result.
 */
#include "config.h"

#include <stdlib.h>

#include "uv-internal.h"

typedef struct exco__uv_dns {
  uv_getaddrinfo_t req;
  exco__uv_op op;
  int abandoned;
  struct addrinfo *res;
} exco__uv_dns;

static void exco__uv_dns_cb(uv_getaddrinfo_t *req, int status,
                            struct addrinfo *res) {
  exco__uv_dns *q = exco__uv_container_of(req, exco__uv_dns, req);

  if (q->abandoned) {
    if (res != NULL)
      uv_freeaddrinfo(res);
    free(q);
    return;
  }
  q->res = res;
  exco__uv_op_complete(&q->op, status);
}

int exco_uv_getaddrinfo_timeout(const char *node, const char *service,
                                const struct addrinfo *hints,
                                struct addrinfo **res, uint64_t timeout_ms) {
  exco__uv_dns *q;
  uv_loop_t *loop;
  int err;

  if ((node == NULL && service == NULL) || res == NULL)
    return EXCO_EINVAL;
  q = exco__uv_enter_alloc(&loop, sizeof(*q), &err);
  if (q == NULL)
    return err;
  exco__uv_op_init(&q->op);
  q->abandoned = 0;
  q->res = NULL;
  err = uv_getaddrinfo(loop, &q->req, exco__uv_dns_cb, node, service,
                       hints);
  if (err != 0) {
    free(q);
    return err;
  }
  err = exco__uv_op_wait_or_abandon(&q->op, timeout_ms, &q->abandoned,
                                    (uv_req_t *)&q->req);
  if (err != 0)
    return err;
  err = (int)q->op.result;
  if (err == 0)
    *res = q->res;
  else if (q->res != NULL)
    uv_freeaddrinfo(q->res);
  free(q);
  return err;
}

int exco_uv_getaddrinfo(const char *node, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res) {
  return exco_uv_getaddrinfo_timeout(node, service, hints, res,
                                     EXCO__UV_NO_TIMEOUT);
}
