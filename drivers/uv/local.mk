## drivers/uv/local.mk -- libexco-uv, the libuv driver and awaitables
## (installed, with include/exco/uv.h).  Included from Makefile.am.

lib_LTLIBRARIES += %reldir%/libexco-uv.la
excoinclude_HEADERS += include/exco/uv.h
## The extern_executor crate's name for the header of its libuv driver
## (rust_async_executor_uv_init() is defined in driver.c).
include_HEADERS += include/rust_async_executor_uv.h
noinst_HEADERS += \
	%reldir%/uv-internal.h

%canon_reldir%_libexco_uv_la_SOURCES = \
	%reldir%/driver.c \
	%reldir%/op.c \
	%reldir%/timer.c \
	%reldir%/fs.c \
	%reldir%/dns.c \
	%reldir%/stream.c \
	%reldir%/tcp.c \
	%reldir%/udp.c \
	%reldir%/work.c \
	%reldir%/signal.c
%canon_reldir%_libexco_uv_la_CPPFLAGS = $(EXCO_LIB_CPPFLAGS) \
	-DEXCO_UV_BUILDING $(LIBUV_CFLAGS)
%canon_reldir%_libexco_uv_la_CFLAGS = $(EXCO_LIB_CFLAGS)
%canon_reldir%_libexco_uv_la_LDFLAGS = \
	-version-info $(EXCO_LT_VERSION_INFO) -no-undefined
%canon_reldir%_libexco_uv_la_LIBADD = \
	src/libexco.la $(LIBUV_LIBS) $(PTHREAD_LIBS)
