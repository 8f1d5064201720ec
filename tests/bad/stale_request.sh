#!/bin/sh
# Bad input: a feature event dated a day behind this host's clock, on a day
# of its campaign that is over (stale: clock.max.behind.s is 600).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" stale_request
