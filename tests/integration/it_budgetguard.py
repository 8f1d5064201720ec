"""it_budgetguard: between two plans nothing but the budget guard stops
spending.  With solve.interval.ms and pace.check.ms long (no re-solve during
the test), a campaign whose plan has 30 or so of budget left gets a burst of
1000 requests at once whose expected cost is far above it (half of them
explored: the exploration slice spends too).  The estimated cost of the
decisions that got a treatment stays within the plan's remaining budget x
(1 + guard.tolerance); the others are control with propensity 1, not
explored, reason budget-guard; /metrics counts them; the next plan opens
spending again.

Outcome costs are the treatments' nominal costs on every outcome, so the
plan's estimated cost of a decision is exactly 2 or 5 and the test can sum
what the daemon committed.  The real daemon on the embedded broker.
"""
import random
import re
import time
import urllib.request

from bdclient import *  # noqa: F401,F403

COST = [0.0, 2.0, 5.0]
TOL = 0.05  # guard.tolerance's default
broker = start_broker()
state = tmpdir("guard")
d = start_daemon(broker.bootstrap, state, "-X", "solve.interval.ms=600000",
                 "-X", "pace.check.ms=600000")
camp = "it-guard"
rng = random.Random(5)
requests = Requests(camp, rng).send


def decisions_of(tail, n):
    got = tail.read(n, 60, lambda m: decode("decision", m.value())["campaign_id"] == camp)
    check_eq(len(got), n, "decisions")
    return [decode("decision", m.value()) for m in got]


def plan_for(plans, pred, timeout=20):
    got = plans.read(1, timeout, lambda m: (lambda x: x["campaign_id"] == camp and pred(x))(
        decode("plan", m.value())))
    return decode("plan", got[0].value()) if got else None


def metric(text, name, labels):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    check(m, "no sample %s%s in /metrics" % (name, labels))
    return float(m.group(1))


try:
    wait_log(d, r"admin endpoint on .*\(port \d+\)", 20)
    port = int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))
    wait_log(d, r"assigned budgetd\.features", 40)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    p = producer(broker.bootstrap)
    produce(p, "control_command", camp,
            encode("control_command", control(camp, "UPSERT_CAMPAIGN", 100000.0, TREATMENTS, 0.5)))
    p.flush(10)
    check(plan_for(plans, lambda x: True, 30), "no first plan")

    # traffic with outcomes (past warm-up): every outcome costs its
    # treatment's nominal cost
    requests(p, 600)
    spent = 0.0
    for r in decisions_of(decisions, 600):
        orders = 1 if rng.random() < 0.2 + 0.1 * r["treatment"] else 0
        spent += COST[r["treatment"]]
        out = {"decision_id": r["decision_id"], "campaign_id": camp, "user_id": r["user_id"],
               "ts_ms": int(time.time() * 1000), "orders": orders, "value": 20.0 * orders,
               "cost": COST[r["treatment"]], "features": None, "treatment": None,
               "propensity": None}
        produce(p, "outcome_event", r["user_id"].encode(), encode("outcome_event", out))
    p.flush(10)
    wait_caught_up(broker.bootstrap)
    time.sleep(0.5)  # the last batch's statistics are written

    # today's spend as the daemon counts it (realised + pending), from a
    # plan made at once after a budget command
    produce(p, "control_command", camp, encode("control_command", control(camp, "SET_BUDGET", 90000.0)))
    p.flush(10)
    pl = plan_for(plans, lambda x: abs(x["daily_budget"] - 90000) < 1e-6)
    check(pl, "no plan for budget 90000")
    print("realised cost %.1f, spend by the daemon %.1f" % (spent, pl["spent"]))
    # a budget ~30 above it: the plan made at once (the only one until the
    # next budget command) has that much left
    budget = pl["spent"] + 30
    produce(p, "control_command", camp, encode("control_command", control(camp, "SET_BUDGET", budget)))
    p.flush(10)
    pl = plan_for(plans, lambda x: abs(x["daily_budget"] - budget) < 1e-6)
    check(pl, "no plan for budget %g" % budget)
    rem = pl["remaining_budget"]
    print("plan %d (%s): remaining %.2f, exploration %.2f" %
          (pl["plan_version"], pl["solver"], rem, pl["exploration"]))
    check(0 < rem < 60, "remaining budget %g (want about 30)" % rem)
    time.sleep(0.5)  # the snapshot reaches the workers between two batches

    # the burst: 1000 requests at once, ~1000 x 0.5 x 7/3 of expected cost
    # from exploration alone
    requests(p, 1000)
    got = decisions_of(decisions, 1000)
    under = [r for r in got if r["plan_version"] == pl["plan_version"]]
    check_eq(len(under), 1000, "decisions under the plan")
    committed = sum(COST[r["treatment"]] for r in got)
    guarded = [r for r in got if r["reason"] == "budget-guard"]
    print("burst: committed %.1f of remaining %.2f (limit %.2f); %d guarded, %d explored" %
          (committed, rem, rem * (1 + TOL), len(guarded), sum(r["explored"] for r in got)))
    check(committed <= rem * (1 + TOL) + 1e-6,
          "committed expected cost %.2f passed the guard limit %.2f" % (committed, rem * (1 + TOL)))
    check(committed > rem * (1 + TOL) - 5, "the guard let the plan spend its budget")
    check(len(guarded) > 100, "guarded decisions: %d" % len(guarded))
    check(all(r["treatment"] == 0 and r["propensity"] == 1.0 and not r["explored"]
              for r in guarded), "guarded decisions are control, propensity 1, not explored")
    wait_log(d, r"campaign %s: budget guard: plan %d" % (camp, pl["plan_version"]), 10)
    check_eq(len(re.findall(r"WARN: campaign \S+: budget guard: plan", d.log_text())), 1, "guard log lines (one per plan)")
    time.sleep(1.5)  # admin.refresh.ms
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
        text = resp.read().decode()
    check_eq(metric(text, "budgetd_budget_guard_decisions_total", '{campaign="%s"}' % camp),
             float(len(guarded)), "budgetd_budget_guard_decisions_total")

    # the next plan (the burst in its statistics) opens spending again
    produce(p, "control_command", camp,
            encode("control_command", control(camp, "SET_BUDGET", budget + 5000)))
    p.flush(10)
    check(plan_for(plans, lambda x: abs(x["daily_budget"] - budget - 5000) < 1e-6),
          "no plan after the budget raise")
    time.sleep(0.5)
    requests(p, 200)
    got = decisions_of(decisions, 200)
    check(any(r["treatment"] != 0 for r in got), "spending again under the next plan")
    check(not any(r["reason"] == "budget-guard" for r in got), "nothing guarded under the next plan")
    rc = d.stop()
    check_eq(rc, 0, "exit code")
    print("PASS: a burst committed %.1f of %.2f left (limit %.2f), %d decisions guarded" %
          (committed, rem, rem * (1 + TOL), len(guarded)))
except SystemExit:
    d.dump_log()
    raise
finally:
    cleanup(state)
    broker.stop()
