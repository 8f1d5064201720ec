#!/bin/sh
# Bad input: a historical sample with propensity 1e-300 (implausible).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" implausible_propensity
