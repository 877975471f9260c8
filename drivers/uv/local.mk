## drivers/uv/local.mk -- libexco-uv, the libuv driver (included from
## Makefile.am).  Stub: its owner fills it in.  Install the header with
## excoinclude_HEADERS += %reldir%/../../include/exco/uv.h (-> exco/uv.h);
## use $(EXCO_LIB_CPPFLAGS) $(LIBUV_CFLAGS), $(EXCO_LIB_CFLAGS),
## -version-info $(EXCO_LT_VERSION_INFO) -no-undefined, and LIBADD
## src/libexco.la $(LIBUV_LIBS).
