"""it_deadletter: each kind of bad input goes to the dead-letter topic with
its reason, its origin and its bytes; the daemon keeps deciding."""
import math
import struct
import time

from bdclient import *  # noqa: F401,F403

broker = start_broker()
state = tmpdir("dlq")
d = start_daemon(broker.bootstrap, state, "-X", "output.format=single_object")
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    dlq = Tail(broker.bootstrap, "budgetd.deadletters")
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    p = producer(broker.bootstrap)
    camp = "it-dlq"
    produce(p, "control_command", camp,
            encode("control_command", control(camp, "UPSERT_CAMPAIGN", 100.0, TREATMENTS, 0.0)))
    p.flush(10)
    check(plans.read(1, 30, lambda m: decode("plan", m.value())["campaign_id"] == camp),
          "no plan for the campaign")

    def feature(req, user="u1", n=12, value=0.25, campaign=camp):
        return {"request_id": req, "campaign_id": campaign, "user_id": user,
                "ts_ms": int(time.time() * 1000), "features": [value] * n, "context": {}}

    def outcome(did, cost=1.0, user="u1"):
        return {"decision_id": did, "campaign_id": camp, "user_id": user,
                "ts_ms": int(time.time() * 1000), "orders": 1, "value": 3.0, "cost": cost,
                "features": None, "treatment": None, "propensity": None}

    good = encode("feature_event", feature("good-1"))
    # a real decision, for the duplicate-outcome case
    produce(p, "feature_event", b"u1", good)
    p.flush(10)
    first = decisions.read(1, 30)
    check(first, "no decision for a good request")
    did = decode("decision", first[0].value())["decision_id"]
    check(first[0].value()[:2] == b"\xc3\x01", "output.format=single_object framing")

    cases = [  # (topic kind, payload, expected reason, detail substring)
        ("feature_event", b"", "wire", "shorter"),
        ("feature_event", b"{\"json\": true}", "wire", "magic"),
        ("feature_event", b"\x00\x00\x00\x00\x63" + good[5:], "schema", "schema id 99"),
        ("feature_event", b"\xc3\x01" + struct.pack("<Q", 12345) + good[5:], "schema",
         "fingerprint"),
        ("feature_event", encode("outcome_event", outcome(did, cost=7.0)), "schema",
         "schema id 2"),
        ("feature_event", good[:-3], "decode", "decode"),
        ("feature_event", good + b"\x00", "decode", "trailing"),
        ("feature_event", encode("feature_event", feature("bad-dim", n=5)), "invalid",
         "5 values"),
        ("feature_event", encode("feature_event", feature("bad-nan", value=math.nan)),
         "invalid", "finite"),
        ("feature_event", encode("feature_event", feature("bad-inf", value=math.inf)),
         "invalid", "finite"),
        ("feature_event", encode("feature_event", feature("bad-camp", campaign="nope")),
         "unknown_campaign", "nope"),
        ("feature_event", encode("feature_event", feature("", user="u1")), "invalid",
         "request_id is empty"),
        ("feature_event", encode("feature_event", feature("x" * 5000)), "invalid",
         "5000 bytes"),
        ("outcome_event", encode("outcome_event", outcome("00000000000000ff")),
         "unknown_decision", "no decision"),
        ("outcome_event", encode("outcome_event", outcome("XYZ")), "invalid", "hex"),
        ("outcome_event", encode("outcome_event", outcome(did, cost=-1.0)), "invalid",
         "cost"),
        ("outcome_event", encode("outcome_event", dict(outcome(did), user_id="u2")),
         "invalid", "belongs to"),
        ("control_command", encode("control_command", control("ghost", "SET_BUDGET", 5.0)),
         "unknown_campaign", "ghost"),
        ("control_command", encode("control_command", control(
            "c2", "UPSERT_CAMPAIGN", 5.0,
            [{"id": 0, "name": "a", "nominal_cost": 0.0}, {"id": 0, "name": "b",
                                                          "nominal_cost": 1.0}])),
         "invalid", "twice"),
        ("control_command", encode("control_command", control(camp, "SET_BUDGET", -5.0)),
         "invalid", "daily_budget"),
        ("control_command", encode("control_command", control("c3", "UPSERT_CAMPAIGN", 5.0)),
         "invalid", "no treatments"),
        ("control_command", encode("control_command", control(
            "c4", "UPSERT_CAMPAIGN", 5.0, [{"id": 1, "name": "a", "nominal_cost": 1.0}])),
         "invalid", "control"),
    ]
    for kind, payload, _, _ in cases:
        key = b"u1" if kind != "control_command" else b"k"
        p.produce(TOPICS[kind], value=payload, key=key)
    # the real outcome, then the same outcome again: the second is a duplicate
    real = encode("outcome_event", outcome(did))
    produce(p, "outcome_event", b"u1", real)
    produce(p, "outcome_event", b"u1", real)
    p.flush(10)
    letters = dlq.read(len(cases) + 1, 40)
    got = {}
    for m in letters:
        r = decode("dead_letter", m.value())
        got.setdefault(bytes(r["payload"]), []).append(r)
    for kind, payload, reason, detail in cases:
        rs = got.get(payload)
        check(rs, "no dead letter for %s case %r (%s)" % (kind, payload[:24], reason))
        r = rs[0]
        check_eq(r["reason"], reason, "reason for %r" % payload[:24])
        check(detail in r["detail"], "detail %r lacks %r" % (r["detail"], detail))
        check_eq(r["topic"], TOPICS[kind], "topic of the dead letter")
        check(r["offset"] >= 0, "offset recorded")
    dup = got.get(real)
    check(dup and len(dup) == 1 and dup[0]["reason"] == "duplicate",
          "exactly one duplicate-outcome dead letter, got %r" % dup)
    check_eq(len(letters), len(cases) + 1, "dead letters (no extra ones)")

    # still alive and deciding
    produce(p, "feature_event", b"u9", encode("feature_event", feature("good-2", user="u9")))
    p.flush(10)
    check(decisions.read(1, 30, lambda m: decode("decision", m.value())["request_id"] ==
                         "good-2"), "no decision after the bad inputs")
    check(d.p.poll() is None, "daemon still running")
    wait_caught_up(broker.bootstrap)
    for t in (plans, dlq, decisions):
        t.close()
    check_eq(d.stop(), 0, "exit code")
    # state untouched by the bad inputs: exactly one outcome joined
    cells = [r for r in dump_state(state) if r[0] == "cell" and r[2] == camp]
    check_eq(sum(float(r[8]) for r in cells if len(r) > 8), 1.0, "outcomes joined")
    check_eq(sum(float(r[7]) for r in cells), 2.0, "decisions counted")
    print("PASS: %d kinds of bad input dead-lettered with their reasons" % (len(cases) + 1))
finally:
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
