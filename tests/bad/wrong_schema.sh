#!/bin/sh
# Bad input: an outcome event on the feature topic (schema).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" wrong_schema
