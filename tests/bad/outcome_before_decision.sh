#!/bin/sh
# Bad input: an outcome dated 10 minutes before its decision (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" outcome_before_decision
