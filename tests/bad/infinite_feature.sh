#!/bin/sh
# Bad input: an infinite feature (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" infinite_feature
