#!/bin/sh
# Bad input: a 200 000-byte user_id (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" huge_string
