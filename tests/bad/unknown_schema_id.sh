#!/bin/sh
# Bad input: Confluent framing with schema id 99 (schema).
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/badinput.py" unknown_schema_id
