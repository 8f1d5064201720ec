#!/bin/sh
# The instance lock moves when its holder hangs (SIGSTOP past the session
# timeout): the standby takes over and decides; the old holder, resumed
# while requests keep coming, decides nothing and stands by.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_failover.py"
exit $?
