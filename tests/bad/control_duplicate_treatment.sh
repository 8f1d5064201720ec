#!/bin/sh
# Bad input: UPSERT_CAMPAIGN with treatment id 0 twice (invalid).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" control_duplicate_treatment
