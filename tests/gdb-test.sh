#!/bin/sh
# gdb-test.sh -- make check's test of tools/exco-gdb.py: runs
# tests/gdb-target under gdb -batch with the script loaded, stops it in
# gdb_stop_here() with four tasks suspended or not started, then in
# delta_fn() with "delta" running, and checks what "exco tasks" and
# "exco bt" print: names and states, the await site, the suspended
# tasks' frames (level3 called from level2 from level1), the refusals,
# and that the thread's own registers are put back (its backtrace is
# unchanged and the program then runs to a normal exit).
#
# Also writes a core file at the first stop and checks both commands on
# it.
#
# Skipped (77) without gdb and where the system forbids ptrace.  Runs in
# sanitizer builds too, with LeakSanitizer off (it refuses to run under
# ptrace and would fail the program's exit), and without the core file.
set -u
top=${top_builddir:-.}
src=${srcdir:-.}
gdb=${GDB:-gdb}

if ! command -v "$gdb" >/dev/null 2>&1; then
  echo "skipped: no gdb"
  exit 77
fi
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS

out=${TMPDIR:-/tmp}/exco-gdb-$$.out
core=${TMPDIR:-/tmp}/exco-gdb-$$.core
trap 'rm -f "$out" "$core" "$out.core"' EXIT

# A core file at the first stop, except in sanitizer builds: their
# terabytes of shadow mappings would take gcore minutes.
gcore_cmd="gcore $core"
if readelf -d "$top/src/.libs/libexco.so" 2>/dev/null |
   grep -Eq 'NEEDED.*lib(a|t|ub)san'; then
  gcore_cmd="echo no core file in a sanitizer build\n"
fi

# timeout bounds a gdb that would wait for input or a program that hangs.
timeout 120 "$top/libtool" --mode=execute "$gdb" -q -nx -batch \
  -x "$src/tools/exco-gdb.py" \
  -ex 'set pagination off' \
  -ex 'set confirm off' \
  -ex 'break gdb_stop_here' \
  -ex 'run' \
  -ex "$gcore_cmd" \
  -ex 'echo ==regs-before\n' -ex 'p/x $sp' -ex 'p/x $pc' \
  -ex 'echo ==tasks\n' -ex 'exco tasks' \
  -ex 'echo ==bt-alpha\n' -ex 'exco bt alpha' \
  -ex 'echo ==bt-beta\n' -ex 'exco bt gdb_tasks[1]' \
  -ex 'echo ==bt-gamma\n' -ex 'exco bt gamma' \
  -ex 'echo ==bt-delta\n' -ex 'exco bt delta' \
  -ex 'echo ==bt-nosuch\n' -ex 'exco bt nosuch' \
  -ex 'echo ==regs-after\n' -ex 'p/x $sp' -ex 'p/x $pc' \
  -ex 'echo ==bt-main\n' -ex 'bt' \
  -ex 'break delta_fn' \
  -ex 'continue' \
  -ex 'echo ==tasks2\n' -ex 'exco tasks' \
  -ex 'echo ==bt-delta2\n' -ex 'exco bt delta' \
  -ex 'echo ==bt-alpha2\n' -ex 'exco bt alpha' \
  -ex 'echo ==bt-epsilon2\n' -ex 'exco bt epsilon' \
  -ex 'echo ==bt-self\n' -ex 'bt' \
  -ex 'delete' \
  -ex 'echo ==end\n' \
  -ex 'continue' \
  --args "$top/tests/gdb-target" >"$out" 2>&1
rc=$?
cat "$out"

if grep -q 'ptrace: Operation not permitted' "$out"; then
  echo "skipped: ptrace is not permitted here"
  exit 77
fi

# The core file written at the first stop: tasks are listed, bt refuses.
if [ -s "$core" ]; then
  timeout 120 "$top/libtool" --mode=execute "$gdb" -q -nx -batch \
    -x "$src/tools/exco-gdb.py" \
    -ex 'echo ==core-tasks\n' -ex 'exco tasks' \
    -ex 'echo ==core-bt\n' -ex 'exco bt alpha' \
    -ex 'echo ==core-bt-after\n' -ex 'bt' \
    -ex 'echo ==\n' \
    "$top/tests/gdb-target" "$core" >"$out.core" 2>&1
  cat "$out.core"
  cat "$out.core" >>"$out"
fi

fail=0
bad() {
  echo "FAIL: $*"
  fail=1
}

# The lines of one section (from "==NAME" to the next "==").
section() {
  sed -n "/^==$1\$/,/^==/p" "$out" | sed '1d;$d'
}

# Checks that section $1 has lines matching each of the extended regular
# expressions that follow (without spaces), in that order.
in_order() {
  name=$1
  shift
  section "$name" | awk -v want="$*" '
    BEGIN { n = split(want, w, " "); i = 1 }
    i <= n && $0 ~ w[i] { i++ }
    END { exit i <= n }' || bad "section $name: not in order: $*"
}

[ "$rc" -eq 0 ] || bad "gdb exited with $rc"

site=$(grep -n '^  EXCO_SITE();' "$src/tests/gdb-target.c" | head -1 |
  cut -d: -f1)
task='^  0x[0-9a-f]+  '
tasks=$(section tasks)
echo "$tasks" | grep -Eq '^exco executor 0x[0-9a-f]+ \(local\): 5 tasks$' ||
  bad "exco tasks: no executor line with 5 tasks"
echo "$tasks" | grep -Eq "$task\"alpha\"  pending  waiting on promise at \
.*gdb-target\\.c:$site  polls 1\$" || bad "exco tasks: alpha"
echo "$tasks" |
  grep -Eq "$task\"beta\"  pending  waiting on promise  polls 1\$" ||
  bad "exco tasks: beta"
echo "$tasks" |
  grep -Eq "$task\"gamma\"  cancelling  waiting on promise  polls 1\$" ||
  bad "exco tasks: gamma"
echo "$tasks" | grep -Eq "$task\"delta\"  spawned  polls 0\$" ||
  bad "exco tasks: delta"

# A suspended task's frames, innermost first, down to its entry.
in_order bt-alpha '^exco.task.0x[0-9a-f]+."alpha".[(]pending[)]:$' \
  '^#[0-9].*exco_promise_await' '^#[0-9].*[^_]level3.[(]' \
  '^#[0-9].*[^_]level2.[(]' '^#[0-9].*[^_]level1.[(]' \
  '^#[0-9].*[^_]alpha_fn.[(]' '^#[0-9].*exco__entry'
in_order bt-beta '^exco.task.0x[0-9a-f]+."beta"' '^#[0-9].*[^_]beta_wait.[(]' \
  '^#[0-9].*[^_]beta_fn.[(]'
in_order bt-gamma '"gamma".[(]cancelling[)]' '^#[0-9].*[^_]gamma_wait.[(]'
section bt-beta | grep -q level3 && bad "bt-beta shows alpha's frames"
section bt-alpha | grep -q gdb_stop_here &&
  bad "bt-alpha shows the main thread's frames"
section bt-delta | grep -q 'exco bt: task "delta" has not started' ||
  bad "bt-delta: no refusal"
section bt-nosuch | grep -q 'exco bt: no task named "nosuch"' ||
  bad "bt-nosuch: no refusal"

# The thread's own registers are back.
regs() {
  section "$1" | sed 's/^\$[0-9]* = //'
}
before=$(regs regs-before)
[ -n "$before" ] && [ "$before" = "$(regs regs-after)" ] ||
  bad "registers differ after exco bt"
in_order bt-main '^#0.*gdb_stop_here' '^#1.*[^_]main.[(]'

# Second stop: delta runs (on the main thread), alpha and beta are woken.
tasks=$(section tasks2)
echo "$tasks" | grep -Eq "$task\"delta\"  running  polls 1\$" ||
  bad "exco tasks (2): delta running"
echo "$tasks" | grep -Eq "$task\"alpha\"  ready  .*polls 1\$" ||
  bad "exco tasks (2): alpha ready"
section bt-delta2 | grep -q 'exco bt: task "delta" is running' ||
  bad "bt-delta2: no refusal"
# epsilon yielded: the executor keeps its poll (RUNNING stays set), but it
# is queued, not running, and its frames are there to show.
echo "$tasks" | grep -Eq "$task\"epsilon\"  ready  waiting on yield  polls 1\$" ||
  bad "exco tasks (2): epsilon ready, waiting on yield"
in_order bt-epsilon2 '"epsilon".[(]ready[)]' '^#[0-9].*exco_yield' \
  '[^_]epsilon_spin.[(]' '[^_]epsilon_fn.[(]' 'exco__entry'
in_order bt-alpha2 '"alpha".[(]ready[)]' '[^_]level3.[(]' '[^_]level2.[(]' \
  '[^_]level1.[(]'
in_order bt-self '^#0.*delta_fn' 'exco__entry'

case $gcore_cmd in
gcore*)
  [ -s "$core" ] || bad "gcore wrote no core file"
  section core-tasks | grep -Eq '^  0x[0-9a-f]+  "alpha"  pending' ||
    bad "exco tasks on a core file: no alpha"
  # There the task's frames are numbered from #1.
  in_order core-bt '"alpha".[(]pending[)],.from.a.core.file:$' \
    '^#1.*exco__' '^#[0-9].*[^_]level3.[(]' '^#[0-9].*[^_]level2.[(]' \
    '^#[0-9].*[^_]level1.[(]' '^#[0-9].*exco__entry'
  section core-bt | grep -q gdb_stop_here &&
    bad "exco bt on a core file shows the thread's own frame"
  in_order core-bt-after '^#0.*gdb_stop_here' '^#1.*[^_]main.[(]'
  ;;
esac

# The program goes on after all this and ends well.
sed -n '/^==end$/,$p' "$out" | grep -q 'exited normally' ||
  bad "the program did not exit normally after the commands"

exit $fail
