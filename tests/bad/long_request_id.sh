#!/bin/sh
# Bad input: a 5000-byte request_id (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" long_request_id
