#!/bin/sh
# Short libFuzzer run of every target in tests/fuzz (docs/fuzzing.md).
#
#   tests/fuzz/run.sh [SECONDS [TARGET...]]    (FUZZ_JOBS targets at a time)
#
# From a configured source tree: copies the distribution (make distdir, as
# quickstart's check_sanitized does), builds it with CC=clang --enable-fuzz,
# then runs each target for SECONDS (default 20) on a scratch copy of its
# seed corpus.  With FUZZ_BUILDDIR set (make fuzz-check in a --enable-fuzz
# tree) it runs the targets already built there instead.
#
# Prints automake's summary lines ("# PASS:  N", "# FAIL:  M") so that
# .ci/run counts the targets; exits 1 if any target crashed, leaked, hit a
# sanitizer report, a timeout or the memory limit.  The inputs that did are
# kept under the work directory it names.
set -u
seconds=${1:-20}
[ $# -gt 0 ] && shift
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
say() { printf 'fuzz: %s\n' "$*" >&2; }

work=$(mktemp -d /tmp/budgetd-fuzz.XXXXXX)
# FUZZ_JOBS build jobs, and targets at a time (default: one per core):
# each target is one single-threaded process
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
if [ -n "${FUZZ_BUILDDIR:-}" ]; then
	build=$(cd "$FUZZ_BUILDDIR" && pwd)
else
	say "building a clang --enable-fuzz copy of the distribution in $work"
	(cd "$srcdir" && make -s distdir distdir="$work/src") >/dev/null || {
		say "make distdir failed (is the source tree configured?)"
		echo "# FAIL:  1 (fuzz build)"
		exit 1
	}
	build=$work/src
	(cd "$build" && ./configure CC=clang --enable-fuzz --enable-werror >"$work/configure.log" 2>&1 &&
		make -j"$jobs" fuzz >"$work/build.log" 2>&1) || {
		tail -n 30 "$work/configure.log" "$work/build.log" >&2
		say "the fuzz build failed"
		echo "# FAIL:  1 (fuzz build)"
		exit 1
	}
fi

targets=${*:-feature outcome control decision plan model campaign config utf8 resolve}

# One target: its verdict line in $work/$t.result (run side by side).
run_target() {
	t=$1
	bin=$build/tests/fuzz/fuzz_$t
	seeds=$srcdir/tests/fuzz/corpus/$t
	mkdir -p "$work/corpus/$t" "$work/crash/$t"
	# new inputs go to the scratch copy (first directory), never the seeds;
	# -rss_limit_mb stays at its 2 GB default: an input that makes a
	# decoder allocate more than that is a finding, not noise
	"$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/crash/$t/" "$work/corpus/$t" "$seeds" \
		>"$work/$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
	if [ "$rc" = 0 ] && [ -z "$(ls "$work/crash/$t")" ]; then
		echo "PASS: fuzz_$t ${seconds}s, ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}"
	else
		echo "FAIL: fuzz_$t (exit $rc); inputs in $work/crash/$t"
		grep -A 30 '^==[0-9]*==ERROR\|^SUMMARY\|runtime error' "$work/$t.log" | head -n 60
	fi >"$work/$t.result"
}

n=0
for t in $targets; do
	run_target "$t" &
	n=$((n + 1))
	[ $((n % jobs)) = 0 ] && wait
done
wait
pass=0
failed=0
for t in $targets; do
	cat "$work/$t.result"
	if grep -q '^PASS' "$work/$t.result"; then
		pass=$((pass + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "# PASS:  $pass"
echo "# FAIL:  $failed"
[ "$failed" = 0 ] && rm -rf "$work"
[ "$failed" = 0 ]
