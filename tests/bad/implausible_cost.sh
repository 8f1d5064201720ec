#!/bin/sh
# Bad input: an outcome with cost 1e308 (implausible).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" implausible_cost
