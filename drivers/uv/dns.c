/*
 * dns.c -- exco_uv_getaddrinfo() (getaddrinfo on libuv's thread pool).
 *
 * libuv copies node, service and hints, so they may live on the
 * coroutine's stack.  The request record is on the heap; a cancelled or
 * timed-out call leaves it to the callback, which frees it and any result.
 */
#include "config.h"

#include "uv-internal.h"

typedef struct exco__uv_dns {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_getaddrinfo_t req;
  struct addrinfo *res;
} exco__uv_dns;

static void exco__uv_dns_cb(uv_getaddrinfo_t *req, int status,
                            struct addrinfo *res) {
  exco__uv_dns *q = exco__uv_container_of(req, exco__uv_dns, req);

  q->res = res;
  if (exco__uv_req_done(&q->hdr, status)) {
    if (res != NULL)
      uv_freeaddrinfo(res);
    exco__uv_req_release(&q->hdr);
  }
}

int exco_uv_getaddrinfo_timeout(const char *node, const char *service,
                                const struct addrinfo *hints,
                                struct addrinfo **res, uint64_t timeout_ms) {
  exco__uv_dns *q;
  uv_loop_t *loop;
  int err;

  if ((node == NULL && service == NULL) || res == NULL)
    return EXCO_EINVAL;
  q = exco__uv_req_alloc(sizeof(*q), &loop, &err);
  if (q == NULL)
    return err;
  q->res = NULL;
  err = exco__uv_req_submitted(
      &q->hdr,
      uv_getaddrinfo(loop, &q->req, exco__uv_dns_cb, node, service, hints),
      timeout_ms, (uv_req_t *)&q->req);
  if (err != 0)
    return err;
  err = (int)q->hdr.op.result;
  if (err == 0)
    *res = q->res;
  else if (q->res != NULL)
    uv_freeaddrinfo(q->res);
  exco__uv_req_release(&q->hdr);
  return err;
}

int exco_uv_getaddrinfo(const char *node, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res) {
  return exco_uv_getaddrinfo_timeout(node, service, hints, res,
                                     EXCO__UV_NO_TIMEOUT);
}
