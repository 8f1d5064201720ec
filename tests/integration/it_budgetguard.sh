#!/bin/sh
# The budget guard: a burst of requests under one plan whose expected cost
# far exceeds the plan's remaining budget commits at most that budget
# (x 1 + guard.tolerance); the rest get control, reason budget-guard.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_budgetguard.py"
exit $?
