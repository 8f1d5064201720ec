#!/bin/sh
# A bad command line or configuration stops the start with a message that
# says what and where; the tools' offline modes work.
. "${srcdir:-.}/tests/lib/lib.sh"

expect_fail() { # CODE PATTERN -- command...
	code=$1 pat=$2
	shift 2
	"$@" >"$WORK/out" 2>&1
	rc=$?
	[ "$rc" = "$code" ] || fail "exit $rc, want $code: $* -> $(cat "$WORK/out")"
	grep -q -- "$pat" "$WORK/out" || fail "no '$pat' in: $(cat "$WORK/out")"
}

expect_fail 2 "unrecognized option '--nope'" "$BUDGETD" --nope
expect_fail 2 "workers: '0' is not an integer in 1..64" "$BUDGETD" -X workers=0
expect_fail 2 "unknown setting 'worker'" "$BUDGETD" -X worker=2
expect_fail 2 "expected KEY=VALUE" "$BUDGETD" -X workers
printf 'workers = 2\n# fine\nclusters = lots\n' >"$WORK/bad.conf"
expect_fail 2 "bad.conf:3: clusters: 'lots'" "$BUDGETD" -c "$WORK/bad.conf"
expect_fail 2 "nope.conf: No such file" "$BUDGETD" -c "$WORK/nope.conf"
expect_fail 2 "are both 'x'" "$BUDGETD" -X topic.plans=x -X topic.models=x
# a state directory that cannot be created: exit 1, the path in the message
expect_fail 1 "cannot create or write /proc/budgetd" "$BUDGETD" -X state.dir=/proc/budgetd/x \
	-X bootstrap.servers=127.0.0.1:1
"$BUDGETD" --show-config >"$WORK/show" || fail "--show-config"
grep -q '^workers = 2	# Worker threads' "$WORK/show" || fail "--show-config lacks docs"
[ "$(grep -c ' = ' "$WORK/show")" -ge 25 ] || fail "--show-config lists too few settings"
"$BUDGETD" -X kafka.sasl.password=hunter2 --show-config | grep -q 'hunter2' &&
	fail "--show-config shows a password"
"$BUDGETD" -c "$srcdir/budgetd.conf.example" --check-config >/dev/null ||
	fail "the example configuration does not validate"

# an admin port already taken: exit 1 naming it (once an abort in the clean-up)
"$PYTHON" -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$WORK/port" &
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
expect_fail 1 "admin.listen: cannot listen on 127.0.0.1:$(cat "$WORK/port")" \
	"$BUDGETD" -X state.dir="$WORK/taken" -X admin.listen=127.0.0.1:"$(cat "$WORK/port")"

# budgetd-sim: bad options, offline samples
expect_fail 2 "users" "$SIM" offline --out "$WORK/s.csv" -p users=-5
expect_fail 2 "--bootstrap ADDR is required" "$SIM" run
"$SIM" offline --out "$WORK/s.csv" --samples 500 --policy biased -p seed=3 ||
	fail "budgetd-sim offline"
head -n 1 "$WORK/s.csv" | grep -q '^user_id,segment,treatment,propensity,converted,orders,value,cost,f0,' ||
	fail "sample header: $(head -n 1 "$WORK/s.csv")"
[ "$(wc -l <"$WORK/s.csv")" = 501 ] || fail "expected 500 samples"
"$SIM" offline --out "$WORK/s2.csv" --samples 500 --policy biased -p seed=3
cmp -s "$WORK/s.csv" "$WORK/s2.csv" || fail "samples are not deterministic for a seed"
# budgetd-train: unreadable and malformed sample files are named
TRAIN=$builddir/budgetd-train
expect_fail 1 "nope.csv" "$TRAIN" --samples "$WORK/nope.csv"
printf 'a,b\n1,2\n' >"$WORK/bad.csv"
expect_fail 1 "bad.csv:1: not a sample file" "$TRAIN" --samples "$WORK/bad.csv"
head -n 3 "$WORK/s.csv" >"$WORK/short.csv"
printf '5,1,x,0.25\n' >>"$WORK/short.csv"
expect_fail 1 "short.csv:4: column 3 is not a number" "$TRAIN" --samples "$WORK/short.csv"
expect_fail 2 "usage" "$TRAIN" --k 1
echo "PASS: command-line and configuration errors say what and where"
