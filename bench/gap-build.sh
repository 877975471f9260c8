#!/bin/sh
# gap-build.sh -- builds bench/gap-w2.c statically against the exco sources
# under ROOT (a configured tree, or a patched copy of one: src/,
# drivers/uv/, include/ and config.h), for the experiments of
# gap-report.md.  Not run by make.  Usage: bench/gap-build.sh ROOT OUT
# [EXTRA_CFLAGS...] (given to every file; -DGAP_INLINE_YIELD inlines
# exco_yield()'s body into the bench's task loop, see gap-w2.c)
set -e
root=$1
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
flags="-g -O2 -DHAVE_CONFIG_H -DEXCO_BUILDING -DEXCO_UV_BUILDING -pthread \
  -fvisibility=hidden -fstack-clash-protection -I$root -I$root/include \
  -I$root/src $*"
for f in error executor task switch await waitq timer runq local promise \
    chan sync scope offload stack overflow fork debug seed; do
  gcc $flags -c "$root/src/$f.c" -o "$tmp/$f.o"
done
gcc $flags -c "$root/src/context-x86_64.S" -o "$tmp/ctx.o"
for f in "$root"/drivers/uv/*.c; do
  gcc $flags -c "$f" -o "$tmp/uv-$(basename "$f" .c).o"
done
gcc -O2 -DHAVE_CONFIG_H -I"$root" -I"$root/include" -I"$root/src" "$@" \
  "$here/gap-w2.c" "$tmp"/*.o -luv -pthread -o "$out"
rm -rf "$tmp"
