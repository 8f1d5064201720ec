#!/bin/sh
# Bad input: an Avro body followed by an extra byte (decode).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" trailing_bytes
