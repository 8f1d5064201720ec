#!/bin/sh
# Bad input: a context value above U+10FFFF (encoding).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" utf8_context
