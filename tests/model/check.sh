#!/usr/bin/env bash
# tests/model/check.sh [--full] -- checks wake.pml (the wake protocol) and
# chan.pml (the channel and select handoff) with spin, exhaustively.
#
# The model must pass every property in each configuration, every
# reachability probe must be reached, and every deliberate bug (mutant)
# must be caught with the failure it is meant to cause.  Exits 0 if all of
# that holds, 1 if not, 77 (automake's "skipped") without spin or a C
# compiler.  --full adds the bigger configurations (minutes, GBs of RAM).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
full=0
[ "${1:-}" = --full ] && full=1

if ! command -v spin >/dev/null 2>&1; then
  echo "check.sh: spin not found (apt-get install spin): skipped"
  exit 77
fi
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "check.sh: no C compiler ($cc): skipped"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/wake.pml" "$here/chan.pml" "$work/"
cd "$work" || exit 1
failures=0
model=wake.pml # the model run() checks

# run NAME EXPECT MODE PATTERN -- DEFINES...
#   EXPECT: pass, or fail (then PATTERN, an ERE, must match pan's report).
#   MODE:   safety (assertions, end states) or np (non-progress cycles:
#           with no progress labels in the model, any cycle at all).
run() {
  local name=$1 expect=$2 mode=$3 pattern=$4 ccflags out t0 t1 ok=0
  shift 5
  rm -f pan pan.* ./*.trail
  if ! spin "$@" -a "$model" >spin.log 2>&1; then
    echo "FAIL $name: spin -a failed"; cat spin.log
    failures=$((failures + 1)); return
  fi
  case $mode in
    safety) ccflags=-DSAFETY ;;
    np) ccflags=-DNP ;;
  esac
  if ! "$cc" -O2 $ccflags ${PAN_CFLAGS:-} -o pan pan.c 2>cc.log; then
    echo "FAIL $name: cc pan.c failed"; cat cc.log
    failures=$((failures + 1)); return
  fi
  t0=$(date +%s.%N)
  if [ "$mode" = np ]; then
    out=$(./pan -l -m1000000 2>&1)
  else
    out=$(./pan -m1000000 2>&1)
  fi
  t1=$(date +%s.%N)
  local states time errs
  states=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p')
  errs=$(printf '%s\n' "$out" | sed -n 's/.*errors: \([0-9]*\).*/\1/p')
  time=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if printf '%s\n' "$out" | grep -q 'max search depth too small'; then
    echo "FAIL $name: search depth too small, the search was not complete"
    failures=$((failures + 1)); return
  fi
  if [ "$expect" = pass ]; then
    [ "$errs" = 0 ] && ok=1
  else
    [ -n "$errs" ] && [ "$errs" != 0 ] &&
      printf '%s\n' "$out" | grep -Eq "$pattern" && ok=1
  fi
  if [ $ok = 1 ]; then
    local what="no errors"
    [ "$expect" = fail ] &&
      what="caught: $(printf '%s\n' "$out" | grep -E "$pattern" | head -1 |
                      sed 's/^pan:1: //')"
    printf 'ok   %-34s %10s states %6ss  %s\n' "$name" "$states" "$time" \
      "$what"
  else
    echo "FAIL $name (expected $expect): errors=${errs:-?}"
    printf '%s\n' "$out" | grep -E 'violated|cycle|invalid end|errors:'
    [ -f "$model.trail" ] &&
      spin "$@" -t -p -g "$model" 2>&1 | tail -60
    failures=$((failures + 1))
  fi
}

monitor='assertion violated .*co_pc==1'

echo "== the model of src/task.c: all properties hold"
run "1 host thread"             pass safety '' --
run "2 host threads, 1 waker"   pass safety '' -- -DWORKERS=2 -DNWAKERS=1
run "spurious weak-CAS failures" pass safety '' -- -DSPURIOUS
run "no cycles (all runs end)"  pass np     '' --
run "polls refused on the wrong thread" pass safety '' -- -DREFUSE
run "refused polls, 2 host threads" pass safety '' -- -DREFUSE -DWORKERS=2 \
  -DNWAKERS=1

echo "== reachability probes: each situation is reached"
for p in 1 2 3 4 5 6 7; do
  run "probe $p" fail safety "assertion violated \\($p!=$p\\)" -- -DPROBE=$p
done
run "probe 8" fail safety "assertion violated \\(8!=8\\)" -- -DPROBE=8 -DREFUSE

echo "== deliberate bugs: each is caught"
run "MUT_TAIL_LOADSTORE"        fail safety "$monitor" -- \
  -DMUT_TAIL_LOADSTORE
run "MUT_NO_INFLIGHT"           fail safety 'assertion violated +!\(host_freed\)' -- \
  -DMUT_NO_INFLIGHT
run "MUT_WAKE_BEFORE_CLEAR, 2 threads" fail safety \
  'assertion violated \(\(\(ret==1\)\|\|\(ret==0\)\)\|\|\(ret==4\)\)' -- \
  -DMUT_WAKE_BEFORE_CLEAR -DWORKERS=2 -DNWAKERS=1
run "MUT_RUNNING_NO_MARK"       fail safety "$monitor" -- \
  -DMUT_RUNNING_NO_MARK
run "MUT_YIELD_NO_CANCEL"       fail safety 'assertion violated +!\(resumed_cancelled\)' -- \
  -DMUT_YIELD_NO_CANCEL
run "MUT_DROP_NO_CANCEL"        fail np     'non-progress cycle' -- \
  -DMUT_DROP_NO_CANCEL
run "MUT_REFUSE_NO_REWAKE"      fail safety "$monitor" -- \
  -DREFUSE -DMUT_REFUSE_NO_REWAKE
run "MUT_REFUSE_DROP_MARK"      fail safety "$monitor" -- \
  -DREFUSE -DMUT_REFUSE_DROP_MARK
# Not a bug with one host thread: the host can't poll before the poll that
# pushed returns.  Kept to show the two-thread host is what exposes it.
run "MUT_WAKE_BEFORE_CLEAR, 1 thread" pass safety '' -- \
  -DMUT_WAKE_BEFORE_CLEAR

model=chan.pml
echo "== the model of src/chan.c: all properties hold"
run "channels and select"       pass safety '' --
echo "== reachability probes: each situation is reached"
for p in 1 2 3 4; do
  run "chan probe $p" fail safety "assertion violated \\($p!=$p\\)" -- -DPROBE=$p
done
echo "== deliberate bugs: each is caught"
run "MUT_CLAIM_NO_CAS"          fail safety 'assertion violated .*sent_ok' -- \
  -DMUT_CLAIM_NO_CAS
run "MUT_CANCEL_NO_CAS"         fail safety 'assertion violated .*sent_ok' -- \
  -DMUT_CANCEL_NO_CAS
run "MUT_LEAVE_NO_LOCK"         fail safety 'assertion violated .*(pstate|alive)' -- \
  -DMUT_LEAVE_NO_LOCK
run "MUT_LINK_UNLOCKED"         fail safety 'assertion violated .*(closed|clch)' -- \
  -DMUT_LINK_UNLOCKED
run "MUT_CLOSE_NO_WAKE"         fail safety 'assertion violated .*closed' -- \
  -DMUT_CLOSE_NO_WAKE
model=wake.pml

if [ $full = 1 ]; then
  echo "== bigger configurations"
  PAN_CFLAGS=-DCOLLAPSE run "2 host threads, 2 wakers" pass safety '' -- \
    -DWORKERS=2
  PAN_CFLAGS=-DCOLLAPSE run "3 wakers" pass safety '' -- -DNWAKERS=3
  PAN_CFLAGS=-DCOLLAPSE run "3 steps" pass safety '' -- -DSTEPS=3
  PAN_CFLAGS=-DCOLLAPSE run "2 host threads, 3 steps" pass safety '' -- \
    -DWORKERS=2 -DSTEPS=3
  PAN_CFLAGS=-DNOREDUCE run "1 host thread, no POR" pass safety '' --
fi

if [ $failures != 0 ]; then
  echo "check.sh: $failures check(s) failed"
  exit 1
fi
echo "check.sh: all checks passed"
