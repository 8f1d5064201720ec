#!/bin/sh
# A campaign bootstrapped from yesterday's log: the daemon trains on it by
# itself before the day's first request (train.on.history).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_bootstrap.py"
exit $?
