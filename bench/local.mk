## bench/local.mk -- exco-bench (included from Makefile.am).
## Stub: its owner fills it in.
