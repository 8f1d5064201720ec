#!/bin/sh
# Bad input: a context value above U+10FFFF (encoding).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" utf8_context
