## tests/conformance/local.mk -- the driver conformance suite (included
## from tests/local.mk): one set of contract checks (checks.c) built into
## one Check program per driver, each with that driver's adapter
## (adapter-<name>.c; conformance.h says what an adapter provides, and
## README.md's "Checking your own driver" how to add one).

EXTRA_DIST += %reldir%/conformance.h %reldir%/count.h %reldir%/uv-loop.h

if HAVE_CHECK

exco_conformance_tests = \
	%reldir%/conformance-local \
	%reldir%/conformance-host \
	%reldir%/conformance-uv \
	%reldir%/conformance-seed \
	%reldir%/conformance-seed-readme \
	%reldir%/conformance-dart

check_PROGRAMS += $(exco_conformance_tests)
TESTS += $(exco_conformance_tests)

exco_cf_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
exco_cf_uv_cppflags = $(exco_cf_cppflags) $(LIBUV_CFLAGS)

## The built-in local executor (exco_run).
%canon_reldir%_conformance_local_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-local.c
%canon_reldir%_conformance_local_CPPFLAGS = $(exco_cf_cppflags)
%canon_reldir%_conformance_local_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_local_LDADD = $(exco_test_ldadd)

## A bare three-callback host: the harness's recording host.
%canon_reldir%_conformance_host_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-host.c
%canon_reldir%_conformance_host_CPPFLAGS = $(exco_cf_cppflags)
%canon_reldir%_conformance_host_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_host_LDADD = $(exco_test_ldadd)

## exco's libuv driver (uv_run).
%canon_reldir%_conformance_uv_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-uv.c
%canon_reldir%_conformance_uv_CPPFLAGS = $(exco_cf_uv_cppflags)
%canon_reldir%_conformance_uv_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_uv_LDADD = $(exco_uv_test_ldadd)

## The seed's one-uv_async_t-per-task driver from bench/, its host calls
## counted by wrapping them at link time (adapter-seed.c).
%canon_reldir%_conformance_seed_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-seed.c %reldir%/count.c
%canon_reldir%_conformance_seed_CPPFLAGS = $(exco_cf_uv_cppflags) \
	-I$(top_srcdir)/bench
%canon_reldir%_conformance_seed_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_seed_LDFLAGS = -Wl,--wrap=exco_executor_new \
	-Wl,--wrap=exco_poll -Wl,--wrap=exco_drop
%canon_reldir%_conformance_seed_LDADD = bench/libexco-uv-seed.la \
	$(exco_uv_test_ldadd)

## extern_executor's README driver from tests/seed/, built against
## <rust_async_executor.h>, on the default executor; its host calls are
## counted by wrapping the seed functions it calls (adapter-seed-readme.c).
%canon_reldir%_conformance_seed_readme_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-seed-readme.c %reldir%/count.c
%canon_reldir%_conformance_seed_readme_CPPFLAGS = $(exco_cf_uv_cppflags) \
	-I$(top_srcdir)/tests/seed
%canon_reldir%_conformance_seed_readme_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_seed_readme_LDFLAGS = \
	-Wl,--wrap=rust_async_executor_init \
	-Wl,--wrap=rust_async_executor_poll \
	-Wl,--wrap=rust_async_executor_drop
%canon_reldir%_conformance_seed_readme_LDADD = \
	tests/seed/libseed-readme-driver.la $(exco_uv_test_ldadd)

## The Dart driver with the stand-in isolate of tests/dart-standin.{c,h}.
%canon_reldir%_conformance_dart_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-dart.c
%canon_reldir%_conformance_dart_CPPFLAGS = $(exco_cf_cppflags)
%canon_reldir%_conformance_dart_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_dart_LDADD = tests/libdart-standin.la \
	drivers/dart/libexco-dart.la $(exco_test_ldadd)

## exco's libev driver (ev_run), when configure found libev.
if HAVE_LIBEV
check_PROGRAMS += %reldir%/conformance-libev
TESTS += %reldir%/conformance-libev
%canon_reldir%_conformance_libev_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-libev.c
%canon_reldir%_conformance_libev_CPPFLAGS = $(exco_cf_cppflags) \
	$(LIBEV_CFLAGS)
%canon_reldir%_conformance_libev_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_libev_LDADD = drivers/libev/libexco-libev.la \
	$(exco_test_ldadd) $(LIBEV_LIBS)
endif

## exco's libevent driver (event_base_dispatch), when configure found
## libevent.
if HAVE_LIBEVENT
check_PROGRAMS += %reldir%/conformance-libevent
TESTS += %reldir%/conformance-libevent
%canon_reldir%_conformance_libevent_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-libevent.c
%canon_reldir%_conformance_libevent_CPPFLAGS = $(exco_cf_cppflags) \
	$(LIBEVENT_CFLAGS)
%canon_reldir%_conformance_libevent_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_libevent_LDADD = \
	drivers/libevent/libexco-libevent.la $(exco_test_ldadd) \
	$(LIBEVENT_LIBS)
endif

## exco's GLib driver (exco_glib_run_until_idle), when configure found GLib.
if HAVE_GLIB
check_PROGRAMS += %reldir%/conformance-glib
TESTS += %reldir%/conformance-glib
%canon_reldir%_conformance_glib_SOURCES = %reldir%/checks.c \
	%reldir%/adapter-glib.c tests/tsan-glib.c
%canon_reldir%_conformance_glib_CPPFLAGS = $(exco_cf_cppflags) \
	$(GLIB_CFLAGS)
%canon_reldir%_conformance_glib_CFLAGS = $(exco_test_cflags)
%canon_reldir%_conformance_glib_LDADD = drivers/glib/libexco-glib.la \
	$(exco_test_ldadd) $(GLIB_LIBS)
endif

endif
