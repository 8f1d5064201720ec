"""it_solveguard: a solve that meets a non-finite number publishes nothing.

First, end to end, a value above the campaign's winsor_value counts only
that much in the cell statistics while the day's value and spend count the
outcome as reported (budgetd_outcomes_winsorized_total counts it).

The outcome bounds keep absurd numbers out of the statistics; a store
written before them may still hold one.  Here today's realised cost of a
campaign is made infinite in a stopped daemon's state (tests/lib/stats_poke,
through the stats merge operator as a worker would).  Restarted, the daemon
must keep the campaign's last good plan, publish no plan and no non-finite
number (plans topic, /api/plans, /metrics), be degraded with the reason
(/healthz), log the failure once (not at every pass) and count every
failed solve; once the event clock reaches the next day (a request dated
tomorrow), whose spend is finite, a good solve publishes a plan and health
is ok again.
"""
import json
import math
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

from bdclient import *  # noqa: F401,F403

CAMP = "it-guard"
DAY_MS = 86400 * 1000
# event clock without a jump bound: the request that ends the failing day is
# dated a day ahead, which the default wall clock rule refuses (future)
FAST = ["-X", "pace.check.ms=100", "-X", "health.window.ms=1000", "-X", "clock.mode=event",
        "-X", "clock.max.jump.s=0"]


def now_ms():
    return int(time.time() * 1000)


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def admin_port(d):
    wait_log(d, r"admin endpoint on .*\(port \d+\)", 20)
    return int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))


def ours(m):
    return decode("plan", m.value())["campaign_id"] == CAMP


def finite_plan(plan, where):
    bad = [k for k in ("daily_budget", "remaining_budget", "lambda", "expected_spend",
                       "expected_value", "exploration", "spent", "expected_requests",
                       "overspend_probability") if not math.isfinite(plan[k])]
    check(not bad, "%s: plan %d has non-finite %s" % (where, plan["plan_version"], bad))


def metrics_finite(text):
    for line in text.splitlines():
        if line and not line.startswith("#"):
            v = float(line.rsplit(" ", 1)[1])
            check(math.isfinite(v), "/metrics has a non-finite sample: %s" % line)


def metric(text, name, label=None):
    lab = r"\{%s\}" % re.escape(label) if label else ""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), lab), text, re.M)
    check(m, "/metrics has no %s{%s}" % (name, label))
    return float(m.group(1))


def api_plan(port):
    st, body = get(port, "/api/plans")
    check_eq(st, 200, "/api/plans status")
    check("null" not in body, "/api/plans has a null (a non-finite number): %s" % body)
    mine = [p for p in json.loads(body)["plans"] if p["campaign"] == CAMP]
    check(mine, "/api/plans has no plan for %s" % CAMP)
    return mine[0]


# not across midnight UTC: the poisoned day must be the one the daemon solves
while (now_ms() % DAY_MS) > DAY_MS - 120000:
    time.sleep(5)

broker = start_broker()
state = tmpdir("guard")
poke = os.path.join(os.environ.get("builddir", "."), "tests", "lib", "stats_poke")
d = start_daemon(broker.bootstrap, state, *FAST)
try:
    # a campaign with a plan, a request that moves the event clock, and its
    # outcome, of a value above the campaign's winsor_value
    wait_log(d, r"ready: every worker holds its partitions", 60)
    port = admin_port(d)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    p = producer(broker.bootstrap)
    produce(p, "control_command", CAMP, encode("control_command", control(
        CAMP, "UPSERT_CAMPAIGN", 100.0, TREATMENTS, 0.1, winsor_value=10.0)))
    p.flush(10)
    check(plans.read(1, 30, ours), "no plan for the new campaign")
    produce(p, "feature_event", b"u1", encode("feature_event", {
        "request_id": "r1", "campaign_id": CAMP, "user_id": "u1", "ts_ms": now_ms(),
        "features": [0.5] * 12, "context": {}}))
    p.flush(10)
    got = decisions.read(1, 30)
    check(got, "no decision")
    produce(p, "outcome_event", b"u1", encode("outcome_event", {
        "decision_id": decode("decision", got[0].value())["decision_id"], "campaign_id": CAMP,
        "user_id": "u1", "ts_ms": now_ms(), "orders": 1, "value": 1000.0, "cost": 2.0,
        "features": None, "treatment": None, "propensity": None}))
    p.flush(10)
    wait_caught_up(broker.bootstrap)
    time.sleep(1.5)  # a solve after the request, a render of /metrics
    check_eq(metric(get(port, "/metrics")[1], "budgetd_outcomes_winsorized_total"), 1.0,
             "outcomes winsorized")
    check_eq(d.stop(), 0, "exit code of the first run")
    rows = dump_state(state)
    cells = [r for r in rows if r[0] == "cell" and r[2] == CAMP and len(r) > 11]
    days = [r for r in rows if r[0] == "day" and r[2] == CAMP]
    check_eq(sum(float(r[8]) for r in cells), 1.0, "outcomes in the cells")
    check_eq(sum(float(r[11]) for r in cells), 10.0, "value in the cells (winsorised)")
    check_eq(sum(float(r[7]) for r in days), 1000.0, "the day's value (as reported)")
    check_eq(sum(float(r[6]) for r in days), 2.0, "the day's spend (as reported)")
    last = max(decode("plan", m.value())["plan_version"] for m in plans.read(1000, 1, ours))

    # today's realised cost: infinite
    day = now_ms() // DAY_MS
    subprocess.run([poke, os.path.join(state), CAMP, str(day), "inf"], check=True)

    d = start_daemon(broker.bootstrap, state, *FAST)
    port = admin_port(d)
    reason = r"campaign it-guard: solve failed: spend today is inf \(realised cost inf\)"
    wait_log(d, reason + r" \(its last good plan stays\)", 30)
    time.sleep(3)  # some 30 failing passes (pace.check.ms=100)
    n_logged = len(re.findall(reason + r" \(its last good plan stays\)", d.log_text()))
    check_eq(n_logged, 1, "log lines of the failure (once per change, not per pass)")
    check(not plans.read(1, 0.5, ours), "a plan was published while the solve fails")

    st, body = get(port, "/healthz")
    check_eq(st, 503, "/healthz status while the solve fails")
    check(re.search(r"^degraded: solve: " + reason, body), "/healthz says %r" % body)
    kept = api_plan(port)
    check_eq(kept["version"], last, "the plan in force is the last good one")
    st, text = get(port, "/metrics")
    metrics_finite(text)
    fails = metric(text, "budgetd_solve_failures_total", 'campaign="%s"' % CAMP)
    check(fails >= 10, "budgetd_solve_failures_total %g: every failed pass counts" % fails)
    check_eq(metric(text, "budgetd_health_problems_total", 'source="solve"'), 1.0,
             "solve problems (one condition)")
    check_eq(metric(text, "budgetd_degraded"), 1.0, "budgetd_degraded")

    # tomorrow: a finite spend, a good solve, healthy again
    produce(p, "feature_event", b"u2", encode("feature_event", {
        "request_id": "r2", "campaign_id": CAMP, "user_id": "u2", "ts_ms": now_ms() + DAY_MS,
        "features": [0.5] * 12, "context": {}}))
    p.flush(10)
    wait_log(d, r"campaign it-guard: solved again \(it failed: spend today is inf", 30)
    new = plans.read(1, 30, ours)
    check(new, "no plan after the good solve")
    plan = decode("plan", new[0].value())
    check(plan["plan_version"] > last, "the new plan's version %d is not above %d" % (
        plan["plan_version"], last))
    finite_plan(plan, "plans topic")
    wait_log(d, r"health: ok again", 10)
    for _ in range(50):  # the documents are rendered every admin.refresh.ms
        st, body = get(port, "/healthz")
        if st == 200:
            break
        time.sleep(0.1)
    check_eq((st, body), (200, "ok\n"), "/healthz after the good solve")
    api_plan(port)
    metrics_finite(get(port, "/metrics")[1])
    check_eq(d.stop(), 0, "exit code")
    print("PASS: it_solveguard: a value of 1000 counted 10 in the cells and 1000 in the day; "
          "failing solve kept plan %d, degraded, logged once, counted "
          "%d; a good solve published plan %d and health is ok" % (last, fails,
                                                                    plan["plan_version"]))
finally:
    d.stop(signal.SIGKILL)
    broker.stop(signal.SIGKILL)
    cleanup(state)
