#!/bin/sh
# Bad input: a request_id that is not UTF-8 (encoding).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" utf8_request_id
