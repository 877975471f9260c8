## tests/local.mk -- the Check test suite (included from Makefile.am).
##
## One Check binary per area of the core, all linked with a small harness
## (tests/harness.{h,c}: a recording host driver, a flag future, a counting
## and failing allocator, a per-test watchdog).
##
## Environment understood by the test binaries:
##   EXCO_TEST_VALGRIND=1      set by check-valgrind: stress loops are scaled
##                             down and the vm.max_map_count exhaustion test
##                             is skipped (valgrind has its own mapping
##                             limits).
##   EXCO_TEST_SKIP_EXHAUST=1  skips only the exhaustion test (always
##                             skipped in ASan and TSan builds: their
##                             runtimes abort without mappings or fibers).
##   EXCO_TEST_WATCHDOG=N      kills a hung test after N seconds (default
##                             120, x5 under valgrind; 0 disables).
## and Check's own CK_FORK, CK_VERBOSITY, CK_RUN_SUITE, CK_RUN_CASE,
## CK_TIMEOUT_MULTIPLIER.

if HAVE_CHECK

check_LTLIBRARIES += %reldir%/libharness.la
%canon_reldir%_libharness_la_SOURCES = %reldir%/harness.c %reldir%/harness.h
%canon_reldir%_libharness_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

## Flags every test binary uses.
exco_test_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS)
exco_test_ldadd = %reldir%/libharness.la src/libexco.la $(CHECK_LIBS) \
	-lpthread

exco_core_tests = \
	%reldir%/test-contract \
	%reldir%/test-await \
	%reldir%/test-host-call \
	%reldir%/test-threads \
	%reldir%/test-overflow \
	%reldir%/test-fork \
	%reldir%/test-debug \
	%reldir%/test-wake \
	%reldir%/test-cancel \
	%reldir%/test-promise \
	%reldir%/test-join \
	%reldir%/test-executor \
	%reldir%/test-stack \
	%reldir%/test-oom \
	%reldir%/test-races \
	%reldir%/test-context \
	%reldir%/test-chan \
	%reldir%/test-select \
	%reldir%/test-sync \
	%reldir%/test-scope

check_PROGRAMS += $(exco_core_tests)
TESTS += $(exco_core_tests)

%canon_reldir%_test_races_SOURCES = %reldir%/test-races.c
%canon_reldir%_test_races_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_races_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_contract_SOURCES = %reldir%/test-contract.c
%canon_reldir%_test_contract_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_contract_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_await_SOURCES = %reldir%/test-await.c
%canon_reldir%_test_await_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_await_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_host_call_SOURCES = %reldir%/test-host-call.c
%canon_reldir%_test_host_call_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_host_call_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_threads_SOURCES = %reldir%/test-threads.c
%canon_reldir%_test_threads_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_threads_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_overflow_SOURCES = %reldir%/test-overflow.c
%canon_reldir%_test_overflow_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_overflow_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_fork_SOURCES = %reldir%/test-fork.c
%canon_reldir%_test_fork_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_fork_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_debug_SOURCES = %reldir%/test-debug.c
%canon_reldir%_test_debug_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_debug_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_wake_SOURCES = %reldir%/test-wake.c
%canon_reldir%_test_wake_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_wake_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_cancel_SOURCES = %reldir%/test-cancel.c
%canon_reldir%_test_cancel_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_cancel_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_promise_SOURCES = %reldir%/test-promise.c
%canon_reldir%_test_promise_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_promise_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_join_SOURCES = %reldir%/test-join.c
%canon_reldir%_test_join_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_join_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_executor_SOURCES = %reldir%/test-executor.c
%canon_reldir%_test_executor_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_executor_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_context_SOURCES = %reldir%/test-context.c
%canon_reldir%_test_context_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_context_LDADD = $(exco_test_ldadd) -lm

%canon_reldir%_test_stack_SOURCES = %reldir%/test-stack.c
%canon_reldir%_test_stack_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_stack_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_chan_SOURCES = %reldir%/test-chan.c
%canon_reldir%_test_chan_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_chan_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_select_SOURCES = %reldir%/test-select.c
%canon_reldir%_test_select_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_select_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_sync_SOURCES = %reldir%/test-sync.c
%canon_reldir%_test_sync_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_sync_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_scope_SOURCES = %reldir%/test-scope.c
%canon_reldir%_test_scope_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_scope_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_oom_SOURCES = %reldir%/test-oom.c
%canon_reldir%_test_oom_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_oom_LDADD = $(exco_test_ldadd)

## Every test binary (check_PROGRAMS, so the driver tests appended below
## are included) under valgrind memcheck, in one process each (CK_FORK=no)
## so valgrind sees the tests themselves.  VALGRIND_FLAGS adds options;
## tests/valgrind.supp says what is suppressed and why.
check-valgrind: $(check_PROGRAMS)
	@failed=; \
	for t in $(check_PROGRAMS); do \
	  echo "valgrind: $$t"; \
	  CK_FORK=no EXCO_TEST_VALGRIND=1 \
	    $(LIBTOOL) --mode=execute valgrind -q --error-exitcode=1 \
	      --leak-check=full --suppressions=$(srcdir)/%reldir%/valgrind.supp \
	      $(VALGRIND_FLAGS) ./$$t \
	    || failed="$$failed $$t"; \
	done; \
	if test -n "$$failed"; then \
	  echo "check-valgrind: FAILED:$$failed" >&2; exit 1; \
	fi; \
	echo "check-valgrind: all passed"

else !HAVE_CHECK

check-valgrind: check-local

endif !HAVE_CHECK

.PHONY: check-valgrind

## Programs built outside the tree against an installed exco (.ci/run).
EXTRA_DIST += %reldir%/valgrind.supp
EXTRA_DIST += %reldir%/outside.sh %reldir%/outside/promise.c \
	%reldir%/outside/echo.c %reldir%/outside/yield.c \
	%reldir%/outside/glib.c \
	%reldir%/cross-run.sh

# libuv driver tests
## The libuv driver's owner appends its test programs here, adding them to
## check_PROGRAMS and TESTS inside "if HAVE_CHECK ... endif" like the above
## (check-valgrind picks up everything in check_PROGRAMS).

## The loop helpers they share (header only: libharness.la has no libuv).
noinst_HEADERS += %reldir%/uv-harness.h

if HAVE_CHECK

exco_uv_tests = \
	%reldir%/test-uv-driver \
	%reldir%/test-uv-timer \
	%reldir%/test-uv-fs \
	%reldir%/test-uv-net \
	%reldir%/test-uv-read \
	%reldir%/test-uv-cancel \
	%reldir%/test-uv-seed \
	%reldir%/test-uv-shutdown \
	%reldir%/test-uv-races \
	%reldir%/test-api

check_PROGRAMS += $(exco_uv_tests)
TESTS += $(exco_uv_tests)

exco_uv_test_cppflags = $(AM_CPPFLAGS) $(LIBUV_CFLAGS) \
	-I$(top_srcdir)/drivers/uv
exco_uv_test_ldadd = %reldir%/libharness.la drivers/uv/libexco-uv.la \
	src/libexco.la $(LIBUV_LIBS) $(CHECK_LIBS) -lpthread

## Its out-of-memory cases make the driver's malloc() fail on demand:
## --wrap reaches the driver's calls only if it is linked in statically.
%canon_reldir%_test_uv_races_SOURCES = %reldir%/test-uv-races.c
%canon_reldir%_test_uv_races_CPPFLAGS = $(exco_uv_test_cppflags) \
	-DH_WRAPPED_MALLOC
%canon_reldir%_test_uv_races_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_races_LDFLAGS = -static -Wl,--wrap=malloc
%canon_reldir%_test_uv_races_LDADD = $(exco_uv_test_ldadd)

## The public API's documented edge cases, core and libuv alike.
%canon_reldir%_test_api_SOURCES = %reldir%/test-api.c
%canon_reldir%_test_api_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_api_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_api_LDADD = $(exco_uv_test_ldadd)

%canon_reldir%_test_uv_driver_SOURCES = %reldir%/test-uv-driver.c
%canon_reldir%_test_uv_driver_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_driver_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_driver_LDADD = $(exco_uv_test_ldadd)

%canon_reldir%_test_uv_timer_SOURCES = %reldir%/test-uv-timer.c
%canon_reldir%_test_uv_timer_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_timer_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_timer_LDADD = $(exco_uv_test_ldadd)

%canon_reldir%_test_uv_fs_SOURCES = %reldir%/test-uv-fs.c
%canon_reldir%_test_uv_fs_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_fs_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_fs_LDADD = $(exco_uv_test_ldadd)

%canon_reldir%_test_uv_net_SOURCES = %reldir%/test-uv-net.c
%canon_reldir%_test_uv_net_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_net_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_net_LDADD = $(exco_uv_test_ldadd)

## The read buffer of TCP sockets; looks at the socket's fields
## (uv-internal.h, through the driver's include path).
%canon_reldir%_test_uv_read_SOURCES = %reldir%/test-uv-read.c
%canon_reldir%_test_uv_read_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_read_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_read_LDADD = $(exco_uv_test_ldadd)

%canon_reldir%_test_uv_cancel_SOURCES = %reldir%/test-uv-cancel.c
%canon_reldir%_test_uv_cancel_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_cancel_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_cancel_LDADD = $(exco_uv_test_ldadd)

%canon_reldir%_test_uv_shutdown_SOURCES = %reldir%/test-uv-shutdown.c
%canon_reldir%_test_uv_shutdown_CPPFLAGS = $(exco_uv_test_cppflags)
%canon_reldir%_test_uv_shutdown_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_shutdown_LDADD = $(exco_uv_test_ldadd)

## The seed's design (one uv_async_t per task), from bench/.
%canon_reldir%_test_uv_seed_SOURCES = %reldir%/test-uv-seed.c
%canon_reldir%_test_uv_seed_CPPFLAGS = $(exco_uv_test_cppflags) \
	-I$(top_srcdir)/bench
%canon_reldir%_test_uv_seed_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_uv_seed_LDADD = bench/libexco-uv-seed.la \
	$(exco_uv_test_ldadd)

endif

## The soak test (tests/soak.c): 10 million cross-thread wakes with random
## cancels, drops and spawns on local, libuv and callbacks executors, exact
## counts at the end.  Not part of make check (a minute or more);
## EXCO_SOAK_WAKES=N runs a shorter one (CI does, under ASan).
check_PROGRAMS += %reldir%/soak
%canon_reldir%_soak_SOURCES = %reldir%/soak.c
%canon_reldir%_soak_CPPFLAGS = $(AM_CPPFLAGS) $(LIBUV_CFLAGS)
%canon_reldir%_soak_CFLAGS = $(AM_CFLAGS)
%canon_reldir%_soak_LDADD = drivers/uv/libexco-uv.la src/libexco.la \
	$(LIBUV_LIBS) -lpthread
check-soak: %reldir%/soak
	$(LIBTOOL) --mode=execute ./%reldir%/soak
.PHONY: check-soak

## The wake protocol's model (tests/model/README.md), checked exhaustively
## with spin; about a minute.  Not part of make check: it needs spin.
EXTRA_DIST += %reldir%/model/wake.pml %reldir%/model/chan.pml \
	%reldir%/model/check.sh \
	%reldir%/model/README.md
check-model:
	$(SHELL) $(top_srcdir)/%reldir%/model/check.sh
.PHONY: check-model

# Timers, closing executors and the driver interface
## Core tests of include/exco.h's "Time: sleeps and deadlines" and "The
## tasks of an executor, and closing it", and of include/exco/driver.h.

if HAVE_CHECK

exco_core_driver_tests = \
	%reldir%/test-timer \
	%reldir%/test-close \
	%reldir%/test-driver

check_PROGRAMS += $(exco_core_driver_tests)
TESTS += $(exco_core_driver_tests)

%canon_reldir%_test_timer_SOURCES = %reldir%/test-timer.c
%canon_reldir%_test_timer_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_timer_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_close_SOURCES = %reldir%/test-close.c
%canon_reldir%_test_close_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_close_LDADD = $(exco_test_ldadd)

%canon_reldir%_test_driver_SOURCES = %reldir%/test-driver.c
%canon_reldir%_test_driver_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_driver_LDADD = $(exco_test_ldadd)

endif

# Seed source compatibility (<rust_async_executor.h>)
## tests/seed/seed-readme-driver.c is extern_executor's README driver as a
## user copies it; it must build unchanged against the installed headers
## alone with the warnings below as errors (a warning fails make check).
## It is a convenience library of its own so that other tests can link it
## (its interface is tests/seed/seed-readme-driver.h).

if HAVE_CHECK

check_LTLIBRARIES += %reldir%/seed/libseed-readme-driver.la
%canon_reldir%_seed_libseed_readme_driver_la_SOURCES = \
	%reldir%/seed/seed-readme-driver.c
%canon_reldir%_seed_libseed_readme_driver_la_CPPFLAGS = \
	-I$(top_srcdir)/include $(LIBUV_CFLAGS)
%canon_reldir%_seed_libseed_readme_driver_la_CFLAGS = \
	-Wall -Wextra -Wpedantic -Werror

check_PROGRAMS += %reldir%/seed/test-seed
TESTS += %reldir%/seed/test-seed

%canon_reldir%_seed_test_seed_SOURCES = %reldir%/seed/test-seed.c
%canon_reldir%_seed_test_seed_CPPFLAGS = $(exco_uv_test_cppflags) \
	-I$(top_srcdir)/%reldir% -I$(top_srcdir)/%reldir%/seed
%canon_reldir%_seed_test_seed_CFLAGS = $(exco_test_cflags)
%canon_reldir%_seed_test_seed_LDADD = \
	%reldir%/seed/libseed-readme-driver.la $(exco_uv_test_ldadd)

endif

noinst_HEADERS += %reldir%/seed/seed-readme-driver.h

# Driver conformance suite
## One set of contract checks run against every driver through a small
## adapter per driver (tests/conformance/local.mk).
include %reldir%/conformance/local.mk

# Dart driver tests
## libexco-dart against a stand-in isolate (tests/dart-standin.{c,h}: a
## port drained by its own thread, whose listener polls and drops).  The
## stand-in is a check library of its own so that other suites (the
## driver conformance suite) can link it; it needs no Check.

if HAVE_CHECK

check_LTLIBRARIES += %reldir%/libdart-standin.la
%canon_reldir%_libdart_standin_la_SOURCES = %reldir%/dart-standin.c \
	%reldir%/dart-standin.h
%canon_reldir%_libdart_standin_la_LIBADD = drivers/dart/libexco-dart.la \
	src/libexco.la -lpthread

check_PROGRAMS += %reldir%/test-dart
TESTS += %reldir%/test-dart

%canon_reldir%_test_dart_SOURCES = %reldir%/test-dart.c
%canon_reldir%_test_dart_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_dart_LDADD = %reldir%/libdart-standin.la \
	drivers/dart/libexco-dart.la $(exco_test_ldadd)

endif

# C++: per-coroutine exception state
## Built with the C++ compiler configure found (HAVE_CXX); libexco itself
## is C and takes the C++ runtime's state through a weak reference.

if HAVE_CHECK
if HAVE_CXX

check_PROGRAMS += %reldir%/test-cxx
TESTS += %reldir%/test-cxx

%canon_reldir%_test_cxx_SOURCES = %reldir%/test-cxx.cc
%canon_reldir%_test_cxx_CPPFLAGS = $(AM_CPPFLAGS)
%canon_reldir%_test_cxx_CXXFLAGS = $(WARN_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_test_cxx_LDADD = src/libexco.la $(CHECK_LIBS) -lpthread

endif
endif

# libev driver tests
## libexco-libev (include/exco/libev.h), when configure found libev.  Its
## conformance program is in tests/conformance/local.mk.

if HAVE_CHECK
if HAVE_LIBEV

check_PROGRAMS += %reldir%/test-libev
TESTS += %reldir%/test-libev

%canon_reldir%_test_libev_SOURCES = %reldir%/test-libev.c
%canon_reldir%_test_libev_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS)
%canon_reldir%_test_libev_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_libev_LDADD = drivers/libev/libexco-libev.la \
	$(exco_test_ldadd) $(LIBEV_LIBS)

endif
endif

# libevent driver tests
## libexco-libevent (include/exco/libevent.h), when configure found
## libevent.  Its conformance program is in tests/conformance/local.mk.

noinst_HEADERS += %reldir%/libevent-guard.h

if HAVE_CHECK
if HAVE_LIBEVENT

check_PROGRAMS += %reldir%/test-libevent
TESTS += %reldir%/test-libevent

%canon_reldir%_test_libevent_SOURCES = %reldir%/test-libevent.c
%canon_reldir%_test_libevent_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_libevent_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_libevent_LDADD = drivers/libevent/libexco-libevent.la \
	$(exco_test_ldadd) $(LIBEVENT_LIBS)

endif
endif

# GLib driver tests
## libexco-glib (include/exco/glib.h), when configure found GLib (and
## gio-unix-2.0, for the pipe streams of the tests).  Its conformance
## program is in tests/conformance/local.mk.

if HAVE_CHECK
if HAVE_GLIB
if HAVE_GIO_UNIX

check_PROGRAMS += %reldir%/test-glib
TESTS += %reldir%/test-glib

%canon_reldir%_test_glib_SOURCES = %reldir%/test-glib.c %reldir%/tsan-glib.c
%canon_reldir%_test_glib_CPPFLAGS = $(AM_CPPFLAGS) $(GLIB_CFLAGS) \
	$(GIO_UNIX_CFLAGS)
%canon_reldir%_test_glib_CFLAGS = $(exco_test_cflags)
%canon_reldir%_test_glib_LDADD = drivers/glib/libexco-glib.la \
	$(exco_test_ldadd) $(GIO_UNIX_LIBS) $(GLIB_LIBS)

endif
endif
endif

# gdb script
## tools/exco-gdb.py run by gdb -batch against tests/gdb-target (named
## coroutines suspended in known functions): "exco tasks" lists them and
## "exco bt" walks a suspended one's stack from its saved registers.  Run
## when configure found gdb.

EXTRA_DIST += %reldir%/gdb-test.sh

## The gdb configure found, for gdb-test.sh (and a place for other
## scripts' settings: add to it with +=).
AM_TESTS_ENVIRONMENT = GDB='$(GDB)'; export GDB;

if HAVE_GDB

check_PROGRAMS += %reldir%/gdb-target
TESTS += %reldir%/gdb-test.sh

%canon_reldir%_gdb_target_SOURCES = %reldir%/gdb-target.c
%canon_reldir%_gdb_target_LDADD = src/libexco.la

endif
