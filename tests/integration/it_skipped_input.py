"""it_skipped_input: input lost to the broker's retention is never skipped
silently.

The embedded broker (librdkafka's mock cluster) keeps about 5 MiB per
partition and drops older message sets.  While budgetd is stopped, an 8 MB
message goes to features partition 0 and to the control topic, then a valid
request (and a valid command) after it: appending them drops the 8 MB
message set from the log, so the offset budgetd stored (the 8 MB message's)
is gone from the broker.  (The mock also loses the message set appended
right after the 8 MB one: dropping the only other set moves its log start
to the end, so the first valid message after the gap vanishes too, as in
the production run that found this.  The test reads the log start from the
broker and expects exactly that range.)  On restart budgetd must log the skipped range of
both topics, count it (budgetd_input_resets_total, budgetd_input_skipped_total),
turn degraded (/healthz 503, reason "input: ...") and go on deciding: the
requests after the gap get their decisions and the command after the gap
is applied.
"""

from bdclient import *  # noqa: F401,F403

CAMP = "skip-test"
BIG = 8 * 1024 * 1024


def feature(rid, user="u1"):
    return encode("feature_event", {"request_id": rid, "campaign_id": CAMP, "user_id": user,
                                    "ts_ms": int(time.time() * 1000),
                                    "features": [0.5] * 12, "context": {}})


def send(p, topic, value, key=b"k", partition=0):
    p.produce(topic, value=value, key=key, partition=partition)
    check(p.flush(30) == 0, "producing to %s/%d" % (topic, partition))


def watermarks(bootstrap, topic, part=0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "skip-wm"})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
    c.close()
    return lo, hi


broker = start_broker()
state = tmpdir("skip")
d = start_daemon(broker.bootstrap, state)
passed = False
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 16 * 1024 * 1024,
                  "linger.ms": 0})
    send(p, "budgetd.control",
         encode("control_command", control(CAMP, "UPSERT_CAMPAIGN", 1000.0, TREATMENTS, 0.2)))
    send(p, "budgetd.features", feature("before"))
    got = decisions.read(1, 30, lambda m: decode("decision", m.value())["request_id"] == "before")
    check(got, "no decision for the request before the gap")
    wait_caught_up(broker.bootstrap)
    check_eq(d.stop(), 0, "daemon exit code")

    # while budgetd is down: 8 MB, then valid input that pushes it out
    _, gap_f = watermarks(broker.bootstrap, "budgetd.features")
    _, gap_c = watermarks(broker.bootstrap, "budgetd.control")
    send(p, "budgetd.features", b"\x00" * BIG)
    for i in range(1, 4):
        send(p, "budgetd.features", feature("after-%d" % i))
    send(p, "budgetd.control", b"\x00" * BIG)
    send(p, "budgetd.control", encode("control_command", control(CAMP, "SET_BUDGET", 555.0)))
    send(p, "budgetd.control", encode("control_command", control(CAMP, "SET_BUDGET", 777.0)))
    lo_f, hi_f = watermarks(broker.bootstrap, "budgetd.features")
    lo_c, hi_c = watermarks(broker.bootstrap, "budgetd.control")
    # the precondition: the broker dropped what budgetd was to read next,
    # and kept something after it
    check(gap_f < lo_f < hi_f == gap_f + 4,
          "features/0 log %d..%d: the 8 MB message at %d should be gone" % (lo_f, hi_f, gap_f))
    check(gap_c < lo_c < hi_c == gap_c + 3,
          "control log %d..%d: the 8 MB message at %d should be gone" % (lo_c, hi_c, gap_c))
    kept = ["after-%d" % (o - gap_f) for o in range(lo_f, hi_f)]

    d = start_daemon(broker.bootstrap, state, "-X", "health.skip.window.s=600")
    url = admin_url(d)
    wait_log(d, r"assigned budgetd\.features", 40)
    got = decisions.read(len(kept), 30, lambda m: decode("decision", m.value())["request_id"]
                         in kept)
    check_eq(sorted(decode("decision", m.value())["request_id"] for m in got), kept,
             "decisions for the requests the broker kept after the gap")
    # the log names each range
    wait_log(d, r"budgetd\.features/0: offsets %d\.\.%d SKIPPED \(%d offsets\)"
             % (gap_f, lo_f - 1, lo_f - gap_f), 10)
    wait_log(d, r"budgetd\.control/0: offsets %d\.\.%d SKIPPED \(%d offsets\)"
             % (gap_c, lo_c - 1, lo_c - gap_c), 10)
    # the command after the gap was applied
    wait_log(d, r"control: SET_BUDGET %s \(budget 777\.00" % CAMP, 10)
    # counted, and degraded
    deadline = time.time() + 10
    while time.time() < deadline:
        m = metrics(url)
        if all(m.get('budgetd_input_skipped_total{topic="budgetd.%s"}' % t) for t in
               ("features", "control")):
            break
        time.sleep(0.5)
    for topic, n in (("budgetd.features", lo_f - gap_f), ("budgetd.control", lo_c - gap_c)):
        lab = '{topic="%s"}' % topic
        check_eq(metric(url, "budgetd_input_skipped_total", lab), float(n), "skipped on " + topic)
        check(metric(url, "budgetd_input_resets_total", lab) >= 1, "a reset counted on " + topic)
    check_eq(metric(url, "budgetd_input_skipped_total", '{topic="budgetd.outcomes"}'), 0.0,
             "skipped on outcomes")
    check_eq(metric(url, "budgetd_degraded"), 1.0, "budgetd_degraded")
    check(metric(url, "budgetd_health_problems_total", '{source="input"}') >= 2,
          "input problems counted")
    status, body = http_get(url + "/healthz")
    check(status == 503 and body.startswith("degraded: input: budgetd."),
          "/healthz: %s %r" % (status, body))
    wait_log(d, r"health: degraded: input: ", 5)
    # and it still decides
    send(p, "budgetd.features", feature("later"))
    got = decisions.read(1, 30, lambda m: decode("decision", m.value())["request_id"] == "later")
    check(got, "no decision for a request after the restart")
    print("PASS: skipped ranges logged (features/0 %d..%d, control %d..%d), counted, /healthz "
          "degraded (%s); the requests and the command the broker kept after them were applied"
          % (gap_f, lo_f - 1, gap_c, lo_c - 1, body.strip()))
    passed = True
finally:
    if not passed:
        d.dump_log(80)
    d.stop()
    broker.stop()
    cleanup(state)
sys.exit(0 if passed else 1)
