#!/bin/sh
# Bad input: an outcome 2 h after its decision, decision.retention.s 1 h (expired).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" expired_outcome
