#!/bin/sh
# The demo path: daemon with its own embedded broker + simulator for a short
# day; the summary line is complete and the numbers are sane.
. "${srcdir:-.}/tests/lib/lib.sh"
"$BUDGETD" -X state.dir="$WORK/state" -X solve.interval.ms=500 $SIM_CLOCK $TEST_KAFKA \
	>"$WORK/daemon.out" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
PIDS="$PIDS $DAEMON_PID"
for _ in $(seq 100); do grep -q '^bootstrap=' "$WORK/daemon.out" && break; sleep 0.1; done
BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$WORK/daemon.out")
[ -n "$BOOTSTRAP" ] || fail "no bootstrap line"
"$SIM" run --bootstrap "$BOOTSTRAP" --events 4000 --duration 20 --budget-frac 0.3 -q \
	>"$WORK/sim.out" 2>"$WORK/sim.log" || fail "simulator: $(tail -n 5 "$WORK/sim.out")"
# another world family (6 treatments, bursts) on the same daemon
"$SIM" run --bootstrap "$BOOTSTRAP" --world sparse --campaign sparse-day --events 2000 \
	--duration 8 --budget-frac 0.3 -q >"$WORK/sim2.out" 2>"$WORK/sim2.log" ||
	fail "simulator, world sparse: $(tail -n 5 "$WORK/sim2.out")"
# the example reader a coupon issuer would start from (docs/messages.md):
# the latest decisions, decoded by Apache's Avro with schemas/decision.avsc
"$PYTHON" "$srcdir/examples/python/tail_decisions.py" --bootstrap "$BOOTSTRAP" --last 2 \
	>"$WORK/tail.out" 2>"$WORK/tail.log" || fail "tail_decisions.py: $(tail -n 5 "$WORK/tail.log")"
"$PYTHON" - "$WORK/tail.out" <<'PY' || fail "tail_decisions.py's output: $(head -n 3 "$WORK/tail.out")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert 8 <= len(recs) <= 16, len(recs)  # 2 per partition, 8 partitions
for r in recs:
    assert r["campaign_id"].startswith("sim-") or r["campaign_id"] == "sparse-day", r
    assert 0 <= r["treatment"] < 6 and 0 < r["propensity"] <= 1, r
    assert len(r["decision_id"]) == 16 and r["request_id"] and r["user_id"], r
PY
# the example clients, Python's, Node.js' and Go's (where node and
# examples/node/node_modules are: `npm ci --prefix examples/node`, which
# ./quickstart check runs): three requests of campaign sparse-day, dated at
# its latest decision (event clock), each on the partition Kafka's murmur2
# gives its user, are decided; an outcome for one of them joins (read, no
# dead letter)
PORT=$(sed -n 's/.*admin endpoint on http:[^ ]* (port \([0-9]*\)).*/\1/p' "$WORK/daemon.log" | head -n 1)
[ -n "$PORT" ] || fail "no admin port in the daemon's log"
LANGS=python
if ! command -v node >/dev/null; then
	echo "examples: Node.js SKIPPED (no node: apt install nodejs npm)"
elif [ ! -d "$srcdir/examples/node/node_modules/kafkajs" ]; then
	echo "examples: Node.js SKIPPED (no examples/node/node_modules: npm ci --prefix examples/node)"
else
	LANGS="python node"
fi
# Go's pair, built from Debian's Go packages (sarama, goavro) where they are
GOSRC=/usr/share/gocode/src/github.com
if ! command -v go >/dev/null || [ ! -d $GOSRC/Shopify/sarama ] || [ ! -d $GOSRC/linkedin/goavro ]; then
	echo "examples: Go SKIPPED (apt install golang-go golang-github-shopify-sarama-dev golang-github-linkedin-goavro-dev)"
else
	for prog in produce_events tail_decisions; do
		(cd "$srcdir/examples/go" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$WORK/gocache" \
			go build -o "$WORK/go/$prog" "./$prog") >"$WORK/gobuild.log" 2>&1 ||
			fail "go build examples/go/$prog: $(tail -n 20 "$WORK/gobuild.log")"
	done
	LANGS="$LANGS go"
fi
for LANG_ in $LANGS; do
"$PYTHON" - "$srcdir/examples" "$BOOTSTRAP" "$PORT" "$WORK/tail.out" "$LANG_" "$WORK/go" <<'PY' >"$WORK/examples.log" 2>&1 ||
import json, subprocess, sys, time, urllib.request
ex, boot, port, tail, lang, gobin = sys.argv[1:]
# the clients' command lines: (program, flag for per-message partitions)
cmd = {"python": ([sys.executable], ".py", ["--print-partitions"]),
       "node": (["node"], ".js", ["--print-partitions", "1"]),
       "go": ([], "", ["--print-partitions"])}[lang]
def run(script, args, stdin=""):
    prog = "%s/%s" % (gobin, script) if lang == "go" else "%s/%s/%s%s" % (ex, lang, script, cmd[1])
    r = subprocess.run(cmd[0] + [prog] + args, input=stdin,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, (lang, script, args, r.stderr)
    return r.stdout
def metric(name, label=""):
    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
    return sum(float(l.split()[-1]) for l in text.splitlines()
               if l.startswith(name) and (l.startswith(name + "{") or l.startswith(name + " ")) and label in l)
def murmur2(data):  # Kafka's (the Java client's default partitioner), written out
    m, h = 0x5BD1E995, (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    for i in range(0, len(data) // 4 * 4, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail4 = data[len(data) // 4 * 4:]
    if tail4:
        h ^= int.from_bytes(tail4, "little")
        h = (h * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return h ^ (h >> 15)
ts = max(json.loads(l)["ts_ms"] for l in open(tail) if json.loads(l)["campaign_id"] == "sparse-day")
rids = ["example-%s-r%d" % (lang, i) for i in range(3)]
lines = "".join(json.dumps({"request_id": r, "campaign_id": "sparse-day",
                            "user_id": "u-example-%s-%d" % (lang, i),
                            "ts_ms": ts, "features": [0.1 * j for j in range(12)]}) + "\n"
                for i, r in enumerate(rids))
# every user on the partition a Java producer (and budgetd-sim) puts it on,
# so its outcomes from any client meet its decision
for l in run("produce_events", ["--bootstrap", boot] + cmd[2], lines).splitlines():
    key, part, _ = l.split()
    assert int(part) == (murmur2(key.encode()) & 0x7FFFFFFF) % 8, "key %s on partition %s" % (key, part)
got = {}
for _ in range(20):
    for l in run("tail_decisions", ["--bootstrap", boot, "--last", "3"]).splitlines():
        d = json.loads(l)
        if d["request_id"] in rids:
            got[d["request_id"]] = d
    if len(got) == 3:
        break
    time.sleep(0.5)
assert len(got) == 3, "decisions of the example's requests: %r" % sorted(got)
d = got[rids[0]]
assert d["user_id"] == "u-example-%s-0" % lang and d["campaign_id"] == "sparse-day", d
# the simulators' own outcomes first: all read (the count still for 2 s;
# under ASan the last of them were still arriving here)
outs, still = metric("budgetd_events_in_total", 'topic="budgetd.outcomes"'), 0
for _ in range(120):
    time.sleep(0.5)
    now = metric("budgetd_events_in_total", 'topic="budgetd.outcomes"')
    still, outs = (still + 1 if now == outs else 0), now
    if still >= 4:
        break
dead = metric("budgetd_dead_letters_total")
run("produce_events", ["--bootstrap", boot, "--kind", "outcome"],
    json.dumps({"decision_id": d["decision_id"], "campaign_id": "sparse-day",
                "user_id": "u-example-%s-0" % lang, "ts_ms": ts + 1000, "orders": 1, "value": 30.0,
                "cost": 0.0}) + "\n")
for _ in range(40):
    if metric("budgetd_events_in_total", 'topic="budgetd.outcomes"') > outs:
        break
    time.sleep(0.5)
assert metric("budgetd_events_in_total", 'topic="budgetd.outcomes"') == outs + 1, "the outcome was not read"
time.sleep(1)
assert metric("budgetd_dead_letters_total") == dead, "the example's outcome was dead-lettered"
print("examples (%s): 3 requests decided (%s), 1 outcome read, no dead letter"
      % (lang, ", ".join("%s=%d" % (r, got[r]["treatment"]) for r in rids)))
PY
	fail "the $LANG_ example clients: $(tail -n 5 "$WORK/examples.log")"
cat "$WORK/examples.log"
done
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code"
# kafka.* settings reach only the clients they concern: TEST_KAFKA's
# session.timeout.ms made every producer warn (librdkafka's CONFWARN)
! grep -q "property and will be ignored by this" "$WORK/daemon.log" ||
	fail "a client got a setting that is not for it: $(grep -m 1 'will be ignored by this' "$WORK/daemon.log")"
# the human summary leads with the fair comparison (increments at equal spend)
sed -n '2,4p' "$WORK/sim.out" | grep -q '^  incremental value over all-control' ||
	fail "the summary does not lead with the incremental value: $(head -n 5 "$WORK/sim.out")"
grep -q '(sparse-day, world sparse)' "$WORK/sim2.out" || fail "no sparse world day: $(head -n 3 "$WORK/sim2.out")"
for out in sim.out:4000 sim2.out:2000; do
	line=$(grep '^demo: ' "$WORK/${out%%:*}") || fail "no demo: line in ${out%%:*}"
	echo "$line"
	"$PYTHON" - "$line" "${out##*:}" <<'PY' || fail "demo numbers (${out%%:*})"
import sys
kv = dict(f.split("=") for f in sys.argv[1].split()[1:])
v = {k: float(x) for k, x in kv.items()}
n = float(sys.argv[2])
assert v["events"] == n and v["decisions"] == n, v
assert v["spend"] > 0 and v["budget"] > 0 and v["value"] > 0, v
assert v["random_value"] > 0 and v["oracle_value"] > 0, v
# increments over all-control at budgetd's spend
tol = 0.02  # each field is rounded to 0.005
assert abs(v["increment"] - (v["value"] - v["control_value"])) < tol, v
assert abs(v["oracle_increment"] - (v["oracle_same_spend"] - v["control_value"])) < tol, v
assert abs(v["uniform_increment"] - (v["uniform_same_spend"] - v["control_value"])) < tol, v
# nothing beats the oracle at the same expected spend, and it beats uniform
assert v["oracle_increment"] >= v["increment"] - tol, v
assert v["oracle_increment"] > v["uniform_increment"] > 0, v
PY
done
echo "PASS: demo summary complete, in two world families"
