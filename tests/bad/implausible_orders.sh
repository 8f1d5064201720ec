#!/bin/sh
# Bad input: an outcome with 2e9 orders (implausible).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" implausible_orders
