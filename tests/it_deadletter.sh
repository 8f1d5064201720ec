#!/bin/sh
# Every kind of bad input lands on the dead-letter topic with its reason;
# the daemon goes on.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_deadletter.py"
exit $?
