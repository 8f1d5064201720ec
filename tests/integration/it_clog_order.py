"""it_clog_order: a decision goes out only once the state behind it is in the
changelog, so a standby that takes over never decides a published request
again.

Two daemons with changelog.enabled=1 in one group on a broker with faults.
Every changelog partition is led by broker 3, everything else (inputs,
outputs, control, the groups' coordinators) by brokers 1 and 2.  The first
instance decides 100 requests.  Broker 3 goes down: the first decides 50
more and writes them, but their changelog records cannot be acknowledged,
so their decisions are held, not published.  It is killed (SIGKILL) with
them held; broker 3 comes back; the standby takes over, restores what the
changelog has (not those 50 batches) and decides the 50 itself.  Every
request's decision is published by exactly one instance, with one
treatment: none of the 50 before the kill, each once after.  (Without the
ordering the first publishes the 50 at once and the standby, lacking their
state, decides and publishes them again.)
"""
import random
import signal

from bdclient import *  # noqa: F401,F403

CAMP = "order-test"
CLOG = ("-X", "changelog.enabled=1")
TOPICS = ["budgetd.features", "budgetd.outcomes", "budgetd.decisions", "budgetd.control",
          "budgetd.plans", "budgetd.models", "budgetd.deadletters"]


def published(tail, prefix, want, timeout):
    got = tail.read(want, timeout, lambda m: decode("decision", m.value())["request_id"]
                    .startswith(prefix))
    return [decode("decision", m.value()) for m in got]


rng = random.Random(11)
broker = start_broker(faults=True)
md = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "bdtest-md"}).list_topics(
    timeout=10)
for t in TOPICS:
    for part in md.topics[t].partitions:
        fault(broker, "leader %s %d %d" % (t, part, 1 + part % 2))
for part in md.topics["budgetd.changelog"].partitions:
    fault(broker, "leader budgetd.changelog %d 3" % part)
for g in ("budgetd", "budgetd.active"):
    fault(broker, "coordinator group %s 1" % g)
state_a, state_b = tmpdir("holder"), tmpdir("standby")
a = start_daemon(broker.bootstrap, state_a, *CLOG)
a.name = "first"
b = None
down = False
passed = False
try:
    wait_log(a, r"ready: every worker holds its partitions", 40)
    b = start_daemon(broker.bootstrap, state_b, *CLOG)
    b.name = "second"
    wait_log(b, r"standby: another instance holds the instance lock", 40)
    p = producer(broker.bootstrap)
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    produce(p, "control_command", CAMP,
            encode("control_command", control(CAMP, "UPSERT_CAMPAIGN", 5000.0, TREATMENTS, 0.3)))
    p.flush(10)
    wait_log(a, r"control: \S+ %s: plan written" % CAMP, 30)
    feature_events(p, CAMP, "one", 100, rng)
    check_eq(len({d["request_id"] for d in published(decisions, "one-", 100, 60)}), 100,
             "first batch decided and published")
    time.sleep(2)  # the last batches' changelog records are acknowledged

    fault(broker, "down 3")
    down = True
    feature_events(p, CAMP, "two", 50, rng)
    wait_caught_up(broker.bootstrap)  # read and written by the first
    early = published(decisions, "two-", 50, 4)
    check_eq(len(early), 0, "decisions published while their changelog records were not "
             "acknowledged")
    a.p.send_signal(signal.SIGKILL)
    a.p.wait()
    fault(broker, "up 3")
    down = False
    wait_log(b, r"restored from budgetd.changelog", 60)
    wait_log(b, r"ready: every worker holds its partitions", 60)
    print(re.search(r"restored from [^\n]*", b.log_text()).group(0))
    late = published(decisions, "two-", 50, 60)
    check_eq(len({d["request_id"] for d in late}), 50, "the 50 decided by the standby")
    time.sleep(2)
    everything = [decode("decision", m.value()) for m in
                  Tail(broker.bootstrap, "budgetd.decisions", from_start=True).read(10 ** 6, 5)]
    count = {}
    for d in everything:
        count.setdefault(d["request_id"], []).append(d["treatment"])
    twice = {r: t for r, t in count.items() if r.startswith("two-") and len(t) > 1}
    check(not twice, "the held requests published more than once: %s" % list(twice.items())[:5])
    mixed = {r: t for r, t in count.items() if len(set(t)) > 1}
    check(not mixed, "requests published with two treatments: %s" % list(mixed.items())[:5])
    print("PASS: the 50 requests whose changelog records were never acknowledged were not "
          "published by the killed holder and were decided once by the standby")
    passed = True
finally:
    if down:
        fault(broker, "up 3")
    if not passed:
        a.dump_log(40)
        if b:
            b.dump_log(60)
    a.stop()
    if b:
        b.stop()
    broker.stop()
    cleanup(state_a, state_b)
sys.exit(0 if passed else 1)
