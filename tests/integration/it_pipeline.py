"""it_pipeline: campaign -> plan -> decisions -> outcomes -> statistics.

The daemon is the real binary on a real (embedded) Kafka; inputs are
encoded and outputs decoded with Apache's python avro against schemas/.
"""
import random
import re
import sys
import time

from bdclient import *  # noqa: F401,F403

N = 200
broker = start_broker()
state = tmpdir("pipeline")
d = start_daemon(broker.bootstrap, state)
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    p = producer(broker.bootstrap)
    camp = "it-pipe"
    produce(p, "control_command", camp,
            encode("control_command", control(camp, "UPSERT_CAMPAIGN", 1000.0, TREATMENTS, 0.2)))
    p.flush(10)
    got = plans.read(1, 30, lambda m: decode("plan", m.value())["campaign_id"] == camp)
    check(got, "no plan for the new campaign")
    plan = decode("plan", got[0].value())
    check_eq(len(plan["clusters"]), 8, "clusters in the first plan")
    check(all(abs(sum(c["probabilities"]) - 1) < 1e-9 for c in plan["clusters"]),
          "plan rows sum to 1")

    rng = random.Random(5)
    feats = {}
    for i in range(N):
        user = "u%d" % (i % 50)
        feats[i] = [rng.gauss(0, 1) for _ in range(12)]
        rec = {"request_id": "r%d" % i, "campaign_id": camp, "user_id": user,
               "ts_ms": int(time.time() * 1000), "features": feats[i], "context": {"i": str(i)}}
        produce(p, "feature_event", user.encode(),
                encode("feature_event", rec, "confluent" if i % 2 else "single_object"))
    p.flush(10)
    msgs = decisions.read(N, 60, lambda m: decode("decision", m.value())["campaign_id"] == camp)
    dec = {}
    for m in msgs:
        r = decode("decision", m.value())
        check(m.key() == r["user_id"].encode(), "decision keyed by user_id")
        dec[r["request_id"]] = r
    check_eq(len(dec), N, "distinct requests decided")
    ids = {r["decision_id"] for r in dec.values()}
    check_eq(len(ids), N, "distinct decision ids")
    for r in dec.values():
        check(re.fullmatch("[0-9a-f]{16}", r["decision_id"]), "decision id format")
        check(0 <= r["treatment"] < 3, "treatment in range")
        check(0 < r["propensity"] <= 1, "propensity in (0,1]")
        check(0 <= r["cluster"] < 8, "cluster in range")
        check_eq(r["model_version"], 0, "model version before training")
        check(r["reason"] in ("explore", "plan", "uniform"), "reason " + r["reason"])
    explored = sum(r["explored"] for r in dec.values())
    check(10 <= explored <= 75, "explored share near 0.2: %d of %d" % (explored, N))

    # the same requests again: the same decisions, nothing counted twice
    for i in range(20):
        user = "u%d" % (i % 50)
        rec = {"request_id": "r%d" % i, "campaign_id": camp, "user_id": user,
               "ts_ms": int(time.time() * 1000), "features": feats[i], "context": {}}
        produce(p, "feature_event", user.encode(), encode("feature_event", rec))
    p.flush(10)
    again = decisions.read(20, 30, lambda m: decode("decision", m.value())["campaign_id"] == camp)
    check_eq(len(again), 20, "decisions for repeated requests")
    for m in again:
        r = decode("decision", m.value())
        first = dec[r["request_id"]]
        for f in ("decision_id", "treatment", "cluster", "propensity", "plan_version"):
            check_eq(r[f], first[f], "repeated request %s: %s" % (r["request_id"], f))

    # outcomes: exact binary values so sums compare exactly
    cost = [0.0, 2.0, 5.0]
    want_value = want_cost = want_orders = 0.0
    for i in range(N):
        r = dec["r%d" % i]
        orders = 1 if i % 3 == 0 else 0
        value = 10.0 * orders + (i % 5)
        c = cost[r["treatment"]] if orders else 0.0
        want_value += value
        want_cost += c
        want_orders += orders
        out = {"decision_id": r["decision_id"], "campaign_id": camp, "user_id": r["user_id"],
               "ts_ms": int(time.time() * 1000), "orders": orders, "value": value, "cost": c,
               "features": None, "treatment": None, "propensity": None}
        produce(p, "outcome_event", r["user_id"].encode(), encode("outcome_event", out))
    # historical samples (cold start): no decision id
    for i in range(5):
        out = {"decision_id": "", "campaign_id": camp, "user_id": "h%d" % i,
               "ts_ms": int(time.time() * 1000), "orders": 1, "value": 4.0, "cost": 2.0,
               "features": [0.5] * 12, "treatment": 1, "propensity": 1.0 / 3}
        produce(p, "outcome_event", ("h%d" % i).encode(), encode("outcome_event", out))
    p.flush(10)
    wait_caught_up(broker.bootstrap)
    plans.close()
    decisions.close()
    rc = d.stop()
    check_eq(rc, 0, "exit code after SIGTERM")
    check("shutting down" in d.log_text(), "SIGTERM drains")

    rows = dump_state(state)
    cells = [r for r in rows if r[0] == "cell" and r[2] == camp]
    days = [r for r in rows if r[0] == "day" and r[2] == camp]
    tot = [sum(float(r[7 + k]) if len(r) > 7 + k else 0.0 for r in cells) for k in range(19)]
    check_eq(tot[0], float(N + 5), "exposures in statistics (decisions + historical samples)")
    check(tot[17] >= N + 5, "inverse-propensity exposure weights (sum 1/p >= count)")
    check_eq(tot[1], float(N + 5), "outcomes joined (live + historical)")
    check_eq(tot[4], want_value + 5 * 4.0, "sum of value")
    check_eq(tot[6], want_cost + 5 * 2.0, "sum of cost")
    check_eq(tot[8], want_orders + 5, "sum of orders")
    dtot = [sum(float(r[4 + k]) if len(r) > 4 + k else 0.0 for r in days) for k in range(5)]
    check_eq(dtot[0], float(N), "decisions today")
    check_eq(dtot[2], want_cost, "spend today (live outcomes only)")
    samples = dump_state(state, "samples")
    check_eq(len(samples), N + 5, "joined samples in the sample log")
    offs = dump_state(state, "offsets")
    check(any(o[1] == "budgetd.features" for o in offs), "feature offsets stored")

    # the published cluster model reproduces the daemon's cluster ids: a
    # downstream issuer can classify users itself (numpy, no budgetd code)
    import numpy as np
    t = Tail(broker.bootstrap, "budgetd.models", from_start=True)
    ms = t.read(1, 10)
    t.close()
    check(ms, "no model on budgetd.models")
    model = decode("model_update", ms[0].value())
    check_eq(model["model_version"], 0, "model version")
    check_eq(model["clusters"], 8, "K")
    mean, scale = np.array(model["feature_mean"]), np.array(model["feature_scale"])
    for i in range(N):
        z = (np.array(feats[i], dtype=np.float32).astype(np.float64) - mean) / scale
        for layer in model["layers"]:
            W = np.array(layer["weights"]).reshape(layer["rows"], layer["cols"])
            z = W @ z + np.array(layer["bias"])
            if layer["activation"] == "relu":
                z = np.maximum(z, 0)
        check_eq(int(np.argmax(z)), dec["r%d" % i]["cluster"], "cluster of r%d by numpy" % i)

    # every message on the output topics decodes against schemas/
    for kind in ("decision", "plan", "model_update"):
        t = Tail(broker.bootstrap, TOPICS[kind], from_start=True)
        ms = t.read(10**6, 5)
        t.close()
        check(ms, "messages on " + TOPICS[kind])
        for m in ms:
            decode(kind, m.value())
    print("PASS: %d decisions, %d outcomes + 5 historical joined; state sums exact; "
          "numpy reproduces every cluster id from the published model" % (N, N))
finally:
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
