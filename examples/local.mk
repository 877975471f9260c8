## examples/local.mk -- example programs (included from Makefile.am).
## Stub: its owner fills it in.
