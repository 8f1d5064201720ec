#!/bin/sh
# Bad input: a treatment name that is not UTF-8 (encoding).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_utf8_treatment
