#!/bin/sh
# Bad input: a NaN feature (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" nan_feature
