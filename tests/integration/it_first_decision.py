"""it_first_decision: the first decisions after a start are as fast as the
later ones.  librdkafka holds a message to a topic it has no metadata for
until its next refresh (librdkafka #3202); budgetd looks its output topics up
at start (bd_kafka_topic_lookup), so no worker's first decision waits for
that: without it each worker's first decision took 0.5-0.9 s, the later ones
about 20 ms.  A warmed client sends requests one at a time and times each
round trip to its decision."""
import random
import statistics
import time

from bdclient import *  # noqa: F401,F403

CAMP = "fd"
broker = start_broker()
state = tmpdir("first")
d = start_daemon(broker.bootstrap, state)
try:
    # both workers in the group: a worker can be assigned every partition
    # alone first, and the second's join then revokes them for seconds
    wait_log(d, r"ready: every worker holds its partitions", 40)
    dec = Tail(broker.bootstrap, "budgetd.decisions")
    p = producer(broker.bootstrap)
    produce(p, "control_command", CAMP.encode(),
            encode("control_command", control(CAMP, "UPSERT_CAMPAIGN", 100.0, TREATMENTS, 0.1)))
    # the client's own first lookups: requests of a campaign nobody has
    # (dead letters: the daemon's decisions topic stays untouched)
    for j in range(8):
        rec = {"request_id": "w%d" % j, "campaign_id": "none", "user_id": "w%d" % j,
               "ts_ms": int(time.time() * 1000), "features": [0.0] * 12, "context": {}}
        produce(p, "feature_event", ("w%d" % j).encode(), encode("feature_event", rec))
    p.flush(10)
    # the campaign must be known before the first timed request (on a
    # loaded host the control topic's first assignment can come later than
    # a fixed wait, and a request of an unknown campaign is a dead letter)
    wait_log(d, r"control: \S+ %s: plan written" % CAMP, 40)
    time.sleep(1)
    rng = random.Random(1)
    ms = []
    for i in range(16):
        rec = {"request_id": "q%d" % i, "campaign_id": CAMP, "user_id": "u%d" % i,
               "ts_ms": int(time.time() * 1000), "features": [rng.gauss(0, 1) for _ in range(12)],
               "context": {}}
        t0 = time.time()
        produce(p, "feature_event", ("u%d" % i).encode(), encode("feature_event", rec))
        p.flush(10)
        got = dec.read(1, 10, lambda m, i=i: decode("decision", m.value())["request_id"] == "q%d" % i)
        if not got:
            d.dump_log()
        check(got, "no decision for request %d" % i)
        ms.append(1000 * (time.time() - t0))
        time.sleep(0.2)
    dec.close()
    first, later = ms[:8], ms[8:]
    bound = max(300.0, 5 * statistics.median(later))
    print("first 8 decisions: %s ms; later median %.0f ms; bound %.0f ms" %
          (" ".join("%.0f" % x for x in first), statistics.median(later), bound))
    if max(first) > bound:
        d.dump_log()
    check(max(first) <= bound, "a first decision took %.0f ms (bound %.0f)" % (max(first), bound))
    print("OK")
finally:
    d.stop()
    broker.stop()
    cleanup(state)
