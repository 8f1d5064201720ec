#!/bin/sh
# The crash loop: SIGKILL the daemon at KILLS random points of a closed-loop
# day (default 24) -- while it opens its store, replays, joins the group or
# works -- restart it each time, and the statistics, spend and sample log
# equal those of a run without kills, and no decision id is ever published
# with two different treatments.  Both runs see the same day (budgetd-sim
# with exploration 1, so every decision is a hash of its request and both
# runs decide alike; a budget that is never exhausted, so exploration never
# stops); each has its own embedded broker and state directory.
#   IT_CRASH_KILLS=N IT_CRASH_SEED=S IT_CRASH_EVENTS=E tests/integration/it_crashloop.sh
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
EVENTS=${IT_CRASH_EVENTS:-3000}
KILLS=${IT_CRASH_KILLS:-24}
SEED=${IT_CRASH_SEED:-$(date +%s)}
echo "crash loop: $KILLS kills, seed $SEED (IT_CRASH_SEED=$SEED repeats the kill points)"
SIMARGS="--events $EVENTS --explore 1 --budget-frac 10 --campaign kill-test --request-prefix kt -p seed=11 -q"

# run A: uninterrupted
start_broker brokerA
start_daemon a "$WORK/stateA" $SIM_CLOCK
"$SIM" run --bootstrap "$BOOTSTRAP" --duration 15 $SIMARGS >"$WORK/simA.out" 2>"$WORK/simA.log" ||
	fail "simulator run A: $(tail -n 3 "$WORK/simA.out")"
caught_up
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon A exit code"

# run B: SIGKILLed three times while the day runs
start_broker brokerB
start_daemon b "$WORK/stateB" $SIM_CLOCK
# (150 s: a restart after a SIGKILL waits for the killed holder's instance
# lock to expire, a session timeout and the mock's rebalance, ~15 s; the day
# must outlast the 12 restarts that wait for their partitions)
# --drain: each restart after a kill waits out the killed member's session
# in the instance-lock group and then in the consumers' group (~16-19 s a
# cycle), so the loop can outlast the 150-s day: the decisions still
# missing then come from the last restart, after the day
"$SIM" run --bootstrap "$BOOTSTRAP" --duration 150 --drain 240 $SIMARGS >"$WORK/simB.out" 2>"$WORK/simB.log" &
SIM_PID=$!
PIDS="$PIDS $SIM_PID"
# Kill points from SEED: odd kills at a uniform [0.2, 4.0) s after the
# (re)start -- while the store opens, the control topic replays or the group
# forms -- even kills at [0.1, 2.0) s after the partitions are assigned, mid-work.
awk -v n="$KILLS" -v s="$SEED" 'BEGIN { srand(s); for (i = 1; i <= n; i++)
	printf "%s %.2f\n", i % 2 ? "start" : "work", i % 2 ? 0.2 + 3.8 * rand() : 0.1 + 1.9 * rand() }' \
	>"$WORK/kill-points"
kills=0 early=0
while read -r mode at; do
	if [ "$mode" = work ]; then
		for _ in $(seq 300); do
			grep -q "assigned budgetd.features" "$WORK/b.log" && break
			sleep 0.1
		done
	fi
	sleep "$at"
	grep -q "assigned budgetd.features" "$WORK/b.log" || early=$((early + 1))
	kill -9 "$DAEMON_PID" 2>/dev/null && kills=$((kills + 1))
	wait "$DAEMON_PID" 2>/dev/null
	# each run's own log says whether it got as far as its partitions
	mv "$WORK/b.log" "$WORK/b.log.$kills"
	start_daemon b "$WORK/stateB" $SIM_CLOCK
done <"$WORK/kill-points"
wait "$SIM_PID" || fail "simulator run B: $(tail -n 5 "$WORK/simB.out")"
# the last restart must hold its partitions before the check: the group's
# committed offsets are the killed runs' and may already be at the end (a
# slow start, under ASan, was stopped with TERM before its signal handlers)
wait_log "$WORK/b.log" "ready: every worker holds its partitions" 120
caught_up
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon B exit code"
[ "$kills" = "$KILLS" ] || fail "only $kills of $KILLS kills landed"
grep -q "CONFLICTS" "$WORK/simB.out" && fail "a decision changed treatment: $(grep CONFLICTS "$WORK/simB.out")"
# Exactly-once input: a restart resumes at the stored offsets, so no input
# is ever read twice and the duplicate guards (repeated requests, repeated
# outcomes) never fire; the day has no bad input, so no dead letter at all.
# (Without the stored offsets the guards would still keep the statistics
# right, but every restart would re-read and dead-letter old outcomes.)
"$PYTHON" - "$BOOTSTRAP" <<'PY' || fail "dead letters in the killed run"
import sys, time
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "crashloop-dlq",
              "enable.auto.commit": False})
t = "budgetd.deadletters"
parts = c.list_topics(t, timeout=10).topics[t].partitions
n = 0
for p in parts:
    lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
    n += hi - lo
c.close()
if n:
    print("%d dead letters in the killed run (inputs read twice?)" % n)
    sys.exit(1)
PY

"$BUDGETD" -X state.dir="$WORK/stateA" --dump stats >"$WORK/a.stats" || fail "dump A"
"$BUDGETD" -X state.dir="$WORK/stateB" --dump stats >"$WORK/b.stats" || fail "dump B"
"$BUDGETD" -X state.dir="$WORK/stateA" --dump samples | wc -l >"$WORK/a.samples"
"$BUDGETD" -X state.dir="$WORK/stateB" --dump samples | wc -l >"$WORK/b.samples"
cmp -s "$WORK/a.samples" "$WORK/b.samples" ||
	fail "sample log: $(cat "$WORK/a.samples") rows without kills, $(cat "$WORK/b.samples") with"
"$PYTHON" "$srcdir/tests/lib/statscmp.py" "$WORK/a.stats" "$WORK/b.stats" "$EVENTS" \
	"without kills" "with kills" || fail "statistics differ"
echo "PASS: $kills SIGKILLs ($early before the partitions were assigned), statistics, spend and sample log equal to the uninterrupted run"
