"""it_failover: the lock moves when its holder hangs, and the old holder,
resumed, decides nothing.

Two daemons in one group on one broker.  The first decides a batch; it is
then stopped (SIGSTOP) past session.timeout.ms (6 s in the tests): the
second takes the instance lock and decides the next batch.  The first is
resumed (SIGCONT) while requests keep coming: a zombie whose fetchers still
hold the partitions' positions.  It must not decide any of them: its stall
guard pauses its inputs until its group revokes them, its lock consumer
reports the lock lost, and it stands by (log, budgetd_active 0); its
decision counters stay where they were when it stopped.  Every request gets
its decision from the second.
"""
import re
import signal

from bdclient import *  # noqa: F401,F403

CAMP = "failover-test"


def outputs(url):
    return (metric(url, "budgetd_decisions_total"),
            metric(url, "budgetd_events_out_total", '{topic="budgetd.decisions"}'))


def requests(p, prefix, n, pause=0.0):
    ids = []
    for i in range(n):
        user = "u%d" % (i % 97)
        rid = "%s-%d" % (prefix, i)
        produce(p, "feature_event", user.encode(),
                encode("feature_event", {"request_id": rid, "campaign_id": CAMP,
                                         "user_id": user, "ts_ms": int(time.time() * 1000),
                                         "features": [0.1 * (i % 7)] * 12, "context": {}}))
        ids.append(rid)
        if pause:
            p.flush(5)
            time.sleep(pause)
    p.flush(10)
    return ids


def decided(tail, ids, timeout=60):
    want = set(ids)
    got = tail.read(len(want), timeout, lambda m: decode("decision", m.value())["request_id"]
                    in want)
    return {decode("decision", m.value())["request_id"] for m in got}


broker = start_broker()
state_a, state_b = tmpdir("holder"), tmpdir("standby")
a = start_daemon(broker.bootstrap, state_a)
a.name = "first"
b = None
stopped = False
passed = False
try:
    url_a = admin_url(a)
    wait_log(a, r"ready: every worker holds its partitions", 40)
    b = start_daemon(broker.bootstrap, state_b)
    b.name = "second"
    url_b = admin_url(b)
    wait_log(b, r"standby: another instance holds the instance lock", 40)
    p = producer(broker.bootstrap)
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    produce(p, "control_command", CAMP,
            encode("control_command", control(CAMP, "UPSERT_CAMPAIGN", 1000.0, TREATMENTS, 0.2)))
    p.flush(10)
    # the campaign known before its first requests (the control topic and
    # the inputs are read by different consumers, in no order between them)
    wait_log(a, r"control: \S+ %s: plan written" % CAMP, 30)
    first = requests(p, "one", 200)
    check_eq(len(decided(decisions, first)), 200, "first batch decided")
    wait_caught_up(broker.bootstrap)
    time.sleep(1.5)  # one admin refresh
    before = outputs(url_a)
    check_eq(before[0], 200.0, "the first instance's decisions")

    # the holder hangs past its session: the standby takes over
    os.kill(a.p.pid, signal.SIGSTOP)
    stopped = True
    t0 = time.time()
    wait_log(b, r"instance lock acquired", 40)
    wait_log(b, r"ready: every worker holds its partitions", 60)
    print("takeover: the second decides %.1f s after the first stopped" % (time.time() - t0))
    second = requests(p, "two", 200)
    check_eq(len(decided(decisions, second)), 200, "second batch decided (by the second)")

    # the zombie wakes up while requests keep coming
    os.kill(a.p.pid, signal.SIGCONT)
    stopped = False
    third = requests(p, "three", 60, pause=0.1)
    check_eq(len(decided(decisions, third)), 60, "third batch decided")
    wait_log(a, r"instance lock lost", 30)
    wait_log(a, r"standby: ", 30)
    time.sleep(1.5)
    after = outputs(url_a)
    check_eq(after, before, "the first instance's (decisions, decisions published) after it "
             "was resumed")
    check_eq(metric(url_a, "budgetd_active"), 0.0, "first budgetd_active")
    guard = re.search(r"worker \d: loop silent for [\d.]+ s", a.log_text())
    print("zombie: resumed, decided nothing (%s; %s)" % (
        guard.group(0) if guard else "no stall-guard line",
        re.search(r"instance lock lost \([^)]*\)", a.log_text()).group(0)))
    print("PASS: the lock moved from the hung instance to the standby, which decided every "
          "later request; the resumed instance decided nothing and stands by")
    passed = True
finally:
    if stopped:
        os.kill(a.p.pid, signal.SIGCONT)
    if not passed:
        a.dump_log(60)
        if b:
            b.dump_log(30)
    a.stop()
    if b:
        b.stop()
    broker.stop()
    cleanup(state_a, state_b)
sys.exit(0 if passed else 1)
