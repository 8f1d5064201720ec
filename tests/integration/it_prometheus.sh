#!/bin/sh
# /metrics is valid Prometheus text (promtool) and a real Prometheus server
# scrapes it and reads back the daemon's values.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_prometheus.py"
exit $?
