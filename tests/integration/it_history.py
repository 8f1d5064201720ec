"""it_history: historical samples (outcomes without a decision id) are outcome
evidence for the cells, never traffic: 3000 of them dated yesterday, then
300 live requests today, then RETRAIN.  The traffic forecast of the plan
(expected_requests) must not move when the new model's statistics are
rebuilt from the sample log (before the fix the rebuild put each historical
sample at its ts_ms hour, so yesterday looked like a day of 3000 requests
and the forecast rose by ~2x), and the new version's statistics hold the
3000 at historical hours (their hours of day, -1 to -24: the shape of a
first day's profile, not its volume) and only the 300 live decisions at
live hours."""
import random
import time

from bdclient import *  # noqa: F401,F403

HIST, LIVE, DIM = 3000, 300, 12
broker = start_broker()
state = tmpdir("history")
# train.on.history=0: this test trains by RETRAIN, after the live requests
# (tests/integration/it_bootstrap.py covers the daemon training on history by itself)
args = ("-X", "train.on.history=0",
        "-X", "train.min.samples=1000", "-X", "train.epochs=2", "-X", "train.interval.s=0",
        "-X", "train.min.agreement=0.3", "-X", "solve.interval.ms=3600000",
        "-X", "pace.check.ms=3600000")
d = start_daemon(broker.bootstrap, state, *args)
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    now = int(time.time() * 1000)
    # the campaign's clock reads about noon, so its day is half over and
    # neither end of the day is near
    utc_s = (now // 1000) % 86400
    tz = 43200 - utc_s
    tz = tz - 86400 if tz > 43200 else tz + 86400 if tz < -43200 else tz
    p = producer(broker.bootstrap)
    first = Tail(broker.bootstrap, "budgetd.plans")
    cmd = control("hist", "UPSERT_CAMPAIGN", budget=1000.0, treatments=TREATMENTS,
                  exploration=0.1)
    cmd["timezone_offset_s"] = tz
    produce(p, "control_command", b"hist", encode("control_command", cmd))
    p.flush(10)
    # the campaign exists once its first plan is out
    check(first.read(1, 60, lambda m: decode("plan", m.value())["campaign_id"] == "hist"),
          "no first plan for the campaign")
    first.close()
    rng = random.Random(7)
    day_ms = 86400000
    for i in range(HIST):
        # spread over yesterday, the campaign's previous day
        ts = now - day_ms + rng.randint(-6 * 3600000, 6 * 3600000)
        t = rng.randrange(3)
        conv = rng.random() < 0.2
        rec = {"decision_id": "", "campaign_id": "hist", "user_id": "h%d" % i, "ts_ms": ts,
               "orders": 1 if conv else 0, "value": 30.0 * conv, "cost": 2.0 * t * conv,
               "features": [rng.gauss(0, 1) for _ in range(DIM)], "treatment": t,
               "propensity": 1.0 / 3}
        produce(p, "outcome_event", ("h%d" % i).encode(), encode("outcome_event", rec))
    for i in range(LIVE):
        rec = {"request_id": "live-%d" % i, "campaign_id": "hist", "user_id": "l%d" % i,
               "ts_ms": now + i, "features": [rng.gauss(0, 1) for _ in range(DIM)],
               "context": {}}
        produce(p, "feature_event", ("l%d" % i).encode(), encode("feature_event", rec))
    p.flush(10)
    wait_caught_up(broker.bootstrap)

    def forecast(model_version):
        """The expected_requests of a fresh plan for model_version."""
        plans = Tail(broker.bootstrap, "budgetd.plans")
        produce(p, "control_command", b"hist", encode("control_command", control("hist", "RESOLVE")))
        p.flush(10)
        got = plans.read(1, 60, lambda m: (lambda r: r["campaign_id"] == "hist" and
                                           r["model_version"] == model_version)(
            decode("plan", m.value())))
        plans.close()
        if not got:
            d.dump_log()
            fail("no plan for model %d" % model_version)
        return decode("plan", got[0].value())["expected_requests"]

    before = forecast(0)
    produce(p, "control_command", b"hist", encode("control_command", control("hist", "RETRAIN")))
    p.flush(10)
    wait_log(d, r"model 1 promoted", 120)
    after = forecast(1)
    print("forecast of the rest of the day: %.1f requests with model 0, %.1f with model 1"
          % (before, after))
    check(before > 0, "no forecast before RETRAIN")
    check(abs(after / before - 1) < 0.05,
          "historical samples changed the traffic forecast: %.1f requests before RETRAIN, "
          "%.1f after" % (before, after))
    check_eq(d.stop(), 0, "exit code")
    cells = [r for r in dump_state(state) if r[0] == "cell" and r[2] == "hist" and r[3] == "1"]
    hist_dec = sum(float(r[7]) for r in cells if int(r[6]) <= 0)
    live_dec = sum(float(r[7]) for r in cells if int(r[6]) > 0)
    check_eq(hist_dec, float(HIST), "model 1: historical samples at historical hours")
    check_eq(live_dec, float(LIVE), "model 1: decisions at live hours")
    print("PASS: %d historical samples dated yesterday: forecast %.1f -> %.1f across RETRAIN; "
          "model 1 counts them at historical hours and %d live decisions at live hours"
          % (HIST, before, after, LIVE))
finally:
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
