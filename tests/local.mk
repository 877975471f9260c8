## tests/local.mk -- Check test programs (included from Makefile.am).
## Stub: its owner fills it in.  Put the Check programs inside
## "if HAVE_CHECK ... endif" and use $(CHECK_CFLAGS) / $(CHECK_LIBS):
## without Check, configure only warns and make check fails with a message
## (check-local in Makefile.am).
