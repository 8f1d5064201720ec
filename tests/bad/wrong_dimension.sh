#!/bin/sh
# Bad input: 5 features where features.dim is 12 (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" wrong_dimension
