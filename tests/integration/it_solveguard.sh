#!/bin/sh
# A solve that meets a non-finite number (today's spend made infinite in the
# stored statistics) publishes nothing: the last good plan stays, health is
# degraded with the reason, logged once, counted; a good solve the next day
# publishes a plan and health is ok again.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_solveguard.py"
exit $?
