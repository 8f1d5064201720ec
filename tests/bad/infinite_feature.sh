#!/bin/sh
# Bad input: an infinite feature (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" infinite_feature
