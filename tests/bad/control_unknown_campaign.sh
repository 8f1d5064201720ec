#!/bin/sh
# Bad input: SET_BUDGET for a campaign nobody created (unknown_campaign).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_unknown_campaign
