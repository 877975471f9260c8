#!/bin/sh
# run-test.sh -- make check's run of the Node.js example: loads the addon
# built in examples/node/.libs into node, runs test.js (a net echo server,
# timers, JavaScript callbacks from coroutines, a worker thread), and
# checks that node exits by itself, with status 0, after both
# environments' cleanup hooks closed their executors.
#
# Skipped (77) for sanitizer builds: node itself is not built with the
# sanitizers' runtimes, which must be loaded first.
set -u
top=${top_builddir:-.}
src=${srcdir:-.}
node=${NODE:-node}
libs="$top/src/.libs:$top/drivers/uv/.libs"

if readelf -d "$top/src/.libs/libexco.so" 2>/dev/null |
   grep -Eq 'NEEDED.*lib(a|t|ub)san'; then
  echo "skipped: a sanitizer build can't be loaded into node"
  exit 77
fi

out=${TMPDIR:-/tmp}/exco-node-$$.err
# timeout bounds a node that would not exit by itself (a leaked handle or
# a close that never finished keeps the loop alive).
EXCO_NODE_TRACE=1 EXCO_NODE_ADDON="$top/examples/node/.libs/exco_node.so" \
  LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  timeout 120 "$node" "$src/examples/node/test.js" 2>"$out"
rc=$?
cat "$out" >&2
if [ "$rc" -ne 0 ]; then
  rm -f "$out"
  [ "$rc" -eq 124 ] && echo "FAIL: node did not exit by itself in 120 s"
  echo "FAIL: node exited with $rc"
  exit 1
fi
# The worker stopped with one coroutine pending (its hour-long sleep); the
# main environment with none.  Both closes must have finished.
closes=$(grep -c '^exco_node: executor closed$' "$out")
pending=$(grep -c '^exco_node: closing with 1 live$' "$out")
rm -f "$out"
if [ "$closes" -ne 2 ] || [ "$pending" -ne 1 ]; then
  echo "FAIL: expected 2 finished closes (got $closes), one of them" \
       "with a pending coroutine (got $pending)"
  exit 1
fi
echo "PASS: node ran every check and exited by itself"
