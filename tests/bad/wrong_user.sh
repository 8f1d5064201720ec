#!/bin/sh
# Bad input: an outcome naming another user than its decision's (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" wrong_user
