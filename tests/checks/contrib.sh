#!/bin/sh
# contrib/: the alert rules load and their unit tests pass (promtool check
# rules, promtool test rules); the metrics budgetd serves follow
# Prometheus' naming conventions (promtool check metrics on the golden
# rendering of tests/data/report); the Grafana dashboard is JSON whose
# panels query something; every metric the rules and the dashboard name is
# one budgetd serves.
. "${srcdir:-.}/tests/lib/lib.sh"
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian package prometheus)"; exit 77; }
P=$srcdir/contrib/prometheus
G=$srcdir/contrib/grafana/budgetd.json
METRICS=$srcdir/tests/data/report/metrics.txt
promtool check rules "$P/budgetd.rules.yml" >"$WORK/check.out" 2>&1 ||
	fail "promtool check rules: $(cat "$WORK/check.out")"
# promtool test rules reads rule_files relative to the test file
(cd "$P" && promtool test rules budgetd.rules.test.yml) >"$WORK/test.out" 2>&1 ||
	fail "promtool test rules: $(cat "$WORK/test.out")"
lint=$(promtool check metrics <"$METRICS" 2>&1)
[ -z "$lint" ] || fail "promtool check metrics on /metrics: $lint"
REPORTS="$srcdir/src/daemon/report.c $srcdir/src/daemon/report_experiment.c"
# shellcheck disable=SC2086 # two paths without spaces
"$PYTHON" - "$G" "$P/budgetd.rules.yml" "$METRICS" "$srcdir/docs/metrics.md" $REPORTS <<'EOF' || fail "contrib: metric names"
import json, re, sys
dash = json.load(open(sys.argv[1]))
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
assert all(p["targets"] for p in dash["panels"]), "a panel without a query"
served = set(re.findall(r"^# TYPE (\S+) ", open(sys.argv[3]).read(), re.M))
text = "\n".join(exprs) + open(sys.argv[2]).read()
named = set(re.findall(r"\b((?:budgetd|process)_[a-z_]+)", text))
missing = sorted(n for n in named if re.sub(r"_(bucket|sum|count)$", "", n) not in served)
assert not missing, "named but not served: %s" % missing
print("dashboard: %d panels; %d metrics named in the rules and the dashboard, all served" %
      (len(ids), len(named)))
# docs/metrics.md documents every family served, and names none the code
# does not render
doc = set(re.findall(r"^\| `((?:budgetd|process)_[a-z_]+)`", open(sys.argv[4]).read(), re.M))
code = "".join(open(f).read() for f in sys.argv[5:])
assert served <= doc, "served, not in docs/metrics.md: %s" % sorted(served - doc)
stale = sorted(n for n in doc if '"%s"' % n not in code)
assert not stale, "in docs/metrics.md, not rendered by report*.c: %s" % stale
EOF
echo "PASS: contrib: alert rules (check, unit tests), metric names lint clean, Grafana dashboard"
