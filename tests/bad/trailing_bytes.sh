#!/bin/sh
# Bad input: an Avro body followed by an extra byte (decode).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" trailing_bytes
