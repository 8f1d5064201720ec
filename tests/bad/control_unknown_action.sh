#!/bin/sh
# Bad input: a control command whose action enum index is 9 (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_unknown_action
