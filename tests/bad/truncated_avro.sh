#!/bin/sh
# Bad input: an Avro body cut short (decode).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" truncated_avro
