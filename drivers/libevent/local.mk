## drivers/libevent/local.mk -- libexco-libevent, the libevent driver and
## its awaitable (installed, with include/exco/libevent.h).  Built when
## configure finds libevent 2.1 (--with-libevent).  Included from
## Makefile.am.

if HAVE_LIBEVENT

lib_LTLIBRARIES += %reldir%/libexco-libevent.la
excoinclude_HEADERS += include/exco/libevent.h

%canon_reldir%_libexco_libevent_la_SOURCES = \
	%reldir%/driver.c \
	%reldir%/io.c
%canon_reldir%_libexco_libevent_la_CPPFLAGS = $(EXCO_LIB_CPPFLAGS) \
	-DEXCO_LIBEVENT_BUILDING $(LIBEVENT_CFLAGS)
%canon_reldir%_libexco_libevent_la_CFLAGS = $(EXCO_LIB_CFLAGS)
%canon_reldir%_libexco_libevent_la_LDFLAGS = \
	-version-info $(EXCO_LT_VERSION_INFO) -no-undefined
%canon_reldir%_libexco_libevent_la_LIBADD = src/libexco.la $(LIBEVENT_LIBS)

endif
