#!/bin/sh
# Bad input: a million features, 4 MB: refused by size before decoding (oversized).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" huge_array
