#!/bin/sh
# Bad input: an outcome naming another user than its decision's (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" wrong_user
