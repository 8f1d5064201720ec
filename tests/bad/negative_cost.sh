#!/bin/sh
# Bad input: an outcome with a negative cost (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" negative_cost
