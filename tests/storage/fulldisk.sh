#!/bin/sh
# Storage: a full disk stops the daemon with a non-zero exit and a message
# saying so; nothing of the failed batch is applied, so once there is room
# again a restart on the same state decides every request (no input lost,
# the database not damaged).
#
# A small tmpfs in a private mount namespace is the full disk: that needs
# root (or a user namespace); without it the test is skipped.
if [ -z "${BD_IN_NS:-}" ]; then
	if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
		BD_IN_NS=1 exec unshare -m "$0" "$@"
	elif unshare -rm true 2>/dev/null; then
		BD_IN_NS=1 exec unshare -rm "$0" "$@"
	fi
fi
. "${srcdir:-.}/tests/lib/lib.sh"
trap 'umount "$WORK/disk" 2>/dev/null; cleanup' EXIT
need_python
mkdir -p "$WORK/disk"
[ -n "${BD_IN_NS:-}" ] && mount -t tmpfs -o size=8m tmpfs "$WORK/disk" 2>/dev/null || {
	echo "SKIP: cannot mount a small tmpfs in a private mount namespace (needs root" \
		"or user namespaces): no honest way to fill a disk here"
	exit 77
}
state=$WORK/disk/state

start_broker broker
start_daemon d1 "$state"
wait_log "$WORK/d1.log" "assigned budgetd.features" 40
# send: the campaign, then N requests (N=0: only the campaign)
send() {
	"$PYTHON" - "$BOOTSTRAP" "$1" "$2" <<'PY' || fail "cannot send"
import os, sys
sys.path.insert(0, os.path.join(os.environ.get("srcdir", "."), "tests", "lib"))
from bdclient import *
p = producer(sys.argv[1])
if sys.argv[2] == "campaign":
    produce(p, "control_command", b"k", encode("control_command",
            control("full", "UPSERT_CAMPAIGN", 50.0, TREATMENTS)))
for i in range(int(sys.argv[3])):
    produce(p, "feature_event", b"u%d" % i, encode("feature_event", {
        "request_id": "r%d" % i, "campaign_id": "full", "user_id": "u%d" % i,
        "ts_ms": int(time.time() * 1000), "features": [0.5] * 12, "context": {}}))
check_eq(p.flush(10), 0, "unsent messages")
PY
}
send campaign 0
wait_log "$WORK/d1.log" "control: UPSERT_CAMPAIGN full" 30
# fill the disk, then ask for decisions: their batch cannot be written
dd if=/dev/zero of="$WORK/disk/filler" bs=64k 2>/dev/null
send requests 200
for _ in $(seq 300); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "the daemon runs on with a full disk"
wait "$DAEMON_PID"
rc=$?
[ "$rc" -ne 0 ] || fail "the daemon stopped with exit code 0 on a full disk"
grep -q "No space left on device" "$WORK/d1.log" || fail "no 'No space left on device' in the log"
# room again: the same state restarts and decides all 200 requests
rm -f "$WORK/disk/filler"
start_daemon d2 "$state"
caught_up 60
kill "$DAEMON_PID"
wait "$DAEMON_PID" || fail "the restarted daemon did not stop cleanly"
n=$("$BUDGETD" -X state.dir="$state" --dump stats | awk '$1 == "cell" && $3 == "full" {s += $8} END {print s + 0}')
[ "$n" = 200 ] || fail "after the restart $n of 200 requests are decided"
echo "PASS: a full disk stops the daemon (exit $rc); after the restart all 200 requests are decided"
