#!/usr/bin/env bash
# tests/cross-run.sh TARGET [BACKEND] -- builds the core for another CPU
# with a cross compiler and runs two outside programs on it under
# qemu-user: tasks that await promises resolved by other threads, and
# tasks that keep integer and floating-point values live across thousands
# of switches (tests/outside/yield.c; it also checks that each task's
# rounding mode survives its switches).  libuv and Check are not available
# for the target here, so the full suite runs on the build machine only.
#
# TARGET is a Debian cross triplet prefix: aarch64, riscv64, powerpc64le
# or s390x (any other with a <TARGET>-linux-gnu-gcc and a qemu-<cpu>).
# BACKEND is asm (AArch64 only) or ucontext (default: asm where there is
# one, else ucontext).  The core is every src/*.c but the context backends,
# plus the chosen backend's file.  Exits 77 (skipped) without the cross
# tools (e.g. apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
# qemu-user).
set -euo pipefail
target=${1:?usage: tests/cross-run.sh TARGET [asm|ucontext]}
top=$(cd "$(dirname "$0")/.." && pwd)
case $target in
  aarch64) qcpu=aarch64; backend=${2:-asm} ;;
  riscv64) qcpu=riscv64; backend=${2:-ucontext} ;;
  powerpc64le) qcpu=ppc64le; backend=${2:-ucontext} ;;
  s390x) qcpu=s390x; backend=${2:-ucontext} ;;
  *) qcpu=$target; backend=${2:-ucontext} ;;
esac
cc=${CROSS_CC:-$target-linux-gnu-gcc}
qemu=${QEMU:-qemu-$qcpu}
if ! command -v "$cc" >/dev/null 2>&1 || ! command -v "$qemu" >/dev/null; then
  echo "cross-run $target: $cc or $qemu not found: skipped"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The few config.h facts the core's sources ask for, for glibc on Linux.
echo '#define HAVE_STRERRORDESC_NP 1' >"$work/config.h"
case $backend in
  asm) backend_src=$top/src/context-$target.S ;;
  ucontext)
    backend_src=$top/src/context-ucontext.c
    echo '#define EXCO_CONTEXT_UCONTEXT 1' >>"$work/config.h" ;;
  swapcontext)
    backend_src=$top/src/context-swapcontext.c
    echo '#define EXCO_CONTEXT_SWAPCONTEXT 1' >>"$work/config.h" ;;
  *) echo "cross-run: no backend '$backend'" >&2; exit 2 ;;
esac
[ -f "$backend_src" ] || { echo "cross-run: no $backend_src" >&2; exit 2; }

# Every core source but the context backends, then the chosen one.
core=$(ls "$top"/src/*.c | grep -v '/context-')

# AArch64 also builds with branch protection (BTI and PAC) on.
flags=("")
[ "$target" = aarch64 ] && flags=("-mbranch-protection=none"
  "-mbranch-protection=standard")
for f in "${flags[@]}"; do
  for prog in promise yield; do
    # shellcheck disable=SC2086
    "$cc" -std=gnu11 -O2 -Wall -Wextra -static -pthread $f \
      -I"$work" -I"$top/include" -I"$top/src" -DEXCO_BUILDING \
      -o "$work/$prog" "$top/tests/outside/$prog.c" \
      $core "$backend_src" -lm
    "$qemu" "$work/$prog"
  done
done
echo "cross-run $target ($backend): ok"
