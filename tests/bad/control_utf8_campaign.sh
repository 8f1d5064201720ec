#!/bin/sh
# Bad input: UPSERT_CAMPAIGN for a campaign id that is not UTF-8 (encoding; the admin documents stay UTF-8).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" control_utf8_campaign
