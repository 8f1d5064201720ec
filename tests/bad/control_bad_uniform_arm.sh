#!/bin/sh
# Bad input: a control command whose holdout and uniform arm leave the plan
# under a fifth of the users (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_bad_uniform_arm
