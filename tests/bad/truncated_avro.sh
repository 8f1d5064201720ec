#!/bin/sh
# Bad input: an Avro body cut short (decode).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" truncated_avro
