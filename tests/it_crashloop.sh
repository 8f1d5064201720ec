#!/bin/sh
# Kill -9 mid-stream, restart, and the statistics equal those of a run
# without the kill.  Both runs see the same closed-loop day (budgetd-sim with
# exploration 1, so every decision is a hash of its request and both runs
# decide alike; a budget that is never exhausted, so exploration never
# stops); each has its own embedded broker and state directory.
. "${srcdir:-.}/tests/lib.sh"
need_python
EVENTS=${IT_RESTART_EVENTS:-1500}
SIMARGS="--events $EVENTS --duration 15 --explore 1 --budget-frac 10 --campaign kill-test --request-prefix kt -p seed=11 -q"

# run A: uninterrupted
start_broker brokerA
start_daemon a "$WORK/stateA"
"$SIM" run --bootstrap "$BOOTSTRAP" $SIMARGS >"$WORK/simA.out" 2>"$WORK/simA.log" ||
	fail "simulator run A: $(tail -n 3 "$WORK/simA.out")"
caught_up
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon A exit code"

# run B: SIGKILLed three times while the day runs
start_broker brokerB
start_daemon b "$WORK/stateB"
"$SIM" run --bootstrap "$BOOTSTRAP" $SIMARGS >"$WORK/simB.out" 2>"$WORK/simB.log" &
SIM_PID=$!
PIDS="$PIDS $SIM_PID"
kills=0
for at in 1.5 0.7 2.2; do
	# kill while it works: after it has its partitions and some input
	n=$(grep -c "assigned budgetd.features" "$WORK/b.log")
	for _ in $(seq 300); do
		[ "$(grep -c "assigned budgetd.features" "$WORK/b.log")" -gt "$n" ] && break
		sleep 0.1
	done
	sleep "$at"
	kill -9 "$DAEMON_PID" 2>/dev/null && kills=$((kills + 1))
	wait "$DAEMON_PID" 2>/dev/null
	start_daemon b "$WORK/stateB"
done
wait "$SIM_PID" || fail "simulator run B: $(tail -n 5 "$WORK/simB.out")"
caught_up
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon B exit code"
[ "$kills" = 3 ] || fail "only $kills kills landed"
grep -q "CONFLICTS" "$WORK/simB.out" && fail "a decision changed treatment: $(grep CONFLICTS "$WORK/simB.out")"

"$BUDGETD" -X state.dir="$WORK/stateA" --dump stats >"$WORK/a.stats" || fail "dump A"
"$BUDGETD" -X state.dir="$WORK/stateB" --dump stats >"$WORK/b.stats" || fail "dump B"
"$BUDGETD" -X state.dir="$WORK/stateA" --dump samples | wc -l >"$WORK/a.samples"
"$BUDGETD" -X state.dir="$WORK/stateB" --dump samples | wc -l >"$WORK/b.samples"
cmp -s "$WORK/a.samples" "$WORK/b.samples" ||
	fail "sample log: $(cat "$WORK/a.samples") rows without kills, $(cat "$WORK/b.samples") with"
"$PYTHON" - "$WORK/a.stats" "$WORK/b.stats" "$EVENTS" <<'PY' || fail "statistics differ"
import sys
from collections import defaultdict

def load(path):
    # summed over partitions: the two runs may assign users to partitions alike,
    # but compare per (kind, campaign, model, cluster, treatment | day) to be safe
    acc = defaultdict(lambda: [0.0] * 19)
    for line in open(path):
        f = line.split()
        if f[0] == "cell":
            key, vals = tuple(f[0:1] + f[2:7]), f[7:]
        elif f[0] == "delay":
            key, vals = tuple(f[0:1] + f[2:3]), f[3:]
        else:
            key, vals = tuple(f[0:1] + f[2:4]), f[4:]
        for i, v in enumerate(vals):
            acc[key][i] += float(v)
    return acc

a, b = load(sys.argv[1]), load(sys.argv[2])
events = int(sys.argv[3])
assert set(a) == set(b), "different keys: %s" % (set(a) ^ set(b))
for k in a:
    for i, (x, y) in enumerate(zip(a[k], b[k])):
        assert abs(x - y) <= 1e-9 * max(1.0, abs(x)), "%s[%d]: %r without kills, %r with" % (k, i, x, y)
dec = sum(v[0] for k, v in a.items() if k[0] == "cell")
out = sum(v[1] for k, v in a.items() if k[0] == "cell")
assert dec == events and out == events, "decisions %r outcomes %r, want %d" % (dec, out, events)
print("statistics equal over %d keys; %d decisions and %d outcomes each" % (len(a), dec, out))
PY
echo "PASS: 3 SIGKILLs, statistics and sample log equal to the uninterrupted run"
