#!/bin/sh
# Bad input: a 200 000-byte user_id (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" huge_string
