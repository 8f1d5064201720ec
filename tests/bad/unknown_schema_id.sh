#!/bin/sh
# Bad input: Confluent framing with schema id 99 (schema).
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/lib/badinput.py" unknown_schema_id
