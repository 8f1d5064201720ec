#!/bin/sh
# Bad input: a feature event without request_id (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" empty_request_id
