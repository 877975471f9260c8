## drivers/libev/local.mk -- libexco-libev, the libev driver and its
## awaitable (installed, with include/exco/libev.h).  Built when configure
## finds libev (--with-libev).  Included from Makefile.am.

if HAVE_LIBEV

lib_LTLIBRARIES += %reldir%/libexco-libev.la
excoinclude_HEADERS += include/exco/libev.h

%canon_reldir%_libexco_libev_la_SOURCES = \
	%reldir%/driver.c \
	%reldir%/io.c
%canon_reldir%_libexco_libev_la_CPPFLAGS = $(EXCO_LIB_CPPFLAGS) \
	-DEXCO_LIBEV_BUILDING $(LIBEV_CFLAGS)
%canon_reldir%_libexco_libev_la_CFLAGS = $(EXCO_LIB_CFLAGS)
%canon_reldir%_libexco_libev_la_LDFLAGS = \
	-version-info $(EXCO_LT_VERSION_INFO) -no-undefined
%canon_reldir%_libexco_libev_la_LIBADD = src/libexco.la $(LIBEV_LIBS)

endif
