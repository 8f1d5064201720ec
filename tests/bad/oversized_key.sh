#!/bin/sh
# Bad input: a key longer than input.max.bytes (oversized, key cut to 1024 bytes).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" oversized_key
