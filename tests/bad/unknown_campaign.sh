#!/bin/sh
# Bad input: a feature event for a campaign nobody created (unknown_campaign).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" unknown_campaign
