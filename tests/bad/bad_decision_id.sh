#!/bin/sh
# Bad input: an outcome whose decision_id is not hex (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" bad_decision_id
