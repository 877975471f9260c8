#!/bin/sh
# autogen.sh -- regenerate the build system from a git checkout.
# Then: ./configure && make && make check
set -e
cd "$(dirname "$0")"
mkdir -p m4
exec autoreconf -fi "$@"
