#!/bin/sh
# Mid-day control: budget set/raised/cut -> a published plan within a
# second; pause -> control only; resume; a spent budget stops everything.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_control.py"
exit $?
