"""it_bootstrap: a campaign bootstrapped from logged history, as a user would:
budgetd-sim history feeds 3000 logged decisions of yesterday (features,
treatment, propensity, outcome) as historical outcome events, and the daemon
trains on them and promotes by itself (train.on.history; no RETRAIN sent)
before the day's first request.  Then a short day (budgetd-sim run):
 - every decision of the day carries model version >= 1 (none made with the
   initial model);
 - the history is not traffic: the plan's traffic forecast is the same
   before the log and after the promotion (no requests yet: nothing to
   forecast from), no spend counts before the first request, and the trained
   model's cells hold the log at its hours of day (-1 to -24: evidence, and
   when in the day a first day's requests come: /api/plans says
   traffic_profile "log") and only the day's decisions at live hours;
 - the history is not spend: at the end of the day the stored account holds
   one day, the day's outcomes and their cost, nothing of yesterday's."""
import json
import re
import subprocess

from bdclient import *  # noqa: F401,F403

HIST, EVENTS, CAMPAIGN = 3000, 1500, "boot"
broker = start_broker()
state = tmpdir("bootstrap")
args = (*SIM_CLOCK, "-X", "train.min.samples=1000", "-X", "train.epochs=2",
        "-X", "train.interval.s=0", "-X", "train.min.agreement=0.3")
d = start_daemon(broker.bootstrap, state, *args)


def plans_of(tail, n, timeout):
    return [decode("plan", m.value()) for m in
            tail.read(n, timeout, lambda m: decode("plan", m.value())["campaign_id"] == CAMPAIGN)]


try:
    wait_log(d, r"ready: every worker holds its partitions", 60)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    h = subprocess.run([SIM, "history", "--bootstrap", broker.bootstrap, "--campaign", CAMPAIGN,
                        "--samples", str(HIST), "--wait-model", str(int(90 * SLOW))],
                       capture_output=True, text=True)
    print(h.stdout.strip() + "\n" + h.stderr.strip())
    if h.returncode != 0:
        d.dump_log()
        fail("no plan made with a model trained on the log before the day (budgetd-sim history "
             "exit %d)" % h.returncode)
    wait_log(d, r"training model 1 \(history: %d historical samples" % HIST, 10)
    check("RETRAIN" not in d.log_text(), "a RETRAIN was sent")
    got = plans_of(plans, 1000, 3)
    first = got[0]
    promoted = [p for p in got if p["model_version"] >= 1]
    check(first["model_version"] == 0 and promoted, "plans: model 0 first, then a trained one")
    last = promoted[-1]
    print("plan before the log: model %d, forecast %.1f requests, spent %.2f; after the "
          "promotion: model %d, forecast %.1f, spent %.2f"
          % (first["model_version"], first["expected_requests"], first["spent"],
             last["model_version"], last["expected_requests"], last["spent"]))
    check_eq(last["spent"], 0.0, "spent before the first request (history is not spend)")
    check(abs(last["expected_requests"] - first["expected_requests"]) <=
          0.01 * max(1.0, first["expected_requests"]),
          "the log changed the traffic forecast: %.1f requests before it, %.1f after the "
          "promotion" % (first["expected_requests"], last["expected_requests"]))
    # the first day's forecast takes its hours of day from the log
    _, body = http_get(admin_url(d) + "/api/plans")
    api_plan = [p for p in json.loads(body)["plans"] if p["campaign"] == CAMPAIGN]
    check(api_plan and api_plan[0].get("traffic_profile") == "log",
          "the first day's traffic profile is not the log's hours: %r"
          % (api_plan[0].get("traffic_profile") if api_plan else None))

    r = subprocess.run([SIM, "run", "--bootstrap", broker.bootstrap, "--campaign", CAMPAIGN,
                        "--events", str(EVENTS), "--duration", "12", "--budget-frac", "0.3",
                        "-q"], capture_output=True, text=True, timeout=300 * SLOW)
    line = [l for l in r.stdout.splitlines() if l.startswith("demo: ")]
    check(r.returncode == 0 and line, "the day did not complete: " + r.stdout[-500:] + r.stderr[-500:])
    demo = {k: float(v) for k, v in (f.split("=") for f in line[0].split()[1:])}
    dec = [decode("decision", m.value()) for m in decisions.read(
        EVENTS, 60, lambda m: decode("decision", m.value())["campaign_id"] == CAMPAIGN)]
    check_eq(len(dec), EVENTS, "decisions of the day")
    versions = sorted({x["model_version"] for x in dec})
    check(versions[0] >= 1, "decisions made with model 0 (before the model trained on the "
          "log): versions %s" % versions)

    wait_caught_up(broker.bootstrap)
    plans.close()
    decisions.close()
    check_eq(d.stop(), 0, "exit code")
    # the day's realised account, as stored: the day's outcomes only
    days = [r for r in dump_state(state) if r[0] == "day" and r[2] == CAMPAIGN]
    n_days = sorted({r[3] for r in days})
    outcomes = sum(float(r[5]) for r in days)
    spent = sum(float(r[6]) for r in days)
    print("the day: %d decisions, model versions %s; spend %.2f (budget %.2f); stored: "
          "days %s, %d outcomes, cost %.2f" % (len(dec), versions, demo["spend"],
                                              demo["budget"], n_days, outcomes, spent))
    check_eq(len(n_days), 1, "days with an account (history is not yesterday's spend)")
    # the statistics of the model trained on the log: the log at its hours
    # of day (evidence), the day's decisions at live hours (traffic), nothing
    # else
    cells = [r for r in dump_state(state) if r[0] == "cell" and r[2] == CAMPAIGN and
             r[3] == str(last["model_version"])]
    hist_dec = sum(float(r[7]) for r in cells if int(r[6]) <= 0)
    live_dec = sum(float(r[7]) for r in cells if int(r[6]) > 0)
    log_hours = {int(r[6]) for r in cells if int(r[6]) <= 0}
    print("model %d's cells: %.0f samples at the log's hours of day %s, %.0f decisions at "
          "live hours" % (last["model_version"], hist_dec, sorted(log_hours), live_dec))
    check_eq(hist_dec, float(HIST), "the log in the trained model's cells at historical hours")
    check(log_hours and min(log_hours) >= -24 and max(log_hours) <= -1 and len(log_hours) > 12,
          "the log's hours of day: %s" % sorted(log_hours))
    check_eq(live_dec, float(EVENTS), "the day's decisions at live hours")
    check_eq(outcomes, float(EVENTS), "outcomes in the day's account")
    check(abs(spent - demo["spend"]) <= 1e-6 * demo["spend"] + 0.01,
          "the day's stored cost %.2f is not the day's spend %.2f (history counted as spend?)"
          % (spent, demo["spend"]))
    check(demo["spend"] <= 1.05 * demo["budget"], "overspent: %.2f of %.2f"
          % (demo["spend"], demo["budget"]))
    print("PASS: %d logged decisions fed before the day: model %d trained on them by itself "
          "and promoted before the first request; all %d decisions of the day by models %s; "
          "forecast %.1f -> %.1f; spend %.2f of %.2f, stored cost %.2f"
          % (HIST, last["model_version"], EVENTS, versions, first["expected_requests"],
             last["expected_requests"], demo["spend"], demo["budget"], spent))
finally:
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
