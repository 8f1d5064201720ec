#!/bin/sh
# Bad input: JSON on the feature topic: unknown magic byte (wire).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" wrong_magic
