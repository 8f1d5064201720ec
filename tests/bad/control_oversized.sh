#!/bin/sh
# Bad input: a control command over a configured input.max.bytes (oversized).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_oversized
