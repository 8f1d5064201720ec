#!/bin/sh
# Bad input: SET_BUDGET with a negative budget (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" control_negative_budget
