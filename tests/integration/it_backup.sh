#!/bin/sh
# Backup and restore: budgetd takes a checkpoint every 2 s (checkpoint.dir)
# while a closed-loop day runs; it is stopped, runs a second day without
# checkpoints (the state moves on past the newest checkpoint: what a lost disk
# would lose), and is stopped again.  The newest checkpoint is restored into
# a fresh state.dir the way docs/operations.md says, a daemon started on it
# re-reads from Kafka what came after the checkpoint, and its statistics,
# sample log and campaigns equal the original's: nothing lost, nothing
# counted twice.  The oldest checkpoint kept (taken while the first day was
# being worked on) is restored the same way and must end equal too.
# As in it_crashloop, exploration 1 makes every decision a hash of its
# request, so a replayed request is decided as it was the first time.
#   IT_BACKUP_EVENTS=E tests/integration/it_backup.sh
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
EVENTS=${IT_BACKUP_EVENTS:-2000}
SIMARGS="--events $EVENTS --explore 1 --budget-frac 10 --campaign backup-test -p seed=13 -q"
CP=$WORK/checkpoints

n_checkpoints() { grep -c "checkpoint written" "$WORK/a.log" 2>/dev/null || true; }

start_broker broker

# day 1, checkpoints every 2 s, 3 kept
start_daemon a "$WORK/stateA" $SIM_CLOCK -X checkpoint.dir="$CP" -X checkpoint.interval.s=2 \
	-X checkpoint.keep=3
"$SIM" run --bootstrap "$BOOTSTRAP" --duration 12 --request-prefix d1 $SIMARGS \
	>"$WORK/sim1.out" 2>"$WORK/sim1.log" || fail "simulator day 1: $(tail -n 3 "$WORK/sim1.out")"
caught_up
# one more checkpoint, taken after everything of day 1 was applied
before=$(n_checkpoints)
for _ in $(seq 100); do [ "$(n_checkpoints)" -gt "$before" ] && break; sleep 0.1; done
[ "$(n_checkpoints)" -gt "$before" ] || fail "no checkpoint after day 1"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code (day 1)"
grep -q "checkpoint failed" "$WORK/a.log" && fail "$(grep "checkpoint failed" "$WORK/a.log" | head -n 1)"
taken=$(n_checkpoints)
[ "$taken" -ge 4 ] || fail "only $taken checkpoints in day 1"
kept=$(ls "$CP" | grep -c '^checkpoint-.*Z$')
[ "$kept" = 3 ] || fail "$kept checkpoints kept, want 3: $(ls "$CP")"
ls "$CP" | grep -q '\.tmp$' && fail "a .tmp directory was left: $(ls "$CP")"
newest=$CP/$(ls "$CP" | grep '^checkpoint-.*Z$' | tail -n 1)
oldest=$CP/$(ls "$CP" | grep '^checkpoint-.*Z$' | head -n 1)
grep -q "checkpoint written: $newest " "$WORK/a.log" || fail "the newest checkpoint is not the last one logged"
# hard links: the table files are shared with the live database
links=$(find "$newest" -name '*.sst' -links +1 | wc -l)
[ "$links" -gt 0 ] || echo "note: no hard-linked table files (another file system?)"

# day 2 on the same state, no checkpoints
start_daemon a "$WORK/stateA" $SIM_CLOCK
"$SIM" run --bootstrap "$BOOTSTRAP" --duration 8 --day 1 --request-prefix d2 $SIMARGS \
	>"$WORK/sim2.out" 2>"$WORK/sim2.log" || fail "simulator day 2: $(tail -n 3 "$WORK/sim2.out")"
caught_up
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code (day 2)"
[ "$(n_checkpoints)" = "$taken" ] || fail "checkpoints taken with checkpoint.dir unset"

# an offline backup of the stopped daemon, and --checkpoint refusing a missing state
"$BUDGETD" -X state.dir="$WORK/stateA" --checkpoint "$WORK/offline" >"$WORK/offline.out" ||
	fail "budgetd --checkpoint"
grep -q "^$WORK/offline/checkpoint-" "$WORK/offline.out" || fail "--checkpoint printed $(cat "$WORK/offline.out")"
"$BUDGETD" -X state.dir="$WORK/none" --checkpoint "$WORK/offline" 2>/dev/null &&
	fail "--checkpoint backed up a state.dir that does not exist"
[ -e "$WORK/none" ] && fail "--checkpoint created $WORK/none"

dump() { "$BUDGETD" -X state.dir="$1" --dump "$2" || fail "dump $2 of $1"; }
sum_offsets() { dump "$1" offsets | awk '$2 == "budgetd.features" { s += $4 } END { print s + 0 }'; }
dump "$WORK/stateA" stats >"$WORK/a.stats"
dump "$WORK/stateA" campaigns >"$WORK/a.campaigns"
dump "$WORK/stateA" samples | wc -l >"$WORK/a.samples"
dump "$(cat "$WORK/offline.out")" stats | cmp -s - "$WORK/a.stats" ||
	fail "the offline checkpoint's statistics differ from its state's"

# restore CHECKPOINT NAME: copy it to a fresh state.dir, start on it, catch up, stop
restore() {
	state=$WORK/state-$2
	cp -a "$1" "$state" || fail "cp -a $1"
	from=$(sum_offsets "$state")
	[ "$from" -lt "$(sum_offsets "$WORK/stateA")" ] ||
		fail "$2: the checkpoint is not behind the final state; nothing to replay"
	# its own group, so that catching up is measured by its own commits
	start_daemon "$2" "$state" $SIM_CLOCK -X group.id="restore-$2"
	"$PYTHON" "$srcdir/tests/lib/caughtup.py" "$BOOTSTRAP" "restore-$2" 90 ||
		fail "$2: the restored daemon did not catch up"
	kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "$2: daemon exit code"
	dump "$state" stats >"$WORK/$2.stats"
	dump "$state" campaigns >"$WORK/$2.campaigns"
	dump "$state" samples | wc -l >"$WORK/$2.samples"
	cmp -s "$WORK/a.samples" "$WORK/$2.samples" ||
		fail "$2: sample log $(cat "$WORK/$2.samples") rows, original $(cat "$WORK/a.samples")"
	cmp -s "$WORK/a.campaigns" "$WORK/$2.campaigns" ||
		fail "$2: campaigns differ: $(diff "$WORK/a.campaigns" "$WORK/$2.campaigns")"
	"$PYTHON" "$srcdir/tests/lib/statscmp.py" "$WORK/a.stats" "$WORK/$2.stats" "$((2 * EVENTS))" \
		original restored || fail "$2: statistics differ"
	echo "ok: $2 restored from $(basename "$1") (features offset sum $from, replayed to $(sum_offsets "$state"))"
}
restore "$newest" newest
restore "$oldest" oldest
echo "PASS: $taken checkpoints, 3 kept; restored newest and oldest: statistics, samples and campaigns equal the original"
