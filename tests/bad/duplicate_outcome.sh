#!/bin/sh
# Bad input: the same outcome twice: the second is a duplicate.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" duplicate_outcome
