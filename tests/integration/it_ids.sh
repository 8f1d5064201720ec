#!/bin/sh
# Decision ids: the formula of docs/messages.md (computed in python from the
# document alone) against every published decision; the user is bound in.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_ids.py"
exit $?
