#!/bin/sh
# Bad input: single-object framing with an unknown fingerprint (schema).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" unknown_fingerprint
