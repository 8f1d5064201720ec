#!/bin/sh
# Bad input: an unknown campaign_id that is not UTF-8 (encoding; the admin documents stay UTF-8).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" utf8_campaign_id
