#!/bin/sh
# Bad input: a historical sample with propensity 1e-300 (implausible).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" implausible_propensity
