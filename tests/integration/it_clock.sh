#!/bin/sh
# Time one producer cannot move: another campaign's event dated two days
# ahead leaves a campaign's spend, plan and clock alone (wall mode, event
# mode, event mode without a jump bound); budgetd-sim's hostile producer.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_clock.py"
exit $?
