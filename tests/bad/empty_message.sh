#!/bin/sh
# Bad input: an empty feature message: too short for any framing (wire).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" empty_message
