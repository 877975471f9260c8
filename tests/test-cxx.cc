/*
 * test-cxx.cc -- C++ exceptions in coroutines: each coroutine has its own
 * stack of caught exceptions ("throw;" rethrows its own) and its own
 * std::uncaught_exceptions() count, although the C++ runtime keeps both
 * per thread (src/switch.h swaps them).
 *
 *   - two coroutines each catch an exception, yield inside the catch
 *     block (the other runs, throws and catches its own), then rethrow:
 *     each catches its own again, 1,000 rounds;
 *   - a destructor running during unwinding (uncaught_exceptions() == 1)
 *     awaits; the host between polls, and another coroutine, see 0;
 *   - an exception thrown and caught across many yields on a thread
 *     whose host has an exception of its own in flight.
 *
 * The coroutines record; the asserts come after exco_run() returns.
 */
#include <check.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "exco.h"
#include "exco/driver.h"

namespace {

struct rethrow_rec {
  int id;
  int rounds_ok;
  int wrong;
  int other;
};

void *rethrow_fn(void *arg) {
  rethrow_rec *r = static_cast<rethrow_rec *>(arg);

  for (int i = 0; i < 1000; i++) {
    try {
      throw std::runtime_error("task " + std::to_string(r->id));
    } catch (const std::exception &) {
      exco_yield(); /* the other task throws and catches meanwhile */
      try {
        throw; /* the exception being handled: ours */
      } catch (const std::runtime_error &e) {
        if (std::string(e.what()) == "task " + std::to_string(r->id))
          r->rounds_ok++;
        else
          r->wrong++;
      } catch (...) {
        r->other++;
      }
    }
  }
  return nullptr;
}

void rq_nothing(void *) {
}

/* A run-queue driver whose loop is the test's: there a yield switches to
 * the next kept task directly (src/switch.h), not through the loop. */
exco_driver_ops rq_ops() {
  exco_driver_ops o{};

  o.version = EXCO_DRIVER_VERSION;
  o.name = "cxx";
  o.schedule = rq_nothing;
  o.notify = rq_nothing;
  return o;
}

const exco_driver_ops rq_driver = rq_ops();

/* Runs @ex to the end: exco_run(), or the run queue's loop. */
void run_all(exco_executor *ex, int kind) {
  if (kind == 0) {
    ck_assert_int_eq(exco_run(ex), 0);
    return;
  }
  while (exco_driver_live(ex) > 0)
    ck_assert_int_ge(exco_driver_run(ex, 64), 0);
}

exco_executor *new_executor(int kind) {
  exco_executor *ex;

  if (kind == 0)
    ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  else
    ck_assert_int_eq(exco_driver_executor_new(&ex, &rq_driver, nullptr), 0);
  return ex;
}

START_TEST(rethrow_in_catch_across_yield) {
  for (int kind = 0; kind < 2; kind++) {
    exco_executor *ex = new_executor(kind);
    rethrow_rec a = {1, 0, 0, 0}, b = {2, 0, 0, 0};

    ck_assert_int_eq(exco_spawn(ex, rethrow_fn, &a, nullptr, nullptr), 0);
    ck_assert_int_eq(exco_spawn(ex, rethrow_fn, &b, nullptr, nullptr), 0);
    run_all(ex, kind);
    ck_assert_int_eq(exco_executor_free(ex), 0);
    ck_assert_int_eq(a.rounds_ok, 1000);
    ck_assert_int_eq(b.rounds_ok, 1000);
    ck_assert_int_eq(a.wrong + b.wrong + a.other + b.other, 0);
  }
}
END_TEST

struct uncaught_rec {
  exco_promise *p;   /* resolved by the observer */
  int in_dtor;       /* uncaught_exceptions() in the destructor, before */
  int in_dtor_after; /* and after its await */
  int other_saw;     /* what the observer saw meanwhile */
  int caught;
};

struct waits_in_dtor {
  uncaught_rec *r;
  ~waits_in_dtor() {
    r->in_dtor = std::uncaught_exceptions();
    exco_promise_await(r->p, nullptr);
    r->in_dtor_after = std::uncaught_exceptions();
  }
};

void *unwinder_fn(void *arg) {
  uncaught_rec *r = static_cast<uncaught_rec *>(arg);

  try {
    waits_in_dtor guard{r};
    throw 42;
  } catch (int) {
    r->caught = 1;
  }
  return nullptr;
}

void *observer_fn(void *arg) {
  uncaught_rec *r = static_cast<uncaught_rec *>(arg);

  r->other_saw = std::uncaught_exceptions();
  exco_promise_resolve(r->p, nullptr);
  return nullptr;
}

START_TEST(uncaught_count_is_per_coroutine) {
  exco_executor *ex;
  uncaught_rec r = {nullptr, -1, -1, -1, 0};
  int host_between;

  ck_assert_int_eq(exco_promise_new(&r.p), 0);
  ck_assert_int_eq(exco_executor_new_local(&ex), 0);
  ck_assert_int_eq(exco_spawn(ex, unwinder_fn, &r, nullptr, nullptr), 0);
  /* The unwinder stops in its destructor, mid-unwinding. */
  ck_assert_int_eq(exco_run_until_idle(ex), 1);
  host_between = std::uncaught_exceptions();
  ck_assert_int_eq(exco_spawn(ex, observer_fn, &r, nullptr, nullptr), 0);
  ck_assert_int_eq(exco_run(ex), 0);
  ck_assert_int_eq(exco_executor_free(ex), 0);
  exco_promise_unref(r.p);
  ck_assert_int_eq(r.in_dtor, 1);
  ck_assert_int_eq(r.in_dtor_after, 1);
  ck_assert_int_eq(host_between, 0);
  ck_assert_int_eq(r.other_saw, 0);
  ck_assert_int_eq(r.caught, 1);
}
END_TEST

/* The host is itself inside a catch block while it polls. */
void *plain_thrower(void *arg) {
  int *ok = static_cast<int *>(arg);

  for (int i = 0; i < 100; i++) {
    try {
      throw std::logic_error("inner");
    } catch (const std::logic_error &) {
      exco_yield();
      if (std::current_exception() != nullptr)
        ++*ok;
    }
  }
  return nullptr;
}

START_TEST(host_in_catch_keeps_its_exception) {
  for (int kind = 0; kind < 2; kind++) {
    exco_executor *ex = new_executor(kind);
    int ok = 0;
    std::string host_sees;

    try {
      throw std::runtime_error("host");
    } catch (const std::runtime_error &) {
      /* Two tasks: on the run queue their yields switch directly. */
      ck_assert_int_eq(exco_spawn(ex, plain_thrower, &ok, nullptr, nullptr), 0);
      ck_assert_int_eq(exco_spawn(ex, plain_thrower, &ok, nullptr, nullptr), 0);
      run_all(ex, kind);
      try {
        throw;
      } catch (const std::runtime_error &e) {
        host_sees = e.what();
      }
    }
    ck_assert_int_eq(exco_executor_free(ex), 0);
    ck_assert_int_eq(ok, 200);
    ck_assert_str_eq(host_sees.c_str(), "host");
  }
}
END_TEST

} // namespace

int main() {
  Suite *s = suite_create("cxx");
  TCase *tc = tcase_create("exceptions");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, rethrow_in_catch_across_yield);
  tcase_add_test(tc, uncaught_count_is_per_coroutine);
  tcase_add_test(tc, host_in_catch_keeps_its_exception);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
