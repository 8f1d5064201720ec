#!/bin/sh
# Bad input: an empty Kafka key stays empty (not null) on the dead letter.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" empty_key
