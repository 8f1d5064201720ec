#!/bin/sh
# Bad input: a request_id that is not UTF-8 (encoding).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" utf8_request_id
