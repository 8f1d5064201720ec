#!/bin/sh
# Bad input: SET_BUDGET for a campaign nobody created (unknown_campaign).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" control_unknown_campaign
