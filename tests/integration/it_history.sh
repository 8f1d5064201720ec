#!/bin/sh
# Historical samples are outcome evidence, never traffic: not before a
# RETRAIN, not after it.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_history.py"
exit $?
