#!/bin/sh
# budgetd's canonical forms and fingerprints equal Apache python avro's, for
# every schema of budgetd and a set of tricky ones.  No logical types here:
# python avro 1.11.1 writes {"type":"long"} for a logical-type primitive where
# the specification (and Java's SchemaNormalization) gives "long"; budgetd
# follows the specification (tests/unit/test_wire.c pins it).
: "${srcdir:=.}" "${builddir:=.}" "${PYTHON:=/usr/bin/python3}"
"$PYTHON" -c 'import avro.schema' 2>/dev/null || { echo "SKIP: no python3-avro"; exit 77; }
set -- "$srcdir"/schemas/*.avsc "$srcdir"/tests/data/schemas/*.avsc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$builddir/tests/lib/wire_fpdump" "$@" >"$out/c" || { echo "FAIL: wire_fpdump"; exit 1; }
"$PYTHON" "$srcdir/tests/lib/wire_fingerprints.py" "$@" >"$out/py" || { echo "FAIL: python"; exit 1; }
[ "$(wc -l <"$out/c")" -eq $# ] || { echo "FAIL: expected $# lines"; exit 1; }
if ! diff "$out/py" "$out/c"; then
	echo "FAIL: canonical forms or fingerprints differ (< python, > budgetd)"
	exit 1
fi
echo "PASS: $# schemas: canonical forms and fingerprints equal python avro's"
