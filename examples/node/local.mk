## examples/node/local.mk -- the Node.js example: a Node-API addon that
## runs exco coroutines on Node's loop (exco_node.c), and its test against
## real Node peers (test.js, run by run-test.sh).  Built and run by make
## check when configure found node and <node_api.h> (--with-node).
## Included from Makefile.am.

EXTRA_DIST += %reldir%/test.js %reldir%/run-test.sh %reldir%/exco_node.c

if HAVE_NODE

## A loadable module (not installed): -rpath makes libtool build it
## shared.  run-test.sh loads it with process.dlopen().
check_LTLIBRARIES += %reldir%/exco_node.la
%canon_reldir%_exco_node_la_SOURCES = %reldir%/exco_node.c
%canon_reldir%_exco_node_la_CPPFLAGS = $(AM_CPPFLAGS) $(NODE_CPPFLAGS)
%canon_reldir%_exco_node_la_LDFLAGS = -module -avoid-version -shared \
	-rpath $(abs_builddir)/%reldir%
%canon_reldir%_exco_node_la_LIBADD = drivers/uv/libexco-uv.la \
	src/libexco.la

TESTS += %reldir%/run-test.sh

endif
