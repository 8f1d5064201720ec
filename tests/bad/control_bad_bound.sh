#!/bin/sh
# Bad input: a control command with an infinite max_cost (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_bad_bound
