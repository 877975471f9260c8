/*
 * test-uv-fs.c -- the thread-pool awaitables: file system round trips on
 * temporary files (mkstemp in /tmp), whole-file reads, errors,
 * getaddrinfo on localhost, exco_uv_work and exco_uv_signal.
 *
 * Coroutines record results in plain variables; asserts come after
 * uv_run() returns.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "exco/uv.h"
#include "harness.h"
#include "uv-harness.h"

/* Makes an empty temporary file; returns its path in @path. */
static void make_temp(char *path, size_t size) {
  int fd;

  snprintf(path, size, "/tmp/exco-test-uv-fs-XXXXXX");
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  close(fd);
}

/* ---------------------------------------------------------------------- */
/* Round trip                                                              */
/* ---------------------------------------------------------------------- */

#define BIG (1024 * 1024 + 7)

typedef struct rt {
  char path[64];
  /* Results, checked by the test. */
  int step; /* last step reached */
  int err;  /* first error */
  ssize_t n1, n2, n3, n4;
  char small[32];
  int big_ok;
  int file_ok;
  size_t file_len;
  int64_t st_size;
  int stat_after_unlink;
  int reopen_err;
} rt;

#define STEP(r, expr)                                                          \
  do {                                                                         \
    (r)->step++;                                                               \
    if ((expr) < 0) {                                                          \
      (r)->err = (int)(expr);                                                  \
      goto out;                                                                \
    }                                                                          \
  } while (0)

static void *round_trip(void *arg) {
  rt *r = arg;
  char *big = malloc(BIG), *back = malloc(BIG), *whole = NULL;
  uv_stat_t st;
  size_t i;
  int fd = -1;

  for (i = 0; i < BIG; i++)
    big[i] = (char)(i * 131 + 7);
  fd = exco_uv_fs_open(r->path, O_RDWR | O_TRUNC, 0600);
  STEP(r, fd);
  STEP(r, r->n1 = exco_uv_fs_write(fd, "hello, ", 7, -1));
  STEP(r, r->n2 = exco_uv_fs_write(fd, "world", 5, -1));
  STEP(r, r->n3 = exco_uv_fs_read(fd, r->small, sizeof(r->small) - 1, 0));
  r->small[r->n3 > 0 ? r->n3 : 0] = '\0';
  /* A megabyte at an offset past the text, read back in one call. */
  STEP(r, r->n4 = exco_uv_fs_write(fd, big, BIG, 100));
  STEP(r, exco_uv_fs_read(fd, back, BIG, 100));
  r->big_ok = memcmp(big, back, BIG) == 0;
  STEP(r, exco_uv_fs_close(fd));
  fd = -1;
  STEP(r, exco_uv_fs_stat(r->path, &st));
  r->st_size = (int64_t)st.st_size;
  STEP(r, exco_uv_fs_read_file(r->path, &whole, &r->file_len));
  r->file_ok = r->file_len == 100 + (size_t)BIG &&
               memcmp(whole, "hello, world", 12) == 0 &&
               memcmp(whole + 100, big, BIG) == 0 && whole[r->file_len] == '\0';
  STEP(r, exco_uv_fs_unlink(r->path));
  r->stat_after_unlink = exco_uv_fs_stat(r->path, &st);
  r->reopen_err = exco_uv_fs_open(r->path, O_RDONLY, 0);
  r->step = 100;
out:
  if (fd >= 0)
    exco_uv_fs_close(fd);
  free(whole);
  free(big);
  free(back);
  return NULL;
}

START_TEST(fs_round_trip) {
  rt r;

  memset(&r, 0, sizeof(r));
  make_temp(r.path, sizeof(r.path));
  tl_run_one(round_trip, &r);
  ck_assert_int_eq(r.err, 0);
  ck_assert_int_eq(r.step, 100);
  ck_assert_int_eq(r.n1, 7);
  ck_assert_int_eq(r.n2, 5);
  ck_assert_int_eq(r.n3, 12);
  ck_assert_str_eq(r.small, "hello, world");
  ck_assert_int_eq(r.n4, BIG);
  ck_assert_int_eq(r.big_ok, 1);
  ck_assert_int_eq(r.st_size, 100 + BIG);
  ck_assert_int_eq(r.file_ok, 1);
  ck_assert_int_eq(r.stat_after_unlink, UV_ENOENT);
  ck_assert_int_eq(r.reopen_err, UV_ENOENT);
  ck_assert_int_eq(access(r.path, F_OK), -1);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Errors and special files                                                */
/* ---------------------------------------------------------------------- */

typedef struct errs {
  int open_missing;
  ssize_t read_badfd;
  ssize_t write_badfd;
  int close_badfd;
  int unlink_missing;
  int read_file_missing;
  int read_file_dir;
  int proc_err;
  size_t proc_len;
  int proc_has_name;
  int null_path;
  ssize_t read_zero;
} errs;

static void *error_cases(void *arg) {
  errs *e = arg;
  char buf[8], *text = NULL;
  uv_stat_t st;

  e->open_missing = exco_uv_fs_open("/nonexistent/exco", O_RDONLY, 0);
  e->read_badfd = exco_uv_fs_read(-1, buf, sizeof(buf), -1);
  e->write_badfd = exco_uv_fs_write(-1, "x", 1, -1);
  e->close_badfd = exco_uv_fs_close(-1);
  e->unlink_missing = exco_uv_fs_unlink("/nonexistent/exco");
  e->read_file_missing = exco_uv_fs_read_file("/nonexistent/exco", &text, NULL);
  e->read_file_dir = exco_uv_fs_read_file("/tmp", &text, NULL);
  /* /proc files say size 0: read_file reads to EOF anyway. */
  e->proc_err = exco_uv_fs_read_file("/proc/self/status", &text, &e->proc_len);
  if (e->proc_err == 0) {
    e->proc_has_name = strstr(text, "Name:") != NULL;
    free(text);
  }
  e->null_path = exco_uv_fs_stat(NULL, &st);
  e->read_zero = exco_uv_fs_read(0, buf, 0, -1);
  return NULL;
}

START_TEST(fs_errors) {
  errs e;

  memset(&e, 0x55, sizeof(e));
  tl_run_one(error_cases, &e);
  ck_assert_int_eq(e.open_missing, UV_ENOENT);
  ck_assert_int_eq(e.read_badfd, UV_EBADF);
  ck_assert_int_eq(e.write_badfd, UV_EBADF);
  ck_assert_int_eq(e.close_badfd, UV_EBADF);
  ck_assert_int_eq(e.unlink_missing, UV_ENOENT);
  ck_assert_int_eq(e.read_file_missing, UV_ENOENT);
  ck_assert_int_eq(e.read_file_dir, UV_EISDIR);
  ck_assert_int_eq(e.proc_err, 0);
  ck_assert_uint_gt(e.proc_len, 0);
  ck_assert_int_eq(e.proc_has_name, 1);
  ck_assert_int_eq(e.null_path, EXCO_EINVAL);
  ck_assert_int_eq(e.read_zero, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Many concurrent requests                                                */
/* ---------------------------------------------------------------------- */

#define FILES 64

typedef struct file_job {
  char path[64];
  int ok;
} file_job;

static void *write_read_unlink(void *arg) {
  file_job *j = arg;
  char text[64], *back = NULL;
  size_t len = 0;
  int fd, n;

  n = snprintf(text, sizeof(text), "file %s", j->path);
  fd = exco_uv_fs_open(j->path, O_WRONLY | O_TRUNC, 0600);
  if (fd < 0)
    return NULL;
  if (exco_uv_fs_write(fd, text, (size_t)n, 0) != n) {
    exco_uv_fs_close(fd);
    return NULL;
  }
  if (exco_uv_fs_close(fd) != 0)
    return NULL;
  if (exco_uv_fs_read_file(j->path, &back, &len) != 0)
    return NULL;
  j->ok = len == (size_t)n && memcmp(back, text, len) == 0 &&
          exco_uv_fs_unlink(j->path) == 0;
  free(back);
  return NULL;
}

START_TEST(fs_concurrent) {
  static file_job jobs[FILES];
  tloop t;
  int i;

  tl_init(&t);
  for (i = 0; i < FILES; i++) {
    make_temp(jobs[i].path, sizeof(jobs[i].path));
    jobs[i].ok = 0;
    tl_spawn(&t, write_read_unlink, &jobs[i], NULL);
  }
  tl_run(&t);
  for (i = 0; i < FILES; i++) {
    ck_assert_int_eq(jobs[i].ok, 1);
    ck_assert_int_eq(access(jobs[i].path, F_OK), -1);
  }
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* DNS                                                                     */
/* ---------------------------------------------------------------------- */

typedef struct dns_job {
  int err;
  int found_loopback;
  int port_ok;
  int numeric_err;
  int both_null;
} dns_job;

static void *resolve(void *arg) {
  dns_job *j = arg;
  struct addrinfo hints, *res = NULL, *ai;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  j->err = exco_uv_getaddrinfo("localhost", "7", &hints, &res);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;

    if (ai->ai_family == AF_INET &&
        sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
      j->found_loopback = 1;
    if (ai->ai_family == AF_INET && ntohs(sin->sin_port) == 7)
      j->port_ok = 1;
  }
  if (res != NULL)
    uv_freeaddrinfo(res);
  /* No network here: a numeric-only lookup of a name fails at once. */
  hints.ai_flags = AI_NUMERICHOST;
  res = NULL;
  j->numeric_err = exco_uv_getaddrinfo("not-a-number", NULL, &hints, &res);
  if (res != NULL)
    uv_freeaddrinfo(res);
  j->both_null = exco_uv_getaddrinfo(NULL, NULL, NULL, &res);
  return NULL;
}

START_TEST(dns_localhost) {
  dns_job j;

  memset(&j, 0, sizeof(j));
  j.err = -1;
  tl_run_one(resolve, &j);
  ck_assert_int_eq(j.err, 0);
  ck_assert_int_eq(j.found_loopback, 1);
  ck_assert_int_eq(j.port_ok, 1);
  ck_assert_int_eq(j.numeric_err, UV_EAI_NONAME);
  ck_assert_int_eq(j.both_null, EXCO_EINVAL);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Work on the thread pool                                                 */
/* ---------------------------------------------------------------------- */

typedef struct sum_job {
  long n;
  long sum;
  pthread_t ran_on;
} sum_job;

static void sum_work(void *arg) {
  sum_job *j = arg;
  long i;

  j->sum = 0;
  for (i = 1; i <= j->n; i++)
    j->sum += i;
  j->ran_on = pthread_self();
}

typedef struct work_result {
  int err[8];
  long sum[8];
  int other_thread;
  int null_fn;
} work_result;

static pthread_t loop_thread;

static void *do_work(void *arg) {
  work_result *w = arg;
  sum_job jobs[8];
  int i;

  w->other_thread = 1;
  for (i = 0; i < 8; i++) {
    jobs[i].n = 1000 * (i + 1);
    w->err[i] = exco_uv_work(sum_work, &jobs[i], NULL);
    w->sum[i] = jobs[i].sum;
    if (pthread_equal(jobs[i].ran_on, loop_thread))
      w->other_thread = 0;
  }
  w->null_fn = exco_uv_work(NULL, NULL, NULL);
  return NULL;
}

START_TEST(work_runs_on_pool) {
  work_result w;
  int i;

  memset(&w, 0, sizeof(w));
  loop_thread = pthread_self();
  tl_run_one(do_work, &w);
  for (i = 0; i < 8; i++) {
    long n = 1000L * (i + 1);

    ck_assert_int_eq(w.err[i], 0);
    ck_assert_int_eq(w.sum[i], n * (n + 1) / 2);
  }
  ck_assert_int_eq(w.other_thread, 1);
  ck_assert_int_eq(w.null_fn, EXCO_EINVAL);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Signals                                                                 */
/* ---------------------------------------------------------------------- */

static int sig_err = -1, bad_sig_err;

static void *wait_sigusr2(void *arg) {
  (void)arg;
  sig_err = exco_uv_signal(SIGUSR2);
  bad_sig_err = exco_uv_signal(-5);
  return NULL;
}

static void *send_sigusr2(void *arg) {
  (void)arg;
  /* Spawned after the waiter, so polled after its handler is in place. */
  uv_kill(getpid(), SIGUSR2);
  return NULL;
}

START_TEST(signal_delivered) {
  tloop t;

  tl_init(&t);
  tl_spawn(&t, wait_sigusr2, NULL, NULL);
  tl_spawn(&t, send_sigusr2, NULL, NULL);
  tl_run(&t);
  ck_assert_int_eq(sig_err, 0);
  ck_assert_int_eq(bad_sig_err, UV_EINVAL);
  tl_fini(&t);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* read_file: the size limit, and a read given up stops reading             */
/* ---------------------------------------------------------------------- */

typedef struct capped {
  int zero_err;  /* /dev/zero with a 1 MiB limit */
  int small_err; /* a 12-byte file with an 11-byte limit */
  int exact_err; /* the same file with a 12-byte limit */
  size_t exact_len;
  char path[64];
} capped;

static void *read_capped(void *arg) {
  capped *c = arg;
  char *data = NULL;

  c->zero_err = exco_uv_fs_read_file_max("/dev/zero", &data, NULL, 1 << 20,
                                         EXCO_UV_NO_TIMEOUT);
  c->small_err =
      exco_uv_fs_read_file_max(c->path, &data, NULL, 11, EXCO_UV_NO_TIMEOUT);
  c->exact_err = exco_uv_fs_read_file_max(c->path, &data, &c->exact_len, 12,
                                          EXCO_UV_NO_TIMEOUT);
  free(data);
  return NULL;
}

START_TEST(read_file_limit) {
  capped c;
  int fd;

  memset(&c, 0, sizeof(c));
  snprintf(c.path, sizeof(c.path), "/tmp/exco-cap-%d", (int)getpid());
  fd = open(c.path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "hello, world", 12), 12);
  close(fd);
  tl_run_one(read_capped, &c);
  unlink(c.path);
  ck_assert_int_eq(c.zero_err, UV_EFBIG);
  ck_assert_int_eq(c.small_err, UV_EFBIG);
  ck_assert_int_eq(c.exact_err, 0);
  ck_assert_uint_eq(c.exact_len, 12);
}
END_TEST

/*
 * A FIFO whose writer starts only once the reading coroutine has given up
 * (its timeout): the abandoned job must stop at its next chunk and close
 * the FIFO, which the writer sees as EPIPE.  Without the stop it would
 * read on, and the writer would give up after 64 MiB.
 */
#define FIFO_CHUNK 4096
#define FIFO_GIVE_UP ((long)64 * 1024 * 1024)

typedef struct fifo_run {
  char path[64];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int gave_up; /* set by the coroutine after its timeout */
  int read_err;
  long written;
  int write_errno;
} fifo_run;

static void *fifo_writer(void *arg) {
  fifo_run *f = arg;
  char chunk[FIFO_CHUNK];
  int fd;

  memset(chunk, 'x', sizeof(chunk));
  fd = open(f->path, O_WRONLY); /* waits for the job's open */
  if (fd < 0) {
    f->write_errno = errno;
    return NULL;
  }
  pthread_mutex_lock(&f->mu);
  while (!f->gave_up)
    pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
  while (f->written < FIFO_GIVE_UP) {
    if (write(fd, chunk, sizeof(chunk)) < 0) {
      f->write_errno = errno;
      break;
    }
    f->written += FIFO_CHUNK;
  }
  close(fd);
  return NULL;
}

static void *fifo_reader(void *arg) {
  fifo_run *f = arg;
  char *data = NULL;

  f->read_err = exco_uv_fs_read_file_timeout(f->path, &data, NULL, 50);
  pthread_mutex_lock(&f->mu);
  f->gave_up = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  free(data);
  return NULL;
}

START_TEST(read_file_given_up_stops_reading) {
  struct sigaction ign, old;
  pthread_t th;
  fifo_run f;

  memset(&f, 0, sizeof(f));
  pthread_mutex_init(&f.mu, NULL);
  pthread_cond_init(&f.cv, NULL);
  snprintf(f.path, sizeof(f.path), "/tmp/exco-fifo-%d", (int)getpid());
  unlink(f.path);
  ck_assert_int_eq(mkfifo(f.path, 0600), 0);
  memset(&ign, 0, sizeof(ign));
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);
  h_thread_start(&th, fifo_writer, &f);
  /* uv_run returns once the abandoned job has ended too. */
  tl_run_one(fifo_reader, &f);
  h_thread_join(th);
  sigaction(SIGPIPE, &old, NULL);
  unlink(f.path);
  pthread_mutex_destroy(&f.mu);
  pthread_cond_destroy(&f.cv);
  ck_assert_int_eq(f.read_err, EXCO_ETIMEDOUT);
  ck_assert_int_eq(f.write_errno, EPIPE);
  ck_assert_int_lt(f.written, FIFO_GIVE_UP);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uv-fs");
  TCase *tc = h_tcase("fs", 60);

  tcase_add_test(tc, fs_round_trip);
  tcase_add_test(tc, fs_errors);
  tcase_add_test(tc, fs_concurrent);
  tcase_add_test(tc, read_file_limit);
  tcase_add_test(tc, read_file_given_up_stops_reading);
  tcase_add_test(tc, dns_localhost);
  tcase_add_test(tc, work_runs_on_pool);
  tcase_add_test(tc, signal_delivered);
  suite_add_tcase(s, tc);
  return h_run_suite(s);
}
