#!/bin/sh
# Bad input: an outcome event on the feature topic (schema).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" wrong_schema
