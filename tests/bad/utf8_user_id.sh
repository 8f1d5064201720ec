#!/bin/sh
# Bad input: a user_id with an overlong encoding (encoding).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" utf8_user_id
