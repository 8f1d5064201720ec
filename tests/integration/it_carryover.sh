#!/bin/sh
# A RETRAIN mid-day: decisions still waiting for outcomes count in the new
# version's statistics; then the same with SIGKILLs around the promotion.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_carryover.py" || exit 1
IT_CARRY_KILLS=1 "$PYTHON" "$srcdir/tests/it_carryover.py"
exit $?
