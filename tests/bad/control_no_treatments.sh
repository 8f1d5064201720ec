#!/bin/sh
# Bad input: UPSERT_CAMPAIGN creating a campaign without treatments (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" control_no_treatments
