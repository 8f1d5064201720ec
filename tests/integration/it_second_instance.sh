#!/bin/sh
# Two daemons in one group: the second stands by (log, /readyz 503, degraded,
# budgetd_active 0), the first decides every request of a closed-loop day
# within the usual bound of the budget, and the second takes over when the
# first stops.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_second_instance.py"
exit $?
