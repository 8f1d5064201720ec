#!/bin/sh
# Bad input: UPSERT_CAMPAIGN with treatment id 0 twice (invalid).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_duplicate_treatment
