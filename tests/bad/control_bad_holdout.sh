#!/bin/sh
# Bad input: a control command with a holdout above 0.5 (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_bad_holdout
