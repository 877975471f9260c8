## bench/local.mk -- exco-bench, the benchmark binary (included from
## Makefile.am).  `make bench` builds and runs it; BENCH_ARGS passes
## options (make bench BENCH_ARGS=--quick).  See BENCHMARKS.md.

bin_PROGRAMS += %reldir%/exco-bench

%canon_reldir%_exco_bench_SOURCES = \
	%reldir%/main.c \
	%reldir%/harness.c \
	%reldir%/report.c \
	%reldir%/hosts.c \
	%reldir%/w1-spawn.c \
	%reldir%/w1r-rounds.c \
	%reldir%/w2-yield.c \
	%reldir%/w3-pingpong.c \
	%reldir%/w4-idle.c \
	%reldir%/w5-memory.c \
	%reldir%/w6-switch.c \
	%reldir%/w7-echo.c \
	%reldir%/w8-sync.c \
	%reldir%/ext-peers.c

noinst_HEADERS += \
	%reldir%/bench.h \
	%reldir%/ctx-copies.h

## The seed's one-uv_async_t-per-task driver, ported line for line: a
## baseline for the bench and tests/test-uv-seed, not a product (a
## convenience library, not installed).
noinst_LTLIBRARIES += %reldir%/libexco-uv-seed.la
noinst_HEADERS += %reldir%/seed-driver.h
%canon_reldir%_libexco_uv_seed_la_SOURCES = %reldir%/seed-driver.c
%canon_reldir%_libexco_uv_seed_la_CPPFLAGS = $(AM_CPPFLAGS) $(LIBUV_CFLAGS)

%canon_reldir%_exco_bench_CPPFLAGS = $(AM_CPPFLAGS) $(LIBUV_CFLAGS) \
	-DBENCH_PEER_DIR='"$(abs_top_builddir)/%reldir%"' \
	-DBENCH_SRC_DIR='"$(abs_top_srcdir)/%reldir%"'

## Peers from outside exco, separate programs that exco-bench runs
## (bench/ext-peers.c): Boost.Fiber (W1, W2, W3's channel case, W8, W9)
## and Boost.Context (W1, W2, W6), each built when configure finds it, and
## Go (W3's channel case, W8, W9), built by exco-bench at run time when
## the go tool is on PATH.
EXTRA_DIST += %reldir%/peers/chanpeer.go %reldir%/peers/boost_fiber.cc \
	%reldir%/peers/boost_context.cc

## Experiments behind BENCHMARKS.md's floors, not built by make (each
## file's header has its build line).
EXTRA_DIST += %reldir%/floor-ring.c %reldir%/floor-ladder.c \
	%reldir%/gap-w2.c %reldir%/gap-build.sh
if HAVE_BOOST_FIBER
noinst_PROGRAMS += %reldir%/peer-boost-fiber
%canon_reldir%_peer_boost_fiber_SOURCES = %reldir%/peers/boost_fiber.cc
%canon_reldir%_peer_boost_fiber_LDADD = $(BOOST_FIBER_LIBS) $(PTHREAD_LIBS)
endif
if HAVE_BOOST_CONTEXT
noinst_PROGRAMS += %reldir%/peer-boost-context
%canon_reldir%_peer_boost_context_SOURCES = %reldir%/peers/boost_context.cc
%canon_reldir%_peer_boost_context_LDADD = $(BOOST_CONTEXT_LIBS)
endif
%canon_reldir%_exco_bench_LDADD = \
	%reldir%/libbench-ctx-uc.la \
	%reldir%/libbench-ctx-sc.la \
	%reldir%/libbench-ctx-asm.la \
	%reldir%/libexco-uv-seed.la \
	drivers/uv/libexco-uv.la \
	src/libexco.la \
	$(LIBUV_LIBS) $(PTHREAD_LIBS)

## W2 and W4 also measure exco's libev, libevent and GLib drivers against
## plain callbacks (GLib: sources) of those hosts, when configure found
## them.  libevent first:
## Debian's libev also defines libevent's names (event_add, ...) for its
## compatibility layer, and the first library linked wins them.
if HAVE_LIBEVENT
%canon_reldir%_exco_bench_CPPFLAGS += -DBENCH_LIBEVENT=1 $(LIBEVENT_CFLAGS)
%canon_reldir%_exco_bench_LDADD += drivers/libevent/libexco-libevent.la \
	$(LIBEVENT_LIBS)
endif
if HAVE_LIBEV
%canon_reldir%_exco_bench_CPPFLAGS += -DBENCH_LIBEV=1 $(LIBEV_CFLAGS)
%canon_reldir%_exco_bench_LDADD += drivers/libev/libexco-libev.la $(LIBEV_LIBS)
endif
if HAVE_GLIB
%canon_reldir%_exco_bench_CPPFLAGS += -DBENCH_GLIB=1 $(GLIB_CFLAGS)
%canon_reldir%_exco_bench_LDADD += drivers/glib/libexco-glib.la $(GLIB_LIBS)
endif

## W6 compares every context backend in one binary.  libexco is built
## with one of them, so the bench compiles each backend's source a second
## time with its symbols renamed by per-target -D flags, next to a copy of
## ctx-measure.c renamed the same way; EXCO_CTX_COPY_* tells src/context.h
## which backend a copy is, whatever config.h chose.  ctx-asm.S includes
## the assembly file of the CPU being built for, or nothing where there is
## none.
noinst_LTLIBRARIES += \
	%reldir%/libbench-ctx-uc.la \
	%reldir%/libbench-ctx-sc.la \
	%reldir%/libbench-ctx-asm.la

%canon_reldir%_libbench_ctx_uc_la_SOURCES = \
	src/context-ucontext.c \
	%reldir%/ctx-measure.c
%canon_reldir%_libbench_ctx_uc_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/src \
	-DEXCO_CTX_COPY_UCONTEXT=1 \
	-Dexco__ctx_switch=bench_uc_switch \
	-Dexco__ctx_make=bench_uc_make \
	-Dexco__ctx_backend=bench_uc_backend \
	-Dbench_ctx_measure=bench_uc_measure

%canon_reldir%_libbench_ctx_sc_la_SOURCES = \
	src/context-swapcontext.c \
	%reldir%/ctx-measure.c
%canon_reldir%_libbench_ctx_sc_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/src \
	-DEXCO_CTX_COPY_SWAPCONTEXT=1 \
	-Dexco__ctx_switch=bench_sc_switch \
	-Dexco__ctx_make=bench_sc_make \
	-Dexco__ctx_backend=bench_sc_backend \
	-Dbench_ctx_measure=bench_sc_measure

%canon_reldir%_libbench_ctx_asm_la_SOURCES = \
	%reldir%/ctx-asm.S \
	%reldir%/ctx-measure.c
%canon_reldir%_libbench_ctx_asm_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/src \
	-DEXCO_CTX_COPY_ASM=1 \
	-Dexco__ctx_switch=bench_asm_switch \
	-Dexco__ctx_switch_sibling=bench_asm_switch_sibling \
	-Dexco__ctx_make=bench_asm_make \
	-Dexco__ctx_backend=bench_asm_backend \
	-Dexco__ctx_start=bench_asm_start \
	-Dbench_ctx_measure=bench_asm_measure
EXTRA_DIST += BENCHMARKS.md

BENCH_ARGS =

## Runs the whole benchmark (about three minutes on a 2-core machine).
bench: %reldir%/exco-bench$(EXEEXT)
	%reldir%/exco-bench$(EXEEXT) $(BENCH_ARGS)

.PHONY: bench
