#!/bin/sh
# Bad input: single-object framing with an unknown fingerprint (schema).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" unknown_fingerprint
