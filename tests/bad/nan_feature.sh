#!/bin/sh
# Bad input: a NaN feature (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" nan_feature
