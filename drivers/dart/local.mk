## drivers/dart/local.mk -- libexco-dart, the Dart driver (installed, with
## include/exco/dart.h and the dart:ffi bindings exco.dart under
## $(pkgdatadir)).  Always built: it needs no Dart SDK.  Included from
## Makefile.am.

lib_LTLIBRARIES += %reldir%/libexco-dart.la
excoinclude_HEADERS += include/exco/dart.h
dist_pkgdata_DATA += %reldir%/exco.dart

%canon_reldir%_libexco_dart_la_SOURCES = %reldir%/driver.c
%canon_reldir%_libexco_dart_la_CPPFLAGS = $(EXCO_LIB_CPPFLAGS) \
	-DEXCO_DART_BUILDING
%canon_reldir%_libexco_dart_la_CFLAGS = $(EXCO_LIB_CFLAGS)
%canon_reldir%_libexco_dart_la_LDFLAGS = \
	-version-info $(EXCO_LT_VERSION_INFO) -no-undefined
%canon_reldir%_libexco_dart_la_LIBADD = src/libexco.la $(PTHREAD_LIBS)
