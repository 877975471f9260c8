## examples/local.mk -- straight-line example programs for the libuv
## driver (included from Makefile.am).  Built by make, not installed.

EXCO_EXAMPLES = \
	%reldir%/delay \
	%reldir%/read_file \
	%reldir%/ns_lookup \
	%reldir%/echo_server \
	%reldir%/echo_client \
	%reldir%/pipeline \
	%reldir%/scope_deadline

noinst_PROGRAMS += $(EXCO_EXAMPLES)

EXCO_EXAMPLE_CPPFLAGS = $(AM_CPPFLAGS) $(LIBUV_CFLAGS)
EXCO_EXAMPLE_LDADD = drivers/uv/libexco-uv.la src/libexco.la $(LIBUV_LIBS)

%canon_reldir%_delay_SOURCES = %reldir%/delay.c
%canon_reldir%_delay_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_delay_LDADD = $(EXCO_EXAMPLE_LDADD)

%canon_reldir%_read_file_SOURCES = %reldir%/read_file.c
%canon_reldir%_read_file_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_read_file_LDADD = $(EXCO_EXAMPLE_LDADD)

%canon_reldir%_ns_lookup_SOURCES = %reldir%/ns_lookup.c
%canon_reldir%_ns_lookup_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_ns_lookup_LDADD = $(EXCO_EXAMPLE_LDADD)

%canon_reldir%_echo_server_SOURCES = %reldir%/echo_server.c
%canon_reldir%_echo_server_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_echo_server_LDADD = $(EXCO_EXAMPLE_LDADD)

%canon_reldir%_echo_client_SOURCES = %reldir%/echo_client.c
%canon_reldir%_echo_client_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_echo_client_LDADD = $(EXCO_EXAMPLE_LDADD)

%canon_reldir%_pipeline_SOURCES = %reldir%/pipeline.c
%canon_reldir%_pipeline_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_pipeline_LDADD = $(EXCO_EXAMPLE_LDADD)

%canon_reldir%_scope_deadline_SOURCES = %reldir%/scope_deadline.c
%canon_reldir%_scope_deadline_CPPFLAGS = $(EXCO_EXAMPLE_CPPFLAGS)
%canon_reldir%_scope_deadline_LDADD = $(EXCO_EXAMPLE_LDADD)

## The libev driver's example, when configure found libev.
if HAVE_LIBEV
noinst_PROGRAMS += %reldir%/libev_echo
%canon_reldir%_libev_echo_SOURCES = %reldir%/libev_echo.c
%canon_reldir%_libev_echo_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEV_CFLAGS)
%canon_reldir%_libev_echo_LDADD = drivers/libev/libexco-libev.la \
	src/libexco.la $(LIBEV_LIBS)
endif

## The libevent driver's example, when configure found libevent.
if HAVE_LIBEVENT
noinst_PROGRAMS += %reldir%/libevent_echo
%canon_reldir%_libevent_echo_SOURCES = %reldir%/libevent_echo.c
%canon_reldir%_libevent_echo_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_libevent_echo_LDADD = \
	drivers/libevent/libexco-libevent.la src/libexco.la $(LIBEVENT_LIBS)
endif

## The GLib driver's example, when configure found GLib.
if HAVE_GLIB
noinst_PROGRAMS += %reldir%/glib_cat
%canon_reldir%_glib_cat_SOURCES = %reldir%/glib_cat.c
%canon_reldir%_glib_cat_CPPFLAGS = $(AM_CPPFLAGS) $(GLIB_CFLAGS)
%canon_reldir%_glib_cat_LDADD = drivers/glib/libexco-glib.la \
	src/libexco.la $(GLIB_LIBS)
endif
