#!/bin/sh
# Storage: a damaged database (CURRENT, MANIFEST or table files) stops the
# start with a non-zero exit and a message that says how to recover; the
# damaged files are left as they were, not replaced by an empty database.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python

# a database with a campaign in it, flushed to table files
good=$WORK/good
"$BUDGETD" -X state.dir="$good" -X workers=1 -X admin.listen= >"$WORK/d.out" 2>"$WORK/d.log" &
pid=$!
PIDS="$PIDS $pid"
wait_log "$WORK/d.out" "^bootstrap=" 30
BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$WORK/d.out")
"$PYTHON" - "$BOOTSTRAP" <<'PY' || fail "cannot send the control command"
import os, sys
sys.path.insert(0, os.path.join(os.environ.get("srcdir", "."), "tests", "lib"))
from bdclient import *
p = producer(sys.argv[1])
produce(p, "control_command", b"k", encode("control_command",
        control("st", "UPSERT_CAMPAIGN", 50.0, TREATMENTS)))
check_eq(p.flush(10), 0, "unsent messages")
PY
wait_log "$WORK/d.log" "control: UPSERT_CAMPAIGN st" 30
kill "$pid"
wait "$pid" || fail "the daemon did not stop cleanly"
"$BUDGETD" -X state.dir="$good" --dump campaigns | grep -q "^campaign st " ||
	fail "the good database lacks its campaign"
ls "$good"/*.sst >/dev/null 2>&1 || fail "no table files in the good database"
manifest=$(cat "$good/CURRENT")

# damage CASE: copies the good database to $WORK/CASE and damages it
damage() {
	dir=$WORK/$1
	rm -rf "$dir"
	cp -a "$good" "$dir"
	case $1 in
	current-garbage) echo garbage >"$dir/CURRENT" ;;
	current-missing-manifest) echo MANIFEST-999999 >"$dir/CURRENT" ;;
	manifest-truncated) truncate -s 300 "$dir/$manifest" ;;
	manifest-garbled)
		printf '\377\377\377\377\377\377\377\377' |
			dd of="$dir/$manifest" bs=1 seek=100 conv=notrunc 2>/dev/null ;;
	sst-truncated) for f in "$dir"/*.sst; do truncate -s 500 "$f"; done ;;
	sst-garbled)
		for f in "$dir"/*.sst; do
			printf 'XXXXXXXXXXXXXXXX' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
		done ;;
	esac
}
sums() { (cd "$1" && find . -type f ! -name 'LOG*' | sort | xargs md5sum); }

for c in current-garbage current-missing-manifest manifest-truncated manifest-garbled \
	sst-truncated sst-garbled; do
	damage "$c"
	sums "$dir" >"$WORK/$c.before"
	refuse_start "$dir" "cannot open state in $dir: .*move the directory aside and put a backup in its place"
	sums "$dir" >"$WORK/$c.after"
	cmp -s "$WORK/$c.before" "$WORK/$c.after" ||
		fail "$c: the damaged database was changed: $(diff "$WORK/$c.before" "$WORK/$c.after")"
	echo "ok: $c refused"
done
echo "PASS: damaged databases refused with the way to recover, left as they were"
