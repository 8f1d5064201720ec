#!/bin/sh
# Bad input: SET_BUDGET with a negative budget (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_negative_budget
