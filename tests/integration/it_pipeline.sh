#!/bin/sh
# Features in, decisions out, outcomes joined into statistics: the real
# daemon on the embedded broker, driven by an independent Avro encoder.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_pipeline.py"
exit $?
