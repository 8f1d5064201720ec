#!/bin/sh
# Storage: a state.dir that cannot be created, or a file where the directory
# should be, stops the start with a non-zero exit and a message naming the
# setting and the path.
. "${srcdir:-.}/tests/lib/lib.sh"

touch "$WORK/afile"
for dir in /proc/nonexistent "$WORK/afile/state" "$WORK/afile"; do
	refuse_start "$dir" "state.dir: cannot create or write $dir"
done
echo "PASS: uncreatable state.dir refused, naming the setting and the path"
