#!/bin/sh
# Storage: an existing state directory that cannot be written stops the
# start with a non-zero exit and a message naming the setting and the path;
# the database in it is left as it was.
#
# chmod 555 does not stop root, so as root (or where a user namespace can
# be made) the directory is a read-only tmpfs in a private mount namespace.
if [ -z "${BD_IN_NS:-}" ] && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	BD_IN_NS=1 exec unshare -m "$0" "$@"
fi
. "${srcdir:-.}/tests/lib/lib.sh"
trap 'umount "$WORK/ro" 2>/dev/null; cleanup' EXIT

state=$WORK/ro/state
mkdir -p "$WORK/ro"
if [ "$(id -u)" = 0 ]; then
	[ -n "${BD_IN_NS:-}" ] && mount -t tmpfs -o size=16m tmpfs "$WORK/ro" 2>/dev/null || {
		echo "SKIP: running as root and cannot mount a tmpfs in a private mount namespace" \
			"(chmod does not stop root from writing)"
		exit 77
	}
fi
"$BUDGETD" -X state.dir="$state" --dump campaigns >/dev/null 2>"$WORK/create.log" ||
	fail "cannot create the database"
sums() { (cd "$state" && find . -type f ! -name 'LOG*' | sort | xargs md5sum); }
sums >"$WORK/before"
if [ "$(id -u)" = 0 ]; then
	mount -o remount,ro "$WORK/ro" || fail "cannot remount the tmpfs read-only"
else
	chmod 555 "$state"
fi
refuse_start "$state" "state.dir: cannot create or write $state: "
sums >"$WORK/after"
chmod 750 "$state" 2>/dev/null
cmp -s "$WORK/before" "$WORK/after" || fail "the database changed: $(diff "$WORK/before" "$WORK/after")"
echo "PASS: read-only state.dir refused, naming the setting and the path; database unchanged"
