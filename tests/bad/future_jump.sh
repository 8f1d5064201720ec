#!/bin/sh
# Bad input, clock.mode=event: a feature event 13 h ahead of its campaign's
# clock (future: clock.max.jump.s is 43200).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" future_jump
