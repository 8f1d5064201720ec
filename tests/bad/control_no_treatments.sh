#!/bin/sh
# Bad input: UPSERT_CAMPAIGN creating a campaign without treatments (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_no_treatments
