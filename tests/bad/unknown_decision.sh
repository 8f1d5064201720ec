#!/bin/sh
# Bad input: an outcome for a decision never made (unknown_decision).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" unknown_decision
