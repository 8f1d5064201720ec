"""it_arms: a campaign with a 10% holdout and two policy arms, budgetd's
plan and a uniform arm of 45% of the users, over a closed-loop simulated day
(budgetd-sim on the embedded broker, the real daemon).  A user never changes
arm and every decision publishes its arm; the uniform arm's decisions are
uniform over the treatments (control aside) with their stated propensity;
each policy arm lands its share of the budget (the plan's users and the
uniform arm's share the budget by head) at most 5% over and 15% short (bench/experiment
measures the landing at scale, docs/experiment.md); the report counts
exactly the requests of each arm the simulator saw, and its uplifts (each
arm over the holdout, the plan over the uniform arm) are within 3.3
standard errors of the simulator's true ones (over the users that came);
/metrics and budgetctl show experiment agree; a request naming the arm's
own id is refused, as is a command for it.
"""
import json
import random
import re
import subprocess

from bdclient import *  # noqa: F401,F403

CAMP = "arms"
EVENTS = 12000
HOLD, UNI = 0.1, 0.45
CTL = os.path.join(BUILDDIR, "budgetctl")


def settled(url, want, timeout=40):
    """The report once every request of the day and its outcome is in."""
    return experiment_settled(url, CAMP, want, ("treated", "holdout", "uniform"), timeout)


def within(got, truth, se, what):
    print("%s %+.4f (se %.4f), truth %+.4f" % (what, got, se, truth))
    check(abs(got - truth) <= 3.3 * se,
          "%s %g is %.1f se from the truth %g" % (what, got, abs(got - truth) / se, truth))


def lands(kv, tol):
    budget = float(kv["budget"])
    want = {"plan": budget * (1 - HOLD - UNI) / (1 - HOLD), "uniform": budget * UNI / (1 - HOLD)}
    got = {"plan": float(kv["plan_spend"]), "uniform": float(kv["uniform_spend"])}
    for a in want:
        print("%s arm spent %.2f of its %.2f (%.2f%%)" % (a, got[a], want[a],
                                                         100 * got[a] / want[a]))
        # never over by more than the guard's tolerance (money); short by
        # more only when the daemon runs late (sanitizers, a loaded CI)
        check(1 - 3 * tol <= got[a] / want[a] <= 1 + tol,
              "the %s arm spent %.2f of its budget share %.2f" % (a, got[a], want[a]))


broker = start_broker()
state = tmpdir("arms")
args = (*SIM_CLOCK, "-X", "solve.interval.ms=1000")
d = start_daemon(broker.bootstrap, state, *args)
try:
    url = admin_url(d)
    wait_log(d, r"assigned budgetd\.features", 40)
    dec = Tail(broker.bootstrap, "budgetd.decisions")
    out = sim_day(d, broker.bootstrap, CAMP, EVENTS, 20, "--holdout", str(HOLD),
                  "--uniform-arm", str(UNI))
    line = [l for l in out.splitlines() if l.startswith("demo: ")][0]
    kv = dict(x.split("=") for x in line.split()[1:])
    print(line)
    wait_caught_up(broker.bootstrap)

    # the decisions: one arm per user, published on every decision
    arm_of, n = {}, {"plan": 0, "holdout": 0, "uniform": 0}
    uni_t = {}
    for m in dec.read(EVENTS, 60, lambda m: decode("decision", m.value())["campaign_id"] == CAMP):
        r = decode("decision", m.value())
        a = r["arm"]
        check(a in n, "decision %s: arm %r" % (r["decision_id"], a))
        check(arm_of.setdefault(r["user_id"], a) == a,
              "user %s changed arm (request %s)" % (r["user_id"], r["request_id"]))
        check((a == "holdout") == (r["reason"] == "holdout"), "arm and reason: %r" % r)
        n[a] += 1
        if a == "uniform" and r["reason"] != "explore" and r["treatment"] > 0:
            uni_t[r["treatment"]] = uni_t.get(r["treatment"], 0) + 1
    dec.close()
    users = len(arm_of)
    shares = {a: sum(1 for v in arm_of.values() if v == a) / users for a in n}
    print("%d users; shares %r; requests %r" % (users, shares, n))
    check(abs(shares["holdout"] - HOLD) < 0.03 and abs(shares["uniform"] - UNI) < 0.04,
          "arm shares of users %r" % shares)
    check_eq(n["holdout"], int(kv["holdout_requests"]), "holdout decisions")
    check_eq(n["uniform"], int(kv["uniform_requests"]), "uniform-arm decisions")
    # uniform: every coupon alike among the arm's coupons
    tot = sum(uni_t.values())
    print("uniform arm's coupons by treatment: %r" % uni_t)
    check(len(uni_t) >= 2 and all(abs(v / tot - 1 / len(uni_t)) < 0.06 for v in uni_t.values()),
          "the uniform arm's coupons are not uniform: %r" % uni_t)

    # each policy arm lands its share of the budget, here within the
    # guard's tolerance (5%): at this scale (about 500 of budget per arm)
    # the day's last maturity window, which no later solve corrects, holds
    # a dozen redemptions per arm, and their luck moves a day by 2-4%;
    # bench/experiment measures the landing at 60 000 requests a day
    # (docs/experiment.md)
    lands(kv, 0.05)

    c = settled(url, EVENTS)
    t = c["today"]
    check_eq(c["uniform_arm"], UNI, "the campaign's uniform arm")
    check_eq(t["uniform"]["requests"], float(kv["uniform_requests"]), "uniform requests")
    check_eq(t["treated"]["requests"], float(kv["treated_requests"]), "plan requests")
    check_eq(t["holdout"]["cost"], 0.0, "cost per holdout request")
    up = t["uplift_per_request"]
    within(up["value"], float(kv["true_arm_uplift"]), up["value_se"], "plan over the holdout")
    up = t["uniform_vs_holdout"]["uplift_per_request"]
    within(up["value"], float(kv["true_uniform_uplift"]), up["value_se"],
           "uniform arm over the holdout")
    pu = t["plan_vs_uniform"]
    up = pu["uplift_per_request"]
    within(up["value"], float(kv["true_plan_over_uniform"]), up["value_se"],
           "plan over the uniform arm")
    check(pu["verdict"] in ("better", "worse", "not yet known"), "verdict " + pu["verdict"])

    time.sleep(1.5 * SLOW)  # admin.refresh.ms
    check_eq(metric(url, "budgetd_experiment_requests", '{campaign="%s",arm="uniform"}' % CAMP),
             t["uniform"]["requests"], "/metrics uniform-arm requests")
    check(abs(metric(url, "budgetd_experiment_plan_over_uniform", '{campaign="%s"}' % CAMP) -
              pu["uplift_per_request"]["value"]) < 1e-6, "/metrics plan over uniform")
    # each row's budget gauge is what its spend is held to (BudgetdOverspend):
    # the two rows' shares make the campaign's budget
    budget = float(kv["budget"])
    rows = [metric(url, "budgetd_campaign_budget", '{campaign="%s"}' % c)
            for c in (CAMP, CAMP + "#uniform")]
    print("budget gauges %r, budget %.2f" % (rows, budget))
    # (the simulator prints the budget to the cent)
    check(abs(rows[0] - rows[1]) < 1e-6 * budget and abs(sum(rows) - budget) <= 0.005,
          "budget gauges %r for a budget of %.2f" % (rows, budget))
    ctl = subprocess.run([CTL, "--admin", url.replace("http://", ""), "show", "experiment"],
                         capture_output=True, text=True, timeout=30)
    print(ctl.stdout)
    check(ctl.returncode == 0 and "uniform arm 45% of users" in ctl.stdout and
          "the plan over the uniform arm" in ctl.stdout, "budgetctl: " + ctl.stdout + ctl.stderr)

    # money: the arm closed late in the day (share 0) leaves the campaign
    # the budget less what BOTH arms spent, not its whole budget again
    def api(path, key):
        st, body = http_get(url + path)
        check(st == 200, path)
        return {x[key if key in x else "campaign"]: x for x in json.loads(body)[path.split("/")[-1]]}
    camps = api("/api/campaigns", "id")
    spent = camps[CAMP]["spent_today"] + camps[CAMP + "#uniform"]["spent_today"]
    v0 = api("/api/plans", "campaign")[CAMP]["version"]
    p = producer(broker.bootstrap)
    produce(p, "control_command", CAMP.encode(),
            encode("control_command", control(CAMP, "UPSERT_CAMPAIGN", uniform_arm=0.0)))
    p.flush(10)
    end = time.time() + 20 * SLOW
    while time.time() < end:
        pl = api("/api/plans", "campaign")
        if pl[CAMP]["version"] > v0 and pl[CAMP + "#uniform"]["remaining_budget"] == 0:
            break
        time.sleep(0.3)
    print("closed the arm with %.2f of %.2f spent: the campaign's plan has %.2f left (budget "
          "%.2f), the arm's %.2f" % (spent, budget, pl[CAMP]["remaining_budget"],
                                     pl[CAMP]["daily_budget"], pl[CAMP + "#uniform"]["remaining_budget"]))
    check(pl[CAMP]["version"] > v0, "no new plan after the arm closed")
    check(pl[CAMP]["remaining_budget"] <= max(budget - spent, 0) + 0.01 * budget,
          "the campaign may spend %.2f more, %.2f already spent of %.2f" %
          (pl[CAMP]["remaining_budget"], spent, budget))

    # the arm is the campaign's: requests and commands name the campaign
    dl = Tail(broker.bootstrap, "budgetd.deadletters")
    p = producer(broker.bootstrap)
    Requests(CAMP + "#uniform", random.Random(1)).send(p, 1)
    produce(p, "control_command", CAMP.encode(),
            encode("control_command", control(CAMP + "#uniform", "SET_BUDGET", budget=1e6)))
    p.flush(10)
    got = {}
    for m in dl.read(2, 40, lambda m: "#uniform" in decode("dead_letter", m.value())["detail"]):
        x = decode("dead_letter", m.value())
        got[x["topic"]] = x
    dl.close()
    print({k: (v["reason"], v["detail"]) for k, v in got.items()})
    check(got.get("budgetd.features", {}).get("reason") == "unknown_campaign",
          "a request naming the arm: %r" % got)
    check("uniform arms" in got.get("budgetd.control", {}).get("detail", ""),
          "a command for the arm: %r" % got)
    print("OK")
finally:
    d.stop()
    broker.stop()
    cleanup(state)
