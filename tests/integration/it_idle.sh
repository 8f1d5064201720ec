#!/bin/sh
# No traffic: the pacer's off-pace state is logged once, not every check.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_idle.py"
exit $?
