#!/bin/sh
# Bad input: a feature event without request_id (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" empty_request_id
