#!/bin/sh
# The man pages render without a single groff warning.
. "${srcdir:-.}/tests/lib/lib.sh"
command -v groff >/dev/null || { echo "SKIP: no groff"; exit 77; }
for f in budgetd.8 budgetd.conf.5 budgetctl.1; do
	out=$(groff -man -ww -z "$srcdir/docs/$f" 2>&1) || fail "groff failed on docs/$f: $out"
	[ -z "$out" ] || fail "docs/$f: $out"
done
echo "PASS: man pages lint clean (groff -man -ww)"
