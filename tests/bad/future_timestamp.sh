#!/bin/sh
# Bad input: a feature event dated 10 minutes ahead of this host's clock
# (future: clock.max.ahead.s is 300).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" future_timestamp
