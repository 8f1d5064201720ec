#!/bin/sh
# Bad input: the same outcome twice: the second is a duplicate.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" duplicate_outcome
