#!/bin/sh
# Bad input: an outcome dated 10 minutes ahead of this host's clock (future).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" future_outcome
