#!/bin/sh
# Input the broker dropped before budgetd read it (retention on the embedded
# broker: an 8 MB message pushed out of the mock cluster's ~5 MiB log) is
# logged with its range, counted, makes budgetd degraded, and budgetd goes
# on deciding.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_skipped_input.py"
exit $?
