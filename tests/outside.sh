#!/usr/bin/env bash
# tests/outside.sh PREFIX -- builds programs outside the tree against an
# exco installed in PREFIX, using only pkg-config, and runs them: the
# shared libraries, then the static ones.
set -euo pipefail
prefix=${1:?usage: tests/outside.sh PREFIX}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
cc=${CC:-cc}

# Shared libraries, found at run time through LD_LIBRARY_PATH.
build_run() {
  local mod=$1 src=$2 name
  name=$(basename "$src" .c)
  # shellcheck disable=SC2046
  $cc -o "$work/$name" "$src" $(pkg-config --cflags --libs "$mod") -lpthread -lm
  LD_LIBRARY_PATH=$prefix/lib "$work/$name"
}

# The static libexco.a, with what Libs.private says it needs.
build_run_static() {
  local src=$1 name
  name=$(basename "$src" .c)-static
  # shellcheck disable=SC2046
  $cc -o "$work/$name" "$src" $(pkg-config --cflags exco) \
    $(pkg-config --libs-only-L exco) -Wl,-Bstatic -lexco -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-other exco) \
    $(pkg-config --static --libs-only-l exco | sed 's/-lexco//')
  "$work/$name"
}

build_run exco "$here/outside/promise.c"
build_run_static "$here/outside/promise.c"
build_run exco "$here/outside/yield.c"
if [ -f "$here/outside/echo.c" ]; then
  build_run exco-uv "$here/outside/echo.c"
fi
# The GLib driver, when the install has it (configure found GLib).
if pkg-config --exists exco-glib; then
  build_run exco-glib "$here/outside/glib.c"
fi
echo "outside programs: ok"
