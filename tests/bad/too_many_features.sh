#!/bin/sh
# Bad input: 5000 features, over the 4096 limit (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" too_many_features
