#!/bin/sh
# Bad input: an outcome's decision_id that is not UTF-8 (encoding).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" utf8_decision_id
