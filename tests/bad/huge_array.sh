#!/bin/sh
# Bad input: a million features, 4 MB: refused by size before decoding (oversized).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" huge_array
