#!/bin/sh
# systemd integration: the unit file verifies, and the real daemon tells
# $NOTIFY_SOCKET STATUS= during start-up, READY=1 only once every worker
# holds its partitions, WATCHDOG=1 while every loop ticks (and not while a
# worker's loop is stopped), RELOADING=1/READY=1 on SIGHUP, STOPPING=1.
. "${srcdir:-.}/tests/lib.sh"

grep -q '^#define HAVE_SYSTEMD 1' "$builddir/config.h" ||
	{ echo "SKIP: built without --with-systemd (sd_notify calls are no-ops)"; exit 77; }

# The unit as shipped names /usr/local/bin/budgetd, which `systemd-analyze
# verify` checks exists; verify a copy that names the binary just built.
if command -v systemd-analyze >/dev/null 2>&1; then
	bin=$(cd "$builddir" && pwd)/budgetd
	sed "s|^ExecStart=/usr/local/bin/budgetd|ExecStart=$bin|" \
		"$srcdir/systemd/budgetd.service" >"$WORK/budgetd.service"
	grep -q "^ExecStart=$bin " "$WORK/budgetd.service" || fail "ExecStart not substituted"
	systemd-analyze verify "$WORK/budgetd.service" >"$WORK/verify.log" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$WORK/verify.log")"
	[ -s "$WORK/verify.log" ] && fail "systemd-analyze verify warns: $(cat "$WORK/verify.log")"
	echo "systemd-analyze verify: clean"
else
	echo "note: no systemd-analyze; the unit file is not verified"
fi

"$PYTHON" "$srcdir/tests/it_systemd.py" "$WORK"
