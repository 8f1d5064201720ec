"""it_second_instance: a second budgetd in the same group stands by.

Two daemons on one broker with the same group.id, a closed-loop budgetd-sim
day.  Two deciding instances would each pace the whole budget on their
half of the traffic (measured before the instance lock: 192-198% of the
budget).  With the lock the second refuses: it logs why, /readyz answers 503,
/healthz says "degraded: instance: standby: ...", budgetd_active is 0 and it
decides nothing; the first decides every request and the day's spend stays
within the usual bound of the budget.  Then a member without the lock joins
the workers' group: the first pauses its inputs (decides nothing) until it
leaves, then decides what came meanwhile.  Then the first stops and the
second takes over (the lock moves when its holder leaves the group).
"""
import re

import threading

from bdclient import *  # noqa: F401,F403

EVENTS = int(os.environ.get("IT_SECOND_EVENTS", "4000"))
CAMPAIGN = "second-test"
# the usual bound of a short simulated day (docs/solving.md measures the
# bench's days within about 1%; a day of 4000 requests in 20 s is noisier,
# and on a loaded machine the outcomes reach the pacer late: one instance
# spent 100.7 to 104.9% of the budget, but 118.7% and 134.6% at a load
# average of 23-27 on 2 cores; two deciding instances spent 190.8%.  So the
# day lasts 40 s here.)
SPEND_LO, SPEND_HI = 0.85, 1.35


def settle(url, name, want, timeout=10):
    """Until the metric (rendered each admin.refresh.ms) shows @want."""
    end = time.time() + timeout * SLOW
    while time.time() < end and metric(url, name) != want:
        time.sleep(0.3)
    return metric(url, name)


broker = start_broker()
state_a, state_b = tmpdir("first"), tmpdir("second")
a = start_daemon(broker.bootstrap, state_a, *SIM_CLOCK)  # a simulated day
a.name = "first"
b = None
passed = False
try:
    url_a = admin_url(a)
    wait_log(a, r"assigned budgetd\.features", 40)
    b = start_daemon(broker.bootstrap, state_b, *SIM_CLOCK)
    b.name = "second"
    url_b = admin_url(b)
    # the second settles: standing by, or (without the lock) in the group
    wait_log(b, r"standby: another instance|assigned budgetd\.features", 40)
    time.sleep(2)

    out = subprocess.run([SIM, "run", "--bootstrap", broker.bootstrap, "--events", str(EVENTS),
                          "--duration", "40", "--budget-frac", "0.3", "--campaign", CAMPAIGN,
                          "-p", "seed=21", "-q"], capture_output=True, text=True,
                         timeout=300 * SLOW)
    line = [l for l in out.stdout.splitlines() if l.startswith("demo: ")]
    check(line, "simulator: no demo line (rc %d): %s %s" % (out.returncode, out.stdout[-500:],
                                                            out.stderr[-500:]))
    v = {k: float(x) for k, x in (f.split("=") for f in line[0].split()[1:])}
    print("day: %d requests, %d decisions, spend %.2f of budget %.2f (%.1f%%)"
          % (v["events"], v["decisions"], v["spend"], v["budget"],
             100 * v["spend"] / v["budget"]))
    check_eq(v["decisions"], float(EVENTS), "decisions the simulator received")
    check(SPEND_LO <= v["spend"] / v["budget"] <= SPEND_HI,
          "spend %.2f is %.1f%% of the budget %.2f: outside %.0f..%.0f%% (two instances "
          "pacing the whole budget each?)" % (v["spend"], 100 * v["spend"] / v["budget"],
                                             v["budget"], 100 * SPEND_LO, 100 * SPEND_HI))
    wait_caught_up(broker.bootstrap)
    time.sleep(1.5)  # one admin refresh
    dec_a, dec_b = metric(url_a, "budgetd_decisions_total"), metric(url_b, "budgetd_decisions_total")
    check_eq((dec_a, dec_b), (float(EVENTS), 0.0), "decisions by (first, second)")

    # the second refused, and says so
    wait_log(b, r"WARN: standby: another instance holds the instance lock of group "
             r"budgetd\.active and decides", 5)
    check(not re.search(r"assigned budgetd\.(features|outcomes)", b.log_text()),
          "the second instance's workers joined the group")
    status, body = http_get(url_b + "/readyz")
    check(status == 503 and body.strip() == "not ready", "second /readyz: %s %r" % (status, body))
    status, body = http_get(url_b + "/healthz")
    check(status == 503 and body.startswith("degraded: instance: standby: "),
          "second /healthz: %s %r" % (status, body))
    check_eq(metric(url_b, "budgetd_active"), 0.0, "second budgetd_active")
    check_eq(metric(url_b, "budgetd_ready"), 0.0, "second budgetd_ready")
    check_eq(metric(url_a, "budgetd_active"), 1.0, "first budgetd_active")
    status, _ = http_get(url_a + "/readyz")
    check_eq(status, 200, "first /readyz")
    print("second: standby (/readyz 503, %s)" % body.strip())

    # a member without the lock joins the workers' group (an older budgetd,
    # another client): the active instance stops deciding until it leaves
    stop = threading.Event()
    intruder = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "budgetd",
                         "partition.assignment.strategy": "range",
                         "enable.auto.commit": False, "session.timeout.ms": 6000,
                         "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 20})
    intruder.subscribe(["budgetd.features", "budgetd.outcomes"])
    held = []
    worker = threading.Thread(target=lambda: [held.append(intruder.poll(0.2))
                                              for _ in iter(stop.is_set, True)])
    worker.start()
    wait_log(a, r"ERROR: inputs paused: this instance's workers hold \d+ of 16 input "
             r"partitions; another member is in group budgetd without the instance lock", 40)
    check_eq(settle(url_a, "budgetd_inputs_paused", 1.0), 1.0, "first budgetd_inputs_paused")
    status, body = http_get(url_a + "/healthz")
    check(status == 503 and body.startswith("degraded: instance: inputs paused"),
          "first /healthz while paused: %s %r" % (status, body))
    p = producer(broker.bootstrap)
    late = []
    for i in range(40):
        user = "late-u%d" % i
        late.append("late-%d" % i)
        produce(p, "feature_event", user.encode(), encode(
            "feature_event", {"request_id": late[-1], "campaign_id": CAMPAIGN, "user_id": user,
                              "ts_ms": int(time.time() * 1000), "features": [0.3] * 12,
                              "context": {}}))
    p.flush(10)
    tail = Tail(broker.bootstrap, "budgetd.decisions", from_start=True)
    is_late = lambda m: decode("decision", m.value())["request_id"] in late  # noqa: E731
    got = tail.read(1, 3, is_late)
    check(not got, "a request was decided while the inputs were paused")
    stop.set()
    worker.join()
    intruder.close()
    wait_log(a, r"the workers hold every input partition again: inputs resumed", 40)
    got = tail.read(len(late), 30, is_late)
    check_eq(len({decode("decision", m.value())["request_id"] for m in got}), len(late),
             "requests decided after the other member left")
    tail.close()
    check_eq(settle(url_a, "budgetd_decisions_total", float(EVENTS + len(late))),
             float(EVENTS + len(late)), "first instance's decisions")
    print("a member without the lock: the first paused its inputs, decided nothing, and "
          "decided all %d requests once it left" % len(late))

    # failover: the first leaves, the second takes over
    t0 = time.time()
    check_eq(a.stop(), 0, "first exit code")
    wait_log(b, r"instance lock acquired", 30)
    wait_log(b, r"ready: every worker holds its partitions", 40)
    check_eq(settle(url_b, "budgetd_ready", 1.0), 1.0, "second budgetd_ready after failover")
    check_eq(metric(url_b, "budgetd_active"), 1.0, "second budgetd_active after failover")
    status, _ = http_get(url_b + "/readyz")
    check_eq(status, 200, "second /readyz after failover")
    print("failover: the second decides %.1f s after the first stopped" % (time.time() - t0))
    print("PASS: the second instance stood by, the first decided all %d requests at %.1f%% of "
          "the budget, the second took over when the first left" % (EVENTS,
                                                                  100 * v["spend"] / v["budget"]))
    passed = True
finally:
    if not passed:
        a.dump_log(40)
        if b:
            b.dump_log(40)
    a.stop()
    if b:
        b.stop()
    broker.stop()
    cleanup(state_a, state_b)
sys.exit(0 if passed else 1)
