#!/bin/sh
# RETRAIN: a new model trained off the loop, promoted, used, restored.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_retrain.py"
exit $?
