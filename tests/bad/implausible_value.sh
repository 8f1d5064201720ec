#!/bin/sh
# Bad input: an outcome with value 1e308 (implausible).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" implausible_value
