#!/usr/bin/env bash
# tests/cross-aarch64.sh -- builds the core with the AArch64 assembly
# backend (src/context-aarch64.S) with a cross compiler and runs two
# outside programs on it under qemu-user: tasks that await promises
# resolved by other threads, and tasks that keep integer and floating-point
# values live across thousands of switches.  libuv and Check are not
# available for the target here, so the full suite runs on the build
# machine only.  Exits 77 (skipped) without the cross tools
# (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
qemu=${QEMU:-qemu-aarch64}
if ! command -v "$cc" >/dev/null 2>&1 || ! command -v "$qemu" >/dev/null; then
  echo "cross-aarch64: $cc or $qemu not found: skipped"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The few config.h facts the core's sources ask for, for glibc on Linux.
cat >"$work/config.h" <<'CONF'
#define HAVE_STRERRORDESC_NP 1
CONF

# Every core source but the other context backend.
core=$(ls "$top"/src/*.c | grep -v context-ucontext.c)

for branch in none standard; do
  for prog in promise yield; do
    "$cc" -std=gnu11 -O2 -Wall -Wextra -static -pthread \
      -mbranch-protection="$branch" \
      -I"$work" -I"$top/include" -I"$top/src" -DEXCO_BUILDING \
      -o "$work/$prog" "$top/tests/outside/$prog.c" \
      $core \
      "$top/src/context-aarch64.S" -lm
    "$qemu" "$work/$prog"
  done
done
echo "cross-aarch64: ok"
