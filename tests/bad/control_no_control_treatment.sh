#!/bin/sh
# Bad input: UPSERT_CAMPAIGN without the control treatment 0 (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_no_control_treatment
