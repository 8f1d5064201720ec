#!/bin/sh
# Bad input: an outcome whose decision_id is not hex (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" bad_decision_id
