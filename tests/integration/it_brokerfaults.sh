#!/bin/sh
# Broker faults (a broker down, request errors, leader and coordinator moves,
# a slow broker, cut connections) during a closed-loop day: nothing lost or
# counted twice, degraded while it lasts, healthy again on its own.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_brokerfaults.py"
exit $?
