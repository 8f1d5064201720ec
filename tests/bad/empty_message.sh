#!/bin/sh
# Bad input: an empty feature message: too short for any framing (wire).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" empty_message
