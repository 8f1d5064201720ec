#!/bin/sh
# Bad input: an outcome dated 10 minutes before its decision (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" outcome_before_decision
