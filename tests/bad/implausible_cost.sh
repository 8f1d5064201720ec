#!/bin/sh
# Bad input: an outcome with cost 1e308 (implausible).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" implausible_cost
