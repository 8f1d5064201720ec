#!/bin/sh
# make install installs what an operator runs and nothing of the lab:
# budgetd, budgetctl and budgetd-sim, the schemas, README.md and the man
# pages; budgetd-bench and budgetd-train only in a tree configured with
# --enable-lab (docs/install.md).
. "${srcdir:-.}/tests/lib/lib.sh"
DEST=$WORK/root
${MAKE:-make} -s -C "$builddir" install DESTDIR="$DEST" >"$WORK/install.log" 2>&1 ||
	fail "make install DESTDIR=$DEST: $(tail -n 5 "$WORK/install.log")"
bindir=$(find "$DEST" -type d -name bin | head -n 1)
[ -n "$bindir" ] || fail "no bin directory under $DEST"
got=$(ls "$bindir" | tr '\n' ' ')
want="budgetctl budgetd budgetd-sim "
# LAB_INSTALLED: yes in a tree configured with --enable-lab (Makefile.am)
lab=${LAB_INSTALLED:-no}
[ "$lab" = yes ] && want="budgetctl budgetd budgetd-bench budgetd-sim budgetd-train "

[ "$got" = "$want" ] || fail "bin has '$got', want '$want' (--enable-lab: $lab)"
for p in man8/budgetd.8 man5/budgetd.conf.5 man1/budgetctl.1; do
	[ -n "$(find "$DEST" -path "*/man/$p")" ] || fail "man page $p not installed"
done
# every schema of schemas/ (one per message kind: 8 with the changelog's)
want=$(ls "$srcdir"/schemas/*.avsc | wc -l)
[ "$want" -ge 8 ] || fail "only $want schemas in $srcdir/schemas"
n=$(find "$DEST" -path '*/budgetd/schemas/*.avsc' | wc -l)
[ "$n" -eq "$want" ] || fail "$n schemas installed, want $want (every schemas/*.avsc)"
echo "PASS: make install puts $got(--enable-lab: $lab), 3 man pages and $n schemas"
