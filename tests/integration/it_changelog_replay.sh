#!/bin/sh
# The changelog carries the whole state of the partitions (shadow mode,
# docs/reliability.md "The changelog"): a daemon with changelog.enabled=1
# decides a 3000-event day of budgetd-sim (exploration 1: every decision a
# hash of its request), then `budgetd --apply-changelog DIR` builds a new
# store from budgetd.changelog alone, and that store equals the daemon's:
# statistics (tests/lib/statscmp.py), decision records, samples and input
# offsets line for line (the control topic's offset is the daemon's own
# state, not a partition's: it is not in the changelog).  A changelog topic
# with another partition count than the inputs' stops the daemon.
#   IT_CLOG_EVENTS=E tests/integration/it_changelog_replay.sh
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
EVENTS=${IT_CLOG_EVENTS:-3000}
SIMARGS="--events $EVENTS --explore 1 --budget-frac 10 --campaign clog-test --request-prefix cl -p seed=13 -q"

start_broker broker
# records past 1024 bytes (the least) split into parts: the rebuild gathers
# them again
start_daemon a "$WORK/state" $SIM_CLOCK -X changelog.enabled=1 -X changelog.max.bytes=1024
"$SIM" run --bootstrap "$BOOTSTRAP" --duration 15 $SIMARGS >"$WORK/sim.out" 2>"$WORK/sim.log" ||
	fail "simulator: $(tail -n 3 "$WORK/sim.out")"
caught_up
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code"
grep -q "changelog.*lost\|changelog.*not produced\|changelog:.*stopping" "$WORK/a.log" &&
	fail "the daemon lost changelog records: $(grep changelog "$WORK/a.log" | head -n 3)"

# a store from the changelog alone (the broker still runs; the daemon is gone)
"$BUDGETD" -X bootstrap.servers="$BOOTSTRAP" --apply-changelog "$WORK/rebuilt" \
	>"$WORK/apply.out" 2>"$WORK/apply.log" || fail "--apply-changelog: $(cat "$WORK/apply.log")"
cat "$WORK/apply.out"
grep -q "records" "$WORK/apply.out" || fail "no summary from --apply-changelog"
grep -q " 0 batches cut short" "$WORK/apply.out" || fail "batches cut short: $(grep applied "$WORK/apply.out")"
records=$(sed -n 's/^applied .* partitions, \([0-9]*\) records.*/\1/p' "$WORK/apply.out")
batches=$(sed -n 's/^applied .*), \([0-9]*\) batches, .*/\1/p' "$WORK/apply.out")
[ "$records" -gt "$batches" ] || fail "no batch was split into parts ($records records, $batches batches)"
# a second run into the same directory is refused: it builds new stores only
"$BUDGETD" -X bootstrap.servers="$BOOTSTRAP" --apply-changelog "$WORK/rebuilt" \
	>/dev/null 2>"$WORK/again.log" && fail "--apply-changelog wrote into an existing store"
grep -q "already holds one" "$WORK/again.log" || fail "no reason: $(cat "$WORK/again.log")"

for what in stats decisions samples offsets; do
	"$BUDGETD" -X state.dir="$WORK/state" --dump $what >"$WORK/daemon.$what" || fail "dump $what"
	"$BUDGETD" -X state.dir="$WORK/rebuilt" --dump $what >"$WORK/rebuilt.$what" ||
		fail "dump rebuilt $what"
done
grep -v "^offset budgetd.control " "$WORK/daemon.offsets" >"$WORK/daemon.offsets.in"
mv "$WORK/daemon.offsets.in" "$WORK/daemon.offsets"
[ -s "$WORK/daemon.decisions" ] || fail "the daemon stored no decisions"
"$PYTHON" "$srcdir/tests/lib/statscmp.py" "$WORK/daemon.stats" "$WORK/rebuilt.stats" "$EVENTS" \
	"the daemon's store" "the store from the changelog" || fail "statistics differ"
for what in decisions samples offsets; do
	cmp -s "$WORK/daemon.$what" "$WORK/rebuilt.$what" ||
		fail "$what differ ($(wc -l <"$WORK/daemon.$what") lines in the daemon's store, $(wc -l <"$WORK/rebuilt.$what") rebuilt): $(diff "$WORK/daemon.$what" "$WORK/rebuilt.$what" | head -n 4)"
done
# Restarted on its own store, the daemon reads only what came after its
# clean stop (which moved its position to the logs' ends): the zombie's
# record, fenced; started on the rebuilt store, a daemon reads the same
# (the rebuild marked every partition applied up to its end, and the
# highest epoch it applied).  (A restart after a kill reads its own records
# back and skips them: it_takeover.py.)
# A zombie's record (an instance that lost the lock and still wrote: an
# epoch older than the daemon's) comes last: fenced, not applied.
PYTHONPATH="$srcdir/tests/lib" "$PYTHON" - "$BOOTSTRAP" <<'EOF' || fail "cannot produce the zombie's record"
import sys, time
from bdclient import Producer, encode
p = Producer({"bootstrap.servers": sys.argv[1]})
rec = {"kind": "BATCH", "partition": 0, "epoch": 1, "instance": "zombie", "batch_seq": 0,
       "part": 0, "parts": 1, "ts_ms": int(time.time() * 1000), "input_offsets": [],
       "ops": [{"cf": "DECISIONS", "op": "PUT", "key": b"\0\0zombie!!", "value": b"x"}]}
p.produce("budgetd.changelog", encode("changelog", rec), key=b"\0\0", partition=0)
sys.exit(0 if p.flush(10) == 0 else 1)
EOF
start_daemon a2 "$WORK/state" $SIM_CLOCK -X changelog.enabled=1 -X changelog.max.bytes=1024
wait_log "$WORK/a2.log" "restored from budgetd.changelog" 60
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code (restart)"
line=$(grep -o "restored from budgetd.changelog.*" "$WORK/a2.log")
echo "own store: $line"
echo "$line" | grep -q " 1 records read, 0 batches applied (0 operations), 0 records of batches held already, 1 records of a fenced epoch" ||
	fail "the restart read its own records back (its clean stop moved its position to the end), or applied the zombie's: $line"
start_daemon r "$WORK/rebuilt" $SIM_CLOCK -X changelog.enabled=1
wait_log "$WORK/r.log" "restored from budgetd.changelog" 60
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code (rebuilt store)"
line=$(grep -o "restored from budgetd.changelog.*" "$WORK/r.log")
echo "rebuilt store: $line"
echo "$line" | grep -q " 1 records read, 0 batches applied (0 operations), 0 records of batches held already, 1 records of a fenced epoch" ||
	fail "the rebuilt store read the daemon's records again, or applied the zombie's: $line"
"$BUDGETD" -X state.dir="$WORK/state" --dump stats >"$WORK/daemon.stats2" || fail "dump stats"
"$PYTHON" "$srcdir/tests/lib/statscmp.py" "$WORK/daemon.stats" "$WORK/daemon.stats2" "$EVENTS" \
	"the store before the restart" "after it" || fail "the restart changed the statistics"
"$BUDGETD" -X state.dir="$WORK/state" --dump decisions >"$WORK/daemon.decisions2" || fail "dump decisions"
cmp -s "$WORK/daemon.decisions" "$WORK/daemon.decisions2" ||
	fail "the restart changed the decision records: $(diff "$WORK/daemon.decisions" "$WORK/daemon.decisions2" | head -n 3)"

# Fail closed: a changelog topic that is not co-partitioned with the inputs
# (the mock broker creates an unknown topic with 4 partitions) stops the
# daemon before it decides anything.
timeout 60 "$BUDGETD" -X bootstrap.servers="$BOOTSTRAP" -X state.dir="$WORK/state2" $TEST_KAFKA \
	-X changelog.enabled=1 -X topic.changelog=budgetd.changelog4 >"$WORK/four.out" 2>"$WORK/four.log"
rc=$?
[ "$rc" -eq 1 ] || fail "a daemon with a 4-partition changelog exited $rc (want 1)"
grep -q "cannot start deciding: changelog.enabled: budgetd.changelog4 has 4 partitions, budgetd.features 8" \
	"$WORK/four.log" || fail "no reason for the refusal: $(grep ERROR "$WORK/four.log")"
echo "PASS: the store from the changelog equals the daemon's: statistics, $(wc -l <"$WORK/daemon.decisions") decisions, $(wc -l <"$WORK/daemon.samples") samples, $(wc -l <"$WORK/daemon.offsets") offsets; restarts on both stores apply nothing again, a zombie's record fenced; a 4-partition changelog refused"
