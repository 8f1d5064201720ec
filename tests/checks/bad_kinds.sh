#!/bin/sh
# Every kind of bad input in tests/lib/badinput.py has its own test, listed in
# Makefile.am's BAD_INPUT_TESTS: a kind added to the table without its
# test would otherwise never run.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" --list | sort >"$WORK/kinds" || fail "badinput.py --list"
sed -n 's,^	tests/bad/\([a-z0-9_]*\)\.sh.*,\1,p' "$srcdir/Makefile.am" | sort >"$WORK/listed"
[ -s "$WORK/kinds" ] || fail "no kinds listed"
diff "$WORK/kinds" "$WORK/listed" || fail "kinds (<) and BAD_INPUT_TESTS (>) differ"
for k in $(cat "$WORK/kinds"); do
	[ -f "$srcdir/tests/bad/$k.sh" ] || fail "tests/bad/$k.sh is missing"
done
echo "PASS: $(wc -l <"$WORK/kinds") kinds, each with its own test"
