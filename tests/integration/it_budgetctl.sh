#!/bin/sh
# budgetctl against the real daemon: tables and JSON from the admin endpoint,
# changes through the control topic, each waiting for its outcome in the
# daemon's command log (exit 0 applied, 1 refused, 2 no outcome in time,
# 64 usage), campaigns created and updated from arguments and a file.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
CTL=$builddir/budgetctl
start_broker broker
# JSON log lines, librdkafka's routed through them: a consumer property
# scoped to the producers makes each producer say it ignores it
start_daemon d "$WORK/state" $SIM_CLOCK -X log.format=json -X kafka.producer.fetch.wait.max.ms=100
wait_log "$WORK/d.log" "admin endpoint on" 20
PORT=$(sed -n 's/.*admin endpoint on .*(port \([0-9]*\)).*/\1/p' "$WORK/d.log" | head -n 1)
ADMIN=127.0.0.1:$PORT
wait_log "$WORK/d.log" "assigned budgetd.features" 40
"$SIM" run --bootstrap "$BOOTSTRAP" --events 300 --duration 4 --campaign ctl-test -q \
	>"$WORK/sim.out" 2>&1 || fail "simulator: $(tail -n 3 "$WORK/sim.out")"
sleep 1.5 # the next render of the admin documents

"$CTL" --admin "$ADMIN" show campaigns >"$WORK/c.txt" || fail "show campaigns"
grep -q "^ctl-test .* active control(0.00), coupon 2(2.00)" "$WORK/c.txt" ||
	fail "campaign table: $(cat "$WORK/c.txt")"
"$CTL" --admin "$ADMIN" --json show campaigns |
	"$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); assert d["campaigns"][0]["id"]=="ctl-test", d' ||
	fail "--json show campaigns"
for what in plans clusters models config health; do
	"$CTL" --admin "$ADMIN" show $what >"$WORK/$what.txt" || fail "show $what"
	"$CTL" --admin "$ADMIN" --json show $what | "$PYTHON" -c 'import json,sys; json.load(sys.stdin)' ||
		fail "--json show $what is not JSON"
done
grep -q "^campaign ctl-test: plan" "$WORK/plans.txt" || fail "plans: $(cat "$WORK/plans.txt")"
grep -q "^status: *ok" "$WORK/health.txt" || fail "health: $(cat "$WORK/health.txt")"
grep -q "^admin.listen *= 127.0.0.1:0" "$WORK/config.txt" || fail "config: $(head "$WORK/config.txt")"

# changes go through Kafka (the brokers come from the daemon's /api/status)
"$CTL" --admin "$ADMIN" set-budget ctl-test 123.45 >"$WORK/set.out" || fail "set-budget"
grep -q "^applied SET_BUDGET ctl-test: budget 123.45" "$WORK/set.out" ||
	fail "set-budget: $(cat "$WORK/set.out")"
"$CTL" --admin "$ADMIN" pause ctl-test >/dev/null || fail "pause"
# applied means visible: no polling
"$CTL" --admin "$ADMIN" show campaigns >"$WORK/c.txt"
grep -q "^ctl-test  *123.45 .* paused" "$WORK/c.txt" ||
	fail "budget and pause applied but not shown: $(cat "$WORK/c.txt")"
# outcome bounds: the simulator's coupons go up to 8, so by default cost <= 80
# and value counts at most 8000 in the statistics
bounds() {
	"$CTL" --admin "$ADMIN" --json show campaigns | "$PYTHON" -c 'import json,sys
c = json.load(sys.stdin)["campaigns"][0]
print(c["max_value"], c["max_cost"], c["winsor_value"])'
}
[ "$(bounds)" = "1000000000 80 8000" ] || fail "default bounds: $(bounds)"
"$CTL" --admin "$ADMIN" set-bounds ctl-test max_cost=3.5 winsor_value=100 >"$WORK/b.out" ||
	fail "set-bounds"
grep -q "^applied UPSERT_CAMPAIGN ctl-test" "$WORK/b.out" || fail "set-bounds: $(cat "$WORK/b.out")"
[ "$(bounds)" = "1000000000 3.5 100" ] || fail "bounds applied but not shown: $(bounds)"
"$CTL" --admin "$ADMIN" resume ctl-test >/dev/null || fail "resume"
"$CTL" --admin "$ADMIN" solve >"$WORK/solve.out" || fail "solve"
grep -q "^applied RESOLVE ctl-test" "$WORK/solve.out" || fail "solve: $(cat "$WORK/solve.out")"
grep -q "control: RESUME ctl-test" "$WORK/d.log" || fail "resume not applied"
"$CTL" --admin "$ADMIN" --no-wait solve ctl-test >"$WORK/nw.out" || fail "solve --no-wait"
grep -q "^sent RESOLVE ctl-test" "$WORK/nw.out" || fail "--no-wait: $(cat "$WORK/nw.out")"

# a campaign's life: created from a file and arguments, shown, updated
cat >"$WORK/promo.conf" <<'EOF'
# two coupons; the control is treatment 0
treatment = 0:no coupon:0
treatment = 1:coupon 3:3
treatment = 2:coupon: 7 off:7
exploration = 0.2
EOF
"$CTL" --admin "$ADMIN" create promo-7 @"$WORK/promo.conf" budget=250 timezone_offset_s=3600 \
	>"$WORK/cr.out" 2>&1 || fail "create: rc $?: $(cat "$WORK/cr.out")"
grep -q "^applied UPSERT_CAMPAIGN promo-7: budget 250.00, 3 treatments, exploration 0.200" \
	"$WORK/cr.out" || fail "create: $(cat "$WORK/cr.out")"
"$CTL" --admin "$ADMIN" show campaign promo-7 >"$WORK/sc.txt" || fail "show campaign"
grep -q "^promo-7  *250.00 .*no coupon(0.00), coupon 3(3.00), coupon: 7 off(7.00)" "$WORK/sc.txt" ||
	fail "show campaign: $(cat "$WORK/sc.txt")"
grep -q "UPSERT_CAMPAIGN  *applied .*budget 250.00" "$WORK/sc.txt" ||
	fail "show campaign lacks its history: $(cat "$WORK/sc.txt")"
grep -q "ctl-test" "$WORK/sc.txt" && fail "show campaign promo-7 shows another campaign: $(cat "$WORK/sc.txt")"
"$CTL" --admin "$ADMIN" --json show campaign promo-7 | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
assert d["campaign"]["id"] == "promo-7" and d["campaign"]["tz_offset_s"] == 3600, d
assert [c["status"] for c in d["commands"]] == ["applied"], d' || fail "--json show campaign"
"$CTL" --admin "$ADMIN" create promo-7 treatment=0:c:0 2>"$WORK/e.txt"; rc=$?
[ $rc = 1 ] && grep -q "campaign promo-7 exists" "$WORK/e.txt" || fail "create twice: rc $rc: $(cat "$WORK/e.txt")"
"$CTL" --admin "$ADMIN" update promo-7 budget=300 exploration=0.05 >"$WORK/up.out" ||
	fail "update: $(cat "$WORK/up.out")"
grep -q "^applied UPSERT_CAMPAIGN promo-7: budget 300.00, 3 treatments, exploration 0.050" \
	"$WORK/up.out" || fail "update: $(cat "$WORK/up.out")"
"$CTL" --admin "$ADMIN" update no-such budget=1 2>"$WORK/e.txt"; rc=$?
[ $rc = 1 ] && grep -q "no campaign no-such" "$WORK/e.txt" || fail "update unknown: rc $rc"

# refused by the daemon: exit 1 with its reason
"$CTL" --admin "$ADMIN" set-budget no-such 10 >/dev/null 2>"$WORK/e.txt"; rc=$?
[ $rc = 1 ] || fail "set-budget of an unknown campaign: rc $rc (must be 1): $(cat "$WORK/e.txt")"
grep -q "REFUSED SET_BUDGET no-such: SET_BUDGET for unknown campaign 'no-such'" "$WORK/e.txt" ||
	fail "refusal: $(cat "$WORK/e.txt")"
"$CTL" --admin "$ADMIN" create gaps treatment=0:c:0 treatment=2:x:2 2>"$WORK/e.txt"; rc=$?
[ $rc = 1 ] && grep -q "REFUSED UPSERT_CAMPAIGN gaps: treatment ids must be 0..1 without gaps" \
	"$WORK/e.txt" || fail "invalid treatments: rc $rc: $(cat "$WORK/e.txt")"
"$CTL" --admin "$ADMIN" show commands >"$WORK/cmds.txt" || fail "show commands"
[ "$(grep -c " refused " "$WORK/cmds.txt")" = 2 ] || fail "show commands: $(cat "$WORK/cmds.txt")"
"$CTL" --admin "$ADMIN" --json show commands | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)["commands"]
assert len(d) >= 10 and all(c["status"] in ("applied", "refused") for c in d), d' ||
	fail "--json show commands"

# retrain: its outcome is the training run's
"$CTL" --admin "$ADMIN" retrain ctl-test >"$WORK/rt.out" 2>&1; rc=$?
grep -q "not promoted\|training failed\|not training" "$WORK/d.log" && want=1 || want=0
[ $rc = $want ] || fail "retrain: rc $rc, the log says $(grep "model\|training" "$WORK/d.log" | tail -n 2)"
grep -q "RETRAIN ctl-test: .*model" "$WORK/rt.out" || fail "retrain: $(cat "$WORK/rt.out")"

# no outcome in time: an endpoint that never lists the command -> exit 2
mkdir -p "$WORK/fake/api"
printf '{"commands":[\n]}\n' >"$WORK/fake/api/commands"
echo '{"campaigns":[{"id":"ctl-test"}]}' >"$WORK/fake/api/campaigns"
"$PYTHON" -m http.server --bind 127.0.0.1 --directory "$WORK/fake" 0 >"$WORK/http.out" 2>&1 &
PIDS="$PIDS $!"
FPORT=
for _ in $(seq 50); do
	FPORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/http.out")
	[ -n "$FPORT" ] && break
	sleep 0.1
done
"$CTL" --admin "127.0.0.1:$FPORT" --bootstrap "$BOOTSTRAP" --timeout 1 set-budget ctl-test 99 \
	>/dev/null 2>"$WORK/e.txt"; rc=$?
[ $rc = 2 ] && grep -q "no outcome within 1 s" "$WORK/e.txt" || fail "unconfirmed: rc $rc: $(cat "$WORK/e.txt")"

# errors: usage 64, failure 1, nothing sent 2
"$CTL" --admin "$ADMIN" show nothing 2>/dev/null; [ $? = 64 ] || fail "bad usage must exit 64"
"$CTL" --admin "$ADMIN" set-budget ctl-test -5 2>/dev/null; [ $? = 64 ] || fail "negative budget must exit 64"
"$CTL" --admin "$ADMIN" set-bounds ctl-test max_cost=-1 2>/dev/null; [ $? = 64 ] ||
	fail "a negative bound must exit 64"
"$CTL" --admin "$ADMIN" create x budget=5 2>/dev/null; [ $? = 64 ] || fail "create without treatments must exit 64"
"$CTL" --admin "$ADMIN" create x treatment=1 2>/dev/null; [ $? = 64 ] || fail "a bad treatment must exit 64"
"$CTL" --admin 127.0.0.1:1 show health 2>"$WORK/e.txt"; [ $? = 1 ] || fail "unreachable admin must exit 1"
grep -q "cannot reach budgetd's admin endpoint" "$WORK/e.txt" || fail "message: $(cat "$WORK/e.txt")"
"$CTL" --admin 127.0.0.1:1 --bootstrap "$BOOTSTRAP" pause ctl-test 2>"$WORK/e.txt"; rc=$?
[ $rc = 2 ] && grep -q "nothing sent" "$WORK/e.txt" || fail "unconfirmable change: rc $rc: $(cat "$WORK/e.txt")"
# every line of the daemon's log is one JSON object, librdkafka's included
"$PYTHON" - "$WORK/d.log" <<'EOF' || fail "log.format=json"
import json, sys
kafka = 0
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    r = json.loads(line)
    assert set(r) >= {"ts", "level", "ident", "msg"} and r["ident"] == "budgetd", (n, line)
    assert r["level"] in ("error", "warn", "info", "debug"), (n, line)
    if r.get("source", "").startswith("kafka ") and "fetch.wait.max.ms" in r["msg"]:
        assert r["level"] == "warn" and "CONFWARN" in r["source"], line
        kafka += 1
assert kafka >= 1, "no librdkafka line in the log"
print("log: %d JSON lines, %d from librdkafka" % (n, kafka))
EOF
for f in sc.txt cmds.txt rt.out; do echo "---- $f"; cat "$WORK/$f"; done
echo "PASS: budgetctl show (tables and JSON), create, update, set-budget, pause, set-bounds, resume, solve, retrain; outcomes and exit codes"
