#!/bin/sh
# budgetd-bench --methods runs the named methods beside the references
# (random, tsm_sl, oracle) and nothing else: no row in either table, no CSV
# line, no key in the seeds: line for the others; hrc and hrc_int run
# together. --k-list gives them a row per K on one representation (so the
# K 8 rows equal a run at K 8 alone); --cells dr changes the cluster rows
# alone; --cells true (the clusters with their true cell means) buys more
# than the estimated cells. Bad lists are usage errors (exit 2).
# Tiny sizes: seconds.
. "${srcdir:-.}/tests/lib/lib.sh"
BENCH=$builddir/budgetd-bench
SMALL="--train 2000 --test 2000 --obs 1000 --epochs 1"

# the method names of a run: its table rows, its CSV's method column, its
# seeds: line's EOM keys and inc_ keys, each list sorted and on one line
names() { # OUT CSV
	grep -v -e '^#' -e '^method ' -e '^seeds: ' "$1" | cut -d' ' -f1 | sort -u | xargs
	tail -n +2 "$2" | cut -d, -f1 | sort -u | xargs
	sed -n 's/^seeds: //p' "$1" | tr ' ' '\n' | grep -v '^inc' | cut -d= -f1 | sort | xargs
	sed -n 's/^seeds: //p' "$1" | tr ' ' '\n' | sed -n 's/^inc_\([^=]*\)=.*/\1/p' | sort | xargs
}
expect_names() { # OUT CSV NAMES
	names "$1" "$2" >"$WORK/names"
	printf '%s\n%s\n%s\n%s\n' "$3" "$3" "$3" "$3" | cmp -s - "$WORK/names" ||
		fail "$1: want '$3' in the tables, the CSV and the seeds: line, got: $(cat "$WORK/names")"
}

"$BENCH" $SMALL --methods hrc --csv "$WORK/h.csv" >"$WORK/h.out" 2>"$WORK/h.log" ||
	fail "--methods hrc: exit $?: $(cat "$WORK/h.log")"
expect_names "$WORK/h.out" "$WORK/h.csv" "hrc hrc_int oracle random tsm_sl"
grep -q -e 'dfcl' -e 'e2e' -e 'Bi-DFCL' "$WORK/h.out" "$WORK/h.csv" &&
	fail "--methods hrc: a method not asked for is printed"
# hrc_int alone names both cluster plans
"$BENCH" $SMALL --methods hrc_int --csv "$WORK/i.csv" >"$WORK/i.out" 2>"$WORK/i.log" ||
	fail "--methods hrc_int: exit $?: $(cat "$WORK/i.log")"
expect_names "$WORK/i.out" "$WORK/i.csv" "hrc hrc_int oracle random tsm_sl"

"$BENCH" $SMALL --methods hrc --k-list 4,8 --csv "$WORK/k.csv" >"$WORK/k.out" 2>"$WORK/k.log" ||
	fail "--k-list 4,8: exit $?: $(cat "$WORK/k.log")"
expect_names "$WORK/k.out" "$WORK/k.csv" \
	"hrc_int_k4 hrc_int_k8 hrc_k4 hrc_k8 oracle random tsm_sl"
# the K 8 rows are the default run's hrc rows: same representation, same K
grep '^hrc_k8,' "$WORK/k.csv" | sed 's/^hrc_k8,/hrc,/' >"$WORK/k8"
grep '^hrc,' "$WORK/h.csv" | cmp -s - "$WORK/k8" ||
	fail "hrc_k8 under --k-list 4,8 differs from hrc at K 8: $(cat "$WORK/k8")"

# usage errors name what is wrong
usage_error() { # PATTERN -- options...
	pat=$1
	shift
	"$BENCH" "$@" >/dev/null 2>"$WORK/err"
	rc=$?
	[ "$rc" = 2 ] && grep -q -- "$pat" "$WORK/err" ||
		fail "$*: exit $rc, want 2 and '$pat': $(cat "$WORK/err")"
}
usage_error "unknown method 'nope'" --methods hrc,nope
usage_error "'1' is not a K from 2 to 512" --k-list 4,1
usage_error "K 8 given twice" --k-list 8,4,8
usage_error "give one of them" --k 8 --k-list 4
usage_error "mean, dr or true, not 'median'" --cells median

# --cells dr: the cluster rows change (the cells are estimated otherwise),
# the references do not
"$BENCH" $SMALL --methods hrc --cells dr --csv "$WORK/d.csv" >"$WORK/d.out" 2>"$WORK/d.log" ||
	fail "--cells dr: exit $?: $(cat "$WORK/d.log")"
expect_names "$WORK/d.out" "$WORK/d.csv" "hrc hrc_int oracle random tsm_sl"
grep -e '^tsm_sl,' -e '^oracle,' "$WORK/h.csv" >"$WORK/dref"
grep -e '^tsm_sl,' -e '^oracle,' "$WORK/d.csv" | cmp -s - "$WORK/dref" ||
	fail "--cells dr changed the reference rows"
grep '^hrc,' "$WORK/d.csv" | cmp -s - "$WORK/k8" && fail "--cells dr: hrc rows as with mean cells"

# --cells true: the clusters' ceiling (their cells' TRUE means) buys more of
# the oracle's increment than the same clusters estimated from 2 000
# samples (the mean over the budgets, the seeds: line's inc_hrc)
inc_hrc() { sed -n 's/^seeds:.* inc_hrc=\([0-9.-]*\) .*/\1/p' "$1"; }
"$BENCH" $SMALL --methods hrc --cells true >"$WORK/t.out" 2>"$WORK/t.log" ||
	fail "--cells true: exit $?: $(cat "$WORK/t.log")"
"$BENCH" $SMALL --methods hrc >"$WORK/m.out" 2>"$WORK/m.log" ||
	fail "--cells mean: exit $?: $(cat "$WORK/m.log")"
im=$(inc_hrc "$WORK/m.out") it=$(inc_hrc "$WORK/t.out")
[ -n "$im" ] && [ -n "$it" ] || fail "no inc_hrc in the seeds: lines"
awk -v m="$im" -v t="$it" 'BEGIN { exit !(t > m + 0.05) }' ||
	fail "--cells true: inc_hrc $it, not above the estimated cells' $im"
echo "ok"
