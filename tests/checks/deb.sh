#!/bin/sh
# The Debian package (debian/, docs/install.md "Debian package"): built with
# dpkg-buildpackage from the distribution (what `make dist` ships), it holds
# what an operator runs, the unit with the package's paths (not enabled),
# a conffile, the schemas and the man pages; its binaries run from the
# extracted package; as root, it installs (the unit passes systemd-analyze
# verify, the conffile checks), and purges cleanly.
. "${srcdir:-.}/tests/lib/lib.sh"
[ "${DEB_CHECK:-1}" = 0 ] && { echo "SKIP: DEB_CHECK=0 (./quickstart's ASan pass: the plain pass built the package)"; exit 77; }
command -v dpkg-buildpackage >/dev/null && [ -f /usr/share/perl5/Debian/Debhelper/Dh_Lib.pm ] ||
	{ echo "SKIP: dpkg-dev or debhelper missing (./quickstart check installs them)"; exit 77; }
${MAKE:-make} -s -C "$builddir" distdir distdir="$WORK/budgetd-0.1.0" >"$WORK/dist.log" 2>&1 ||
	fail "make distdir: $(tail -n 5 "$WORK/dist.log")"
[ -x "$WORK/budgetd-0.1.0/debian/rules" ] || fail "the distribution has no debian/rules"
(cd "$WORK/budgetd-0.1.0" &&
	DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-2}" dpkg-buildpackage -b -uc -us \
		>"$WORK/build.log" 2>&1) || fail "dpkg-buildpackage: $(tail -n 30 "$WORK/build.log")"
deb=$(ls "$WORK"/budgetd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no budgetd_*.deb next to the tree"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's,^\./,/,' >"$WORK/files"
for f in /usr/bin/budgetd /usr/bin/budgetctl /usr/bin/budgetd-sim /etc/budgetd/budgetd.conf \
	/lib/systemd/system/budgetd.service /usr/share/man/man8/budgetd.8.gz \
	/usr/share/man/man5/budgetd.conf.5.gz /usr/share/man/man1/budgetctl.1.gz \
	/usr/share/budgetd/schemas/decision.avsc /usr/share/doc/budgetd/README.md \
	/usr/share/doc/budgetd/examples/prometheus/budgetd.rules.yml \
	/usr/share/doc/budgetd/examples/grafana/budgetd.json; do
	grep -qx "$f" "$WORK/files" || fail "$f is not in the package (it has: $(tr '\n' ' ' <"$WORK/files"))"
done
grep -q '/usr/bin/budgetd-bench\|/usr/bin/budgetd-train' "$WORK/files" &&
	fail "the lab's tools are in the package"
dpkg-deb -f "$deb" Depends | grep -q 'librdkafka' || fail "Depends lacks librdkafka: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -qx /etc/budgetd/budgetd.conf ||
	fail "/etc/budgetd/budgetd.conf is not a conffile"
dpkg-deb -x "$deb" "$WORK/root"
unit=$WORK/root/lib/systemd/system/budgetd.service
grep -q '^ExecStart=/usr/bin/budgetd -c /etc/budgetd/budgetd.conf$' "$unit" ||
	fail "the unit's ExecStart: $(grep ExecStart= "$unit")"
grep -q 'usr/local' "$unit" && fail "the unit still names /usr/local: $(grep usr/local "$unit")"
"$WORK/root/usr/bin/budgetd" --version >"$WORK/version" 2>&1 || fail "budgetd --version: $(cat "$WORK/version")"
"$WORK/root/usr/bin/budgetd" -c "$WORK/root/etc/budgetd/budgetd.conf" --check-config >"$WORK/cc" 2>&1 ||
	fail "the packaged configuration does not check: $(cat "$WORK/cc")"
"$WORK/root/usr/bin/budgetctl" --help >/dev/null 2>&1 || fail "budgetctl --help"
installed=""
if [ "$(id -u)" = 0 ] && ! dpkg-query -W budgetd >/dev/null 2>&1; then
	dpkg -i "$deb" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i: $(tail -n 10 "$WORK/dpkg.log")"
	installed=" installed, verified and purged;"
	if command -v systemd-analyze >/dev/null; then
		systemd-analyze verify /lib/systemd/system/budgetd.service >"$WORK/verify" 2>&1 ||
			{ dpkg --purge budgetd >/dev/null 2>&1; fail "systemd-analyze verify: $(cat "$WORK/verify")"; }
	fi
	if command -v systemctl >/dev/null && systemctl is-enabled budgetd >/dev/null 2>&1; then
		dpkg --purge budgetd >/dev/null 2>&1
		fail "the package enabled the unit (it must wait for bootstrap.servers)"
	fi
	dpkg --purge budgetd >"$WORK/purge.log" 2>&1 || fail "dpkg --purge: $(tail -n 10 "$WORK/purge.log")"
	[ -e /etc/budgetd/budgetd.conf ] && fail "the purge left /etc/budgetd/budgetd.conf"
fi
echo "PASS: $(basename "$deb"): $(wc -l <"$WORK/files") paths, the unit with /usr/bin,$installed $(cat "$WORK/version" | head -n 1)"
