/*
 * fs.c -- file system awaitables on libuv's thread pool.
 *
 * Each call allocates one record holding the uv_fs_t, the operation and,
 * for reads and writes, a private copy of the data.  A thread-pool job
 * can't be stopped once it runs, so a cancelled or timed-out call marks
 * the record abandoned, asks uv_cancel() to take the job off the queue if
 * it has not started, and leaves the record to the callback, which frees
 * it and undoes a result nobody will see (closes a file that the
 * abandoned open did open).  The caller's buffer is never lent to the
 * thread pool: a late read can't land in memory the coroutine has moved
 * on from.
 */
#include "config.h"

#include <stdatomic.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uv-internal.h"

typedef struct exco__uv_fs {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_fs_t req;
  char buf[]; /* the private copy of read or written data */
} exco__uv_fs;

/* Largest transfer per call: uv_buf_t lengths are unsigned int on some
 * platforms, and reads and writes may be short anyway. */
#define EXCO__UV_FS_MAX ((size_t)INT_MAX)

static void exco__uv_fs_release(exco__uv_req *r) {
  exco__uv_fs *f = exco__uv_container_of(r, exco__uv_fs, hdr);

  uv_fs_req_cleanup(&f->req);
  free(f);
}

static void exco__uv_fs_cb(uv_fs_t *req) {
  exco__uv_fs *f = exco__uv_container_of(req, exco__uv_fs, req);

  if (!exco__uv_req_done(&f->hdr, req->result))
    return;
  if (req->fs_type == UV_FS_OPEN && req->result >= 0) {
    uv_fs_t c;

    uv_fs_close(req->loop, &c, (uv_file)req->result, NULL);
    uv_fs_req_cleanup(&c);
  }
  if (req->fs_type == UV_FS_CLOSE && req->result == UV_ECANCELED) {
    /* Taken off the queue before it ran: a close must still close. */
    uv_fs_t c;

    uv_fs_close(req->loop, &c, req->file, NULL);
    uv_fs_req_cleanup(&c);
  }
  exco__uv_req_release(&f->hdr);
}

/*
 * A new record with room for @extra bytes of private buffer, after the
 * entry check unless @loop is NULL (see exco__uv_req_alloc()).  NULL with
 * the error in *@err.
 */
static exco__uv_fs *exco__uv_fs_new(uv_loop_t **loop, size_t extra, int *err) {
  exco__uv_fs *f = exco__uv_req_alloc(sizeof(*f) + extra, loop, err);

  if (f != NULL)
    f->hdr.release = exco__uv_fs_release;
  return f;
}

/* Waits for the request @f was submitted with (@submitted is the submit
 * call's return), as exco__uv_req_submitted(). */
static int exco__uv_fs_wait(exco__uv_fs *f, int submitted,
                            uint64_t timeout_ms) {
  return exco__uv_req_submitted(&f->hdr, submitted, timeout_ms,
                                (uv_req_t *)&f->req);
}

/* Waits, then returns the request's result and releases @f. */
static ssize_t exco__uv_fs_simple(exco__uv_fs *f, int submitted,
                                  uint64_t timeout_ms) {
  return exco__uv_req_result(&f->hdr, submitted, timeout_ms,
                             (uv_req_t *)&f->req);
}

int exco_uv_fs_open_timeout(const char *path, int flags, int mode,
                            uint64_t timeout_ms) {
  exco__uv_fs *f;
  uv_loop_t *loop;
  int err;

  if (path == NULL)
    return EXCO_EINVAL;
  f = exco__uv_fs_new(&loop, 0, &err);
  if (f == NULL)
    return err;
  return (int)exco__uv_fs_simple(
      f, uv_fs_open(loop, &f->req, path, flags, mode, exco__uv_fs_cb),
      timeout_ms);
}

int exco_uv_fs_open(const char *path, int flags, int mode) {
  return exco_uv_fs_open_timeout(path, flags, mode, EXCO__UV_NO_TIMEOUT);
}

int exco_uv_fs_close_timeout(uv_file fd, uint64_t timeout_ms) {
  exco__uv_fs *f;
  uv_loop_t *loop;
  int err;

  err = exco__uv_enter(&loop);
  if (err == EXCO_ECANCELED) {
    /* Clean-up code of a cancelled task must be able to release what it
     * holds: close at once, on this thread (close(2) of a file is
     * quick), instead of refusing. */
    uv_fs_t req;

    err = uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    return err;
  }
  if (err != 0)
    return err;
  f = exco__uv_fs_new(NULL, 0, &err);
  if (f == NULL)
    return err;
  return (int)exco__uv_fs_simple(
      f, uv_fs_close(loop, &f->req, fd, exco__uv_fs_cb), timeout_ms);
}

int exco_uv_fs_close(uv_file fd) {
  return exco_uv_fs_close_timeout(fd, EXCO__UV_NO_TIMEOUT);
}

ssize_t exco_uv_fs_read_timeout(uv_file fd, void *buf, size_t len,
                                int64_t offset, uint64_t timeout_ms) {
  exco__uv_fs *f;
  uv_loop_t *loop;
  uv_buf_t b;
  ssize_t res;
  int err;

  if (buf == NULL && len != 0)
    return EXCO_EINVAL;
  if (len > EXCO__UV_FS_MAX)
    len = EXCO__UV_FS_MAX;
  f = exco__uv_fs_new(&loop, len, &err);
  if (f == NULL)
    return err;
  b = uv_buf_init(f->buf, (unsigned int)len);
  err = exco__uv_fs_wait(
      f, uv_fs_read(loop, &f->req, fd, &b, 1, offset, exco__uv_fs_cb),
      timeout_ms);
  if (err != 0)
    return err;
  res = f->req.result;
  if (res > 0)
    memcpy(buf, f->buf, (size_t)res);
  exco__uv_req_release(&f->hdr);
  return res;
}

ssize_t exco_uv_fs_read(uv_file fd, void *buf, size_t len, int64_t offset) {
  return exco_uv_fs_read_timeout(fd, buf, len, offset, EXCO__UV_NO_TIMEOUT);
}

ssize_t exco_uv_fs_write_timeout(uv_file fd, const void *buf, size_t len,
                                 int64_t offset, uint64_t timeout_ms) {
  exco__uv_fs *f;
  uv_loop_t *loop;
  uv_buf_t b;
  int err;

  if (buf == NULL && len != 0)
    return EXCO_EINVAL;
  if (len > EXCO__UV_FS_MAX)
    len = EXCO__UV_FS_MAX;
  f = exco__uv_fs_new(&loop, len, &err);
  if (f == NULL)
    return err;
  if (len > 0)
    memcpy(f->buf, buf, len);
  b = uv_buf_init(f->buf, (unsigned int)len);
  return exco__uv_fs_simple(
      f, uv_fs_write(loop, &f->req, fd, &b, 1, offset, exco__uv_fs_cb),
      timeout_ms);
}

ssize_t exco_uv_fs_write(uv_file fd, const void *buf, size_t len,
                         int64_t offset) {
  return exco_uv_fs_write_timeout(fd, buf, len, offset, EXCO__UV_NO_TIMEOUT);
}

int exco_uv_fs_stat_timeout(const char *path, uv_stat_t *out,
                            uint64_t timeout_ms) {
  exco__uv_fs *f;
  uv_loop_t *loop;
  int err;

  if (path == NULL || out == NULL)
    return EXCO_EINVAL;
  f = exco__uv_fs_new(&loop, 0, &err);
  if (f == NULL)
    return err;
  err = exco__uv_fs_wait(f, uv_fs_stat(loop, &f->req, path, exco__uv_fs_cb),
                         timeout_ms);
  if (err != 0)
    return err;
  err = (int)f->req.result;
  if (err == 0)
    *out = f->req.statbuf;
  exco__uv_req_release(&f->hdr);
  return err;
}

int exco_uv_fs_stat(const char *path, uv_stat_t *out) {
  return exco_uv_fs_stat_timeout(path, out, EXCO__UV_NO_TIMEOUT);
}

int exco_uv_fs_unlink_timeout(const char *path, uint64_t timeout_ms) {
  exco__uv_fs *f;
  uv_loop_t *loop;
  int err;

  if (path == NULL)
    return EXCO_EINVAL;
  f = exco__uv_fs_new(&loop, 0, &err);
  if (f == NULL)
    return err;
  return (int)exco__uv_fs_simple(
      f, uv_fs_unlink(loop, &f->req, path, exco__uv_fs_cb), timeout_ms);
}

int exco_uv_fs_unlink(const char *path) {
  return exco_uv_fs_unlink_timeout(path, EXCO__UV_NO_TIMEOUT);
}

/* ---------------------------------------------------------------------- */
/* Whole files: one thread-pool job does open, read to EOF, close          */
/* ---------------------------------------------------------------------- */

typedef struct exco__uv_rf {
  exco__uv_req hdr; /* first: see exco__uv_req_alloc() */
  uv_work_t req;
  int err;
  char *data;
  size_t len;
  size_t max;      /* the most bytes the file may have */
  atomic_int stop; /* the caller gave up: stop reading */
  char path[];
} exco__uv_rf;

static int exco__uv_rf_errno(void) {
  return uv_translate_sys_error(errno);
}

static void exco__uv_rf_work(uv_work_t *req) {
  exco__uv_rf *rf = exco__uv_container_of(req, exco__uv_rf, req);
  struct stat st;
  size_t cap = 4096, len = 0;
  char *data, *n;
  ssize_t r;
  int fd;

  do
    fd = open(rf->path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    rf->err = exco__uv_rf_errno();
    return;
  }
  /* The size is only a hint: files in /proc say 0 and files grow. */
  if (fstat(fd, &st) == 0 && st.st_size > 0 &&
      (uintmax_t)st.st_size < (uintmax_t)SIZE_MAX - 1) {
    if ((uintmax_t)st.st_size > (uintmax_t)rf->max) {
      rf->err = UV_EFBIG;
      close(fd);
      return;
    }
    cap = (size_t)st.st_size + 1;
  }
  data = malloc(cap);
  if (data == NULL) {
    rf->err = EXCO_ENOMEM;
    close(fd);
    return;
  }
  for (;;) {
    if (len + 1 >= cap) {
      if (cap > SIZE_MAX / 2) {
        rf->err = EXCO_ENOMEM;
        break;
      }
      n = realloc(data, cap * 2);
      if (n == NULL) {
        rf->err = EXCO_ENOMEM;
        break;
      }
      data = n;
      cap *= 2;
    }
    /* An abandoned read stops here, at its next chunk, instead of
     * reading on (from /dev/zero, a pipe that never ends) for nobody. */
    if (atomic_load_explicit(&rf->stop, memory_order_relaxed)) {
      rf->err = UV_ECANCELED;
      break;
    }
    r = read(fd, data + len, cap - 1 - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rf->err = exco__uv_rf_errno();
      break;
    }
    if (r == 0)
      break;
    len += (size_t)r;
    if (len > rf->max) {
      rf->err = UV_EFBIG;
      break;
    }
  }
  close(fd);
  if (rf->err != 0) {
    free(data);
    return;
  }
  data[len] = '\0';
  rf->data = data;
  rf->len = len;
}

static void exco__uv_rf_after(uv_work_t *req, int status) {
  exco__uv_rf *rf = exco__uv_container_of(req, exco__uv_rf, req);

  if (exco__uv_req_done(&rf->hdr, status < 0 ? status : rf->err)) {
    free(rf->data);
    exco__uv_req_release(&rf->hdr);
  }
}

int exco_uv_fs_read_file_max(const char *path, char **data, size_t *len,
                             size_t max, uint64_t timeout_ms) {
  exco__uv_rf *rf;
  uv_loop_t *loop;
  size_t plen;
  int err, sub;

  if (path == NULL || data == NULL)
    return EXCO_EINVAL;
  plen = strlen(path) + 1;
  rf = exco__uv_req_alloc(sizeof(*rf) + plen, &loop, &err);
  if (rf == NULL)
    return err;
  memcpy(rf->path, path, plen);
  rf->err = 0;
  rf->data = NULL;
  rf->len = 0;
  rf->max = max != 0 ? max : EXCO_UV_READ_FILE_MAX;
  atomic_init(&rf->stop, 0);
  sub = uv_queue_work(loop, &rf->req, exco__uv_rf_work, exco__uv_rf_after);
  err = exco__uv_req_submitted(&rf->hdr, sub, timeout_ms, (uv_req_t *)&rf->req);
  if (err != 0) {
    /* Abandoned to the callback (which runs on this thread, after this
     * poll): tell the worker to stop.  A failed submit freed rf. */
    if (sub == 0)
      atomic_store_explicit(&rf->stop, 1, memory_order_relaxed);
    return err;
  }
  err = (int)rf->hdr.op.result;
  if (err == 0) {
    *data = rf->data;
    if (len != NULL)
      *len = rf->len;
  }
  exco__uv_req_release(&rf->hdr);
  return err;
}

int exco_uv_fs_read_file_timeout(const char *path, char **data, size_t *len,
                                 uint64_t timeout_ms) {
  return exco_uv_fs_read_file_max(path, data, len, 0, timeout_ms);
}

int exco_uv_fs_read_file(const char *path, char **data, size_t *len) {
  return exco_uv_fs_read_file_timeout(path, data, len, EXCO__UV_NO_TIMEOUT);
}
