#!/bin/sh
# Bad input: SET_BUDGET reusing an applied command_id (duplicate; the budget stays).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_duplicate_command_id
