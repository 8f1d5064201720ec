# Shared helpers for the shell integration tests (sourced).
set -u
: "${srcdir:=.}" "${builddir:=.}" "${PYTHON:=/usr/bin/python3}"
BUDGETD=$builddir/budgetd
SIM=$builddir/budgetd-sim
# budgetd-sim dates its events in its simulated day (today's UTC midnight +
# day N on, hours ahead of this host's clock): a daemon it drives holds
# event times as they come (docs/architecture.md, Time).
SIM_CLOCK="-X clock.mode=event"
# (also: an admin endpoint on any free port, so tests run side by side)
TEST_KAFKA="-X kafka.session.timeout.ms=6000 -X kafka.heartbeat.interval.ms=500 -X admin.listen=127.0.0.1:0"
# BUDGETD_WRAPPER: a command line start_daemon runs the daemon under
# (valgrind: ./quickstart valgrind); BUDGETD_TIMEOUT_MULT (an integer)
# scales the waits below for it.
: "${BUDGETD_WRAPPER:=}" "${BUDGETD_TIMEOUT_MULT:=1}"
WORK=$(mktemp -d /tmp/budgetd-it.XXXXXX)
PIDS=""

cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }; done
	exit 1
}

need_python() {
	"$PYTHON" -c 'import avro, confluent_kafka' 2>/dev/null ||
		{ echo "SKIP: $PYTHON lacks python3-avro or python3-confluent-kafka"; exit 77; }
}

# start_broker NAME: starts budgetd --broker-only; sets BOOTSTRAP
start_broker() {
	"$BUDGETD" --broker-only --broker-file "$WORK/$1.addr" $TEST_KAFKA \
		>"$WORK/$1.out" 2>"$WORK/$1.log" &
	PIDS="$PIDS $!"
	for _ in $(seq 200); do [ -s "$WORK/$1.addr" ] && break; sleep 0.05; done
	BOOTSTRAP=$(cat "$WORK/$1.addr" 2>/dev/null)
	[ -n "$BOOTSTRAP" ] || fail "broker $1 did not start"
}

# start_daemon NAME STATE_DIR [extra args]: sets DAEMON_PID
start_daemon() {
	name=$1 state=$2
	shift 2
	# shellcheck disable=SC2086 # the wrapper is a command line: split it
	$BUDGETD_WRAPPER "$BUDGETD" -X bootstrap.servers="$BOOTSTRAP" -X state.dir="$state" -X workers=2 \
		-X solve.interval.ms=1000 $TEST_KAFKA "$@" >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
	DAEMON_PID=$!
	PIDS="$PIDS $DAEMON_PID"
}

# wait_log FILE PATTERN [SECONDS]
wait_log() {
	n=$(( ${3:-30} * 10 * BUDGETD_TIMEOUT_MULT ))
	for _ in $(seq "$n"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	fail "no '$2' in $1 after ${3:-30} s"
}

# caught_up [SECONDS]: waits until budgetd has applied every input message
caught_up() {
	"$PYTHON" "$srcdir/tests/lib/caughtup.py" "$BOOTSTRAP" budgetd "$(( ${1:-60} * BUDGETD_TIMEOUT_MULT ))" 2>/dev/null ||
		fail "budgetd did not catch up with its input"
}

# refuse_start STATE_DIR PATTERN: budgetd must refuse to start on STATE_DIR,
# by itself (non-zero exit, no Kafka needed), with PATTERN in its error
refuse_start() {
	timeout 30 "$BUDGETD" -X state.dir="$1" -X bootstrap.servers=127.0.0.1:9 -X admin.listen= \
		>"$WORK/refuse.out" 2>"$WORK/refuse.log"
	rc=$?
	[ "$rc" -ne 0 ] || fail "budgetd started on $1"
	[ "$rc" -ne 124 ] || fail "budgetd did not stop by itself on $1"
	grep -q -- "$2" "$WORK/refuse.log" ||
		fail "no '$2' in the error: $(tail -n 3 "$WORK/refuse.log")"
}
