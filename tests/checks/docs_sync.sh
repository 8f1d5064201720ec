#!/bin/sh
# docs/budgetd.conf.5 and docs/configuration.md are generated from the
# settings table (docs/gen-config-docs.sh): the committed files must equal
# what the script makes from this budgetd.
. "${srcdir:-.}/tests/lib/lib.sh"
sh "$srcdir/docs/gen-config-docs.sh" -b "$BUDGETD" -o "$WORK" || fail "gen-config-docs.sh"
for f in budgetd.conf.5 configuration.md; do
	cmp -s "$WORK/$f" "$srcdir/docs/$f" ||
		fail "docs/$f is stale; run docs/gen-config-docs.sh: $(diff "$srcdir/docs/$f" "$WORK/$f" | head -n 10)"
done
echo "PASS: docs/budgetd.conf.5 and docs/configuration.md match the settings table"
