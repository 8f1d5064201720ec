#!/bin/sh
# The demo path: daemon with its own embedded broker + simulator for a short
# day; the summary line is complete and the numbers are sane.
. "${srcdir:-.}/tests/lib.sh"
"$BUDGETD" -X state.dir="$WORK/state" -X solve.interval.ms=500 $SIM_CLOCK $TEST_KAFKA \
	>"$WORK/daemon.out" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
PIDS="$PIDS $DAEMON_PID"
for _ in $(seq 100); do grep -q '^bootstrap=' "$WORK/daemon.out" && break; sleep 0.1; done
BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$WORK/daemon.out")
[ -n "$BOOTSTRAP" ] || fail "no bootstrap line"
"$SIM" run --bootstrap "$BOOTSTRAP" --events 4000 --duration 20 --budget-frac 0.3 -q \
	>"$WORK/sim.out" 2>"$WORK/sim.log" || fail "simulator: $(tail -n 5 "$WORK/sim.out")"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code"
line=$(grep '^demo: ' "$WORK/sim.out") || fail "no demo: line"
echo "$line"
"$PYTHON" - "$line" <<'PY' || fail "demo numbers"
import sys
kv = dict(f.split("=") for f in sys.argv[1].split()[1:])
v = {k: float(x) for k, x in kv.items()}
assert v["events"] == 4000 and v["decisions"] == 4000, v
assert v["spend"] > 0 and v["budget"] > 0 and v["value"] > 0, v
assert v["random_value"] > 0 and v["oracle_value"] > 0, v
PY
echo "PASS: demo summary complete"
