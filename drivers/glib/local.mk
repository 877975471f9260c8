## drivers/glib/local.mk -- libexco-glib, the GLib driver and its
## awaitables (installed, with include/exco/glib.h).  Built when configure
## finds GLib and GIO (--with-glib).  Included from Makefile.am.

if HAVE_GLIB

lib_LTLIBRARIES += %reldir%/libexco-glib.la
excoinclude_HEADERS += include/exco/glib.h

%canon_reldir%_libexco_glib_la_SOURCES = \
	%reldir%/driver.c \
	%reldir%/fd.c \
	%reldir%/async.c \
	%reldir%/internal.h
%canon_reldir%_libexco_glib_la_CPPFLAGS = $(EXCO_LIB_CPPFLAGS) \
	-DEXCO_GLIB_BUILDING $(GLIB_CFLAGS)
%canon_reldir%_libexco_glib_la_CFLAGS = $(EXCO_LIB_CFLAGS)
%canon_reldir%_libexco_glib_la_LDFLAGS = \
	-version-info $(EXCO_LT_VERSION_INFO) -no-undefined
%canon_reldir%_libexco_glib_la_LIBADD = src/libexco.la $(GLIB_LIBS) \
	$(PTHREAD_LIBS)

endif
