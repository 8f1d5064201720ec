#!/bin/sh
# Bad input: an outcome for a decision never made (unknown_decision).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" unknown_decision
