#!/bin/sh
# Bad input: a 70 000-byte Kafka key comes back whole on the dead letter.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" long_key
