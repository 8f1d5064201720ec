#!/bin/sh
# Bad input: SET_BUDGET reusing an applied command_id (duplicate; the budget stays).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" control_duplicate_command_id
