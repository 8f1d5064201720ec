"""it_expiry: stored decisions older than decision.retention.s plus an hour,
by their campaign's clock, are deleted by the store's compactions, and only
they.  A closed-loop simulated day (budgetd-sim on the embedded broker, 24
hours of event time in a few seconds) with decision.retention.s=60 and
decision.expiry.interval.s=1: afterwards /metrics counts expired records,
the stored decisions (budgetd --dump decisions) are exactly those of the
last hour and a minute before the campaign's clock (/api/campaigns
clock_ms), and the daemon starts again on the store.
"""
import json
import time

from bdclient import *  # noqa: F401,F403

CAMP = "xp"
EVENTS = 4000
KEEP_MS = 60 * 1000 + 3600 * 1000  # decision.retention.s + the grace
SLACK_MS = 5000  # the clock may move between reading it and the last compaction

broker = start_broker()
state = tmpdir("expiry")
args = (*SIM_CLOCK, "-X", "decision.retention.s=60", "-X", "decision.expiry.interval.s=1")
d = start_daemon(broker.bootstrap, state, *args)
try:
    url = admin_url(d)
    wait_log(d, r"assigned budgetd\.features", 40)
    dec = Tail(broker.bootstrap, "budgetd.decisions")
    sim_day(d, broker.bootstrap, CAMP, EVENTS, 10)
    ts = {}
    for m in dec.read(EVENTS, 60, lambda m: decode("decision", m.value())["campaign_id"] == CAMP):
        r = decode("decision", m.value())
        ts[r["request_id"]] = r["ts_ms"]
    dec.close()
    check_eq(len(ts), EVENTS, "decisions")
    wait_caught_up(broker.bootstrap)

    # the expiry counts, then stops moving (every compaction asked for done)
    last, end = -1.0, time.time() + 60 * SLOW
    while time.time() < end:
        time.sleep(3)
        n = metric(url, "budgetd_decisions_expired_total")
        if n > 0 and n == last:
            break
        last = n
    print("expired records: %d" % n)
    check(n > 0, "nothing expired")
    _, body = http_get(url + "/api/campaigns")
    clock = [c for c in json.loads(body)["campaigns"] if c["id"] == CAMP][0]["clock_ms"]
    d.stop()

    kept = {l[4]: int(l[11].split("=")[1]) for l in dump_state(state, "decisions")
            if l[0] == "decision" and l[3] == CAMP}
    limit = clock - KEEP_MS
    old = [r for r, t in ts.items() if t < limit - SLACK_MS]
    young = [r for r, t in ts.items() if t >= limit + SLACK_MS]
    print("clock %d: %d decisions before its limit, %d after, %d kept" %
          (clock, len(old), len(young), len(kept)))
    check(len(old) > EVENTS // 2 and young, "the day does not straddle the limit")
    check_eq([r for r in old if r in kept], [], "expired decisions still stored")
    check_eq([r for r in young if r not in kept], [], "decisions deleted before their time")

    # the store opens again and the daemon decides on it
    d = start_daemon(broker.bootstrap, state, *args)
    wait_log(d, r"assigned budgetd\.features", 40)
    print("OK")
finally:
    d.stop()
    broker.stop()
    cleanup(state)
