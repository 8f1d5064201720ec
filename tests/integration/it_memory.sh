#!/bin/sh
# The memory gauges (RSS, RocksDB's memtables, block cache, table readers,
# the memtable of each column family) exist and move with dead letters.
. "${srcdir:-.}/tests/lib.sh"
need_python
"$PYTHON" "$srcdir/tests/it_memory.py"
exit $?
