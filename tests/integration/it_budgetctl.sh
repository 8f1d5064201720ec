#!/bin/sh
# budgetctl against the real daemon: tables and JSON from the admin endpoint,
# changes through the control topic (seen applied), usage and reachability
# errors with their exit codes.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
CTL=$builddir/budgetctl
start_broker broker
start_daemon d "$WORK/state" $SIM_CLOCK
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
grep -q "sent SET_BUDGET ctl-test" "$WORK/set.out" || fail "set-budget: $(cat "$WORK/set.out")"
"$CTL" --admin "$ADMIN" pause ctl-test >/dev/null || fail "pause"
ok=0
for _ in $(seq 50); do
	"$CTL" --admin "$ADMIN" show campaigns >"$WORK/c.txt"
	grep -q "^ctl-test  *123.45 .* paused" "$WORK/c.txt" && { ok=1; break; }
	sleep 0.2
done
[ $ok = 1 ] || fail "budget and pause not applied: $(cat "$WORK/c.txt")"
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
grep -q "sent UPSERT_CAMPAIGN ctl-test" "$WORK/b.out" || fail "set-bounds: $(cat "$WORK/b.out")"
ok=0
for _ in $(seq 50); do
	[ "$(bounds)" = "1000000000 3.5 100" ] && { ok=1; break; }
	sleep 0.2
done
[ $ok = 1 ] || fail "bounds not applied: $(bounds)"
"$CTL" --admin "$ADMIN" resume ctl-test >/dev/null || fail "resume"
"$CTL" --admin "$ADMIN" solve >"$WORK/solve.out" || fail "solve"
grep -q "sent RESOLVE ctl-test" "$WORK/solve.out" || fail "solve: $(cat "$WORK/solve.out")"
wait_log "$WORK/d.log" "control: RESOLVE ctl-test" 20
grep -q "control: RESUME ctl-test" "$WORK/d.log" || fail "resume not applied"

# errors: usage 2, failure 1
"$CTL" --admin "$ADMIN" show nothing 2>/dev/null; [ $? = 2 ] || fail "bad usage must exit 2"
"$CTL" --admin "$ADMIN" set-budget ctl-test -5 2>/dev/null; [ $? = 2 ] || fail "negative budget must exit 2"
"$CTL" --admin "$ADMIN" set-bounds ctl-test max_cost=-1 2>/dev/null; [ $? = 2 ] ||
	fail "a negative bound must exit 2"
"$CTL" --admin 127.0.0.1:1 show health 2>"$WORK/e.txt"; [ $? = 1 ] || fail "unreachable admin must exit 1"
grep -q "cannot reach budgetd's admin endpoint" "$WORK/e.txt" || fail "message: $(cat "$WORK/e.txt")"
echo "PASS: budgetctl show (tables and JSON), set-budget, pause, set-bounds, resume, solve; exit codes"
