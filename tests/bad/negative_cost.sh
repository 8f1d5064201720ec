#!/bin/sh
# Bad input: an outcome with a negative cost (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" negative_cost
