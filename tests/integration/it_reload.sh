#!/bin/sh
# SIGHUP: the -c file is read again with the -X overrides on top; live
# settings apply at once (plans come at the new solve interval), a changed
# restart-only setting is named, a broken file changes nothing and is named
# with its line.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_reload.py"
exit $?
