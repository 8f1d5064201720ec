#!/bin/sh
# Bad input: a feature event dated 400 days ahead (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" future_timestamp
