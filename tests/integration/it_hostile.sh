#!/bin/sh
# A hostile closed-loop day (issue 13's closing test): a quarter of the
# requests also sent a day ahead, 1% with a non-UTF-8 id, 1% of outcomes
# preceded by one valued 1e300; spend lands within 2% of the budget and
# every message on every output topic decodes with Apache python avro.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_hostile.py"
exit $?
