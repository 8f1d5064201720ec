#!/bin/sh
# Bad input: an outcome with 2e9 orders (implausible).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" implausible_orders
