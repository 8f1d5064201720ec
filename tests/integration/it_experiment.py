"""it_experiment: a campaign with a 10% holdout over a closed-loop simulated
day (budgetd-sim on the embedded broker, the real daemon).  Every request of
a held-out user is control with propensity 1, reason holdout, and a user
never changes arm; the report (/api/experiment) counts exactly the requests
of each arm the simulator saw, nothing spent on the holdout, and its uplift
per request is within 3.3 standard errors of the simulator's true one (the
treated's true expected value per request less the holdout's, over the
users that came); /metrics, budgetctl show experiment and a restart agree.
"""
import json
import re
import subprocess
import time

from bdclient import *  # noqa: F401,F403

CAMP = "exp"
EVENTS = 6000
CTL = os.path.join(BUILDDIR, "budgetctl")


def settled(url, want, timeout=40):
    """The report once every request of the day and its outcome is in."""
    return experiment_settled(url, CAMP, want, timeout=timeout)


broker = start_broker()
state = tmpdir("experiment")
args = (*SIM_CLOCK, "-X", "solve.interval.ms=1000")
d = start_daemon(broker.bootstrap, state, *args)
try:
    url = admin_url(d)
    wait_log(d, r"assigned budgetd\.features", 40)
    dec = Tail(broker.bootstrap, "budgetd.decisions")
    out = sim_day(d, broker.bootstrap, CAMP, EVENTS, 15, "--holdout", "0.1")
    line = [l for l in out.splitlines() if l.startswith("demo: ")][0]
    kv = dict(x.split("=") for x in line.split()[1:])
    print(line)
    wait_caught_up(broker.bootstrap)

    # the decisions: a held-out user's are control, certain, on every request
    arm_of, held = {}, 0
    for m in dec.read(EVENTS, 60, lambda m: decode("decision", m.value())["campaign_id"] == CAMP):
        r = decode("decision", m.value())
        h = r["reason"] == "holdout"
        check(arm_of.setdefault(r["user_id"], h) == h,
              "user %s changed arm (request %s)" % (r["user_id"], r["request_id"]))
        if h:
            held += 1
            check(r["treatment"] == 0 and r["propensity"] == 1.0 and not r["explored"],
                  "holdout decision %r" % r)
    dec.close()
    check_eq(held, int(kv["holdout_requests"]), "holdout decisions (topic against simulator)")
    users = len(arm_of)
    share = sum(arm_of.values()) / users
    print("%d users, %.3f of them held out; %d of %d requests" % (users, share, held, EVENTS))
    check(0.07 < share < 0.13, "holdout share of users %.3f (want 0.1)" % share)

    c = settled(url, EVENTS)
    t = c["today"]
    check_eq(c["holdout"], 0.1, "the campaign's holdout")
    check_eq(t["holdout"]["requests"], float(kv["holdout_requests"]), "holdout requests")
    check_eq(t["treated"]["requests"], float(kv["treated_requests"]), "treated requests")
    check_eq(t["holdout"]["cost"], 0.0, "cost per holdout request")
    up = t["uplift_per_request"]
    truth = float(kv["true_arm_uplift"])
    print("uplift per request %+.4f (se %.4f, 95%%: %+.4f to %+.4f), truth %+.4f; verdict %s"
          % (up["value"], up["value_se"], up["value_lo"], up["value_hi"], truth, t["verdict"]))
    check(abs(up["value"] - truth) <= 3.3 * up["value_se"],
          "uplift %g is %.1f se from the truth %g" % (up["value"], abs(up["value"] - truth) /
                                                     up["value_se"], truth))
    check(t["verdict"] in ("better", "worse", "not yet known"), "verdict " + t["verdict"])
    spend, budget = float(kv["spend"]), float(kv["budget"])
    # never over (money); short only by much: under ASan beside another
    # closed-loop test on two cores the 15-second day's decisions run late
    # and it landed at 61% once in CI (alone under ASan: 88-90%; landing
    # is it_hostile's and bench/experiment's to check)
    check(0.5 * budget <= spend <= 1.1 * budget, "spend %g of budget %g" % (spend, budget))

    # the same figures in /metrics and in budgetctl's table
    time.sleep(1.5 * SLOW)  # admin.refresh.ms
    check_eq(metric(url, "budgetd_experiment_requests", '{campaign="%s",arm="holdout"}' % CAMP),
             t["holdout"]["requests"], "/metrics holdout requests")
    ctl = subprocess.run([CTL, "--admin", url.replace("http://", ""), "show", "experiment"],
                         capture_output=True, text=True, timeout=30)
    print(ctl.stdout)
    check(ctl.returncode == 0 and "campaign exp: holdout 10% of users" in ctl.stdout and
          re.search(r"verdict +(better|worse|not yet known)", ctl.stdout),
          "budgetctl show experiment: " + ctl.stdout + ctl.stderr)

    # the sums are state: a restart reports the same day
    d.stop()
    d = start_daemon(broker.bootstrap, state, *args)
    url = admin_url(d)
    c2 = settled(url, EVENTS)
    for a in ("treated", "holdout"):
        for k in ("requests", "outcomes", "value", "cost", "orders"):
            check(abs(c2["to_date"][a][k] - c["to_date"][a][k]) <= 1e-9 * max(1, abs(c["to_date"][a][k])),
                  "after a restart %s %s: %r, before %r" % (a, k, c2["to_date"][a][k], c["to_date"][a][k]))
    print("OK")
finally:
    d.stop()
    broker.stop()
    cleanup(state)
