#!/bin/sh
# Bad input: 5 features where features.dim is 12 (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" wrong_dimension
