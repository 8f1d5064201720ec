"""it_takeover: a standby that takes over after its holder was killed
restores the holder's state from the changelog before it decides.

Two daemons with changelog.enabled=1 in one group on one broker.  The first
decides 200 requests and gets the outcomes of them (each costing its
treatment's nominal cost); it is then killed (SIGKILL: nothing drained, no
goodbye to its group).  The second takes the instance lock after the
session timeout, restores the changelog (the first's worker batches) and
only then reads the inputs, from the offsets the restored state holds.  It
decides the next 200 requests and nothing again:
  - its decision counter is 200 (without the restore it starts from its own
    empty offsets and decides the first 200 again),
  - no request id is ever published with two treatments, and the first
    batch's decisions are not published again (but for the at-least-once
    few the first had not seen acknowledged),
  - its day counts the first instance's 200 decisions and the cost of their
    outcomes (the budget's spend follows the partition),
  - the holder had promoted a model the standby lacks: the standby trains
    one on the restored samples as it takes over,
  - killed too and restarted on its store, it reads its own records back
    and applies none of them (its day still counts 400 decisions),
  - a backup (checkpoint) of its state taken before it decided, started
    on: the restore applies the batches written after the backup, and
    nothing is decided again,
  - its store, dumped after it stopped, holds the 400 decision records, the
    first 200 with the treatments the first instance published.
"""
import json
import random
import shutil
import signal

from bdclient import *  # noqa: F401,F403

CAMP = "takeover-test"
COST = {0: 0.0, 1: 2.0, 2: 5.0}
CLOG = ("-X", "changelog.enabled=1", "-X", "train.min.samples=100", "-X", "train.epochs=2",
        "-X", "train.interval.s=0", "-X", "train.min.agreement=0.1", "-X", "clusters=2",
        "-X", "train.min.cluster.users=5", "-X", "train.min.cluster.share=0.01")


def decisions_of(tail, ids, timeout=60):
    want = set(ids)
    got = tail.read(len(want), timeout, lambda m: decode("decision", m.value())["request_id"]
                    in want)
    return [decode("decision", m.value()) for m in got]


def start_restored(bootstrap, state, name):
    """A daemon on @state that has restored and holds its partitions: (the
    process, its admin URL, its restore line)."""
    d = start_daemon(bootstrap, state, *CLOG)
    d.name = name
    url = admin_url(d)
    wait_log(d, r"restored from budgetd.changelog", 60)
    wait_log(d, r"ready: every worker holds its partitions", 60)
    return d, url, re.search(r"restored from [^\n]*", d.log_text()).group(0)


def decided_nothing_again(bootstrap, url, what):
    """Once caught up, @url's daemon decided nothing and counts the day's 400."""
    wait_caught_up(bootstrap)
    time.sleep(1.5)  # one admin refresh
    check_eq(metric(url, "budgetd_decisions_total"), 0.0, "decisions " + what)
    check_eq(today(url, "budgetd_campaign_decisions_today"), 400.0,
             "the day's decisions " + what)


def today(url, name):
    return sum(v for k, v in metrics(url).items()
               if k.startswith('%s{campaign="%s"' % (name, CAMP)))


rng = random.Random(7)
broker = start_broker()
state_a, state_b = tmpdir("holder"), tmpdir("standby")
ckpts, ckcopy = tmpdir("checkpoints"), tmpdir("ckcopy")
CKPT = ("-X", "checkpoint.dir=" + ckpts, "-X", "checkpoint.interval.s=1",
        "-X", "checkpoint.keep=100")
a = start_daemon(broker.bootstrap, state_a, *CLOG)
a.name = "first"
b = c = None
passed = False
try:
    wait_log(a, r"ready: every worker holds its partitions", 40)
    b = start_daemon(broker.bootstrap, state_b, *CLOG, *CKPT)
    b.name = "second"
    url_b = admin_url(b)
    wait_log(b, r"standby: another instance holds the instance lock", 40)
    p = producer(broker.bootstrap)
    decisions = Tail(broker.bootstrap, "budgetd.decisions")
    produce(p, "control_command", CAMP,
            encode("control_command", control(CAMP, "UPSERT_CAMPAIGN", 5000.0, TREATMENTS, 0.3)))
    p.flush(10)
    wait_log(a, r"control: \S+ %s: plan written" % CAMP, 30)
    first = decisions_of(decisions, feature_events(p, CAMP, "one", 200, rng))
    check_eq(len({d["request_id"] for d in first}), 200, "first batch decided")
    spent = 0.0
    for d in first:
        buys = rng.random() < 0.2 + 0.2 * d["treatment"] + 0.2 * (int(d["user_id"][5:]) % 2)
        spent += COST[d["treatment"]] if buys else 0.0
        produce(p, "outcome_event", d["user_id"].encode(), encode("outcome_event", {
            "decision_id": d["decision_id"], "campaign_id": CAMP, "user_id": d["user_id"],
            "ts_ms": int(time.time() * 1000), "orders": 1 if buys else 0,
            "value": 30.0 if buys else 0.0, "cost": COST[d["treatment"]] if buys else 0.0,
            "features": None, "treatment": None, "propensity": None}))
    p.flush(10)
    wait_caught_up(broker.bootstrap)
    # the holder trains and promotes a model the standby does not have
    produce(p, "control_command", CAMP, encode("control_command", control(CAMP, "RETRAIN")))
    p.flush(10)
    wait_log(a, r"model [0-9]+ (promoted|not promoted)", 120)
    promoted = re.search(r"model ([0-9]+) promoted", a.log_text())
    check(promoted, "the holder's model not promoted: %s" % re.findall(
        r"model [0-9]+ not promoted[^\n]*", a.log_text()))
    wait_caught_up(broker.bootstrap)
    time.sleep(2)  # the last batches' changelog records are delivered
    treated = {d["request_id"]: d["treatment"] for d in first}

    # killed: no drain, no leave; the lock moves after the session timeout
    a.p.send_signal(signal.SIGKILL)
    a.p.wait()
    t0 = time.time()
    wait_log(b, r"instance lock acquired", 40)
    wait_log(b, r"restored from budgetd.changelog", 60)
    wait_log(b, r"ready: every worker holds its partitions", 60)
    print("takeover: the second decides %.1f s after the first was killed; %s" % (
        time.time() - t0, re.search(r"restored from [^\n]*", b.log_text()).group(0)))
    # a backup of the standby's state before it decides anything itself
    wait_log(b, r"checkpoint written: ", 20)
    ckpt = re.findall(r"checkpoint written: (\S+)", b.log_text())[-1]
    shutil.rmtree(ckcopy)
    shutil.copytree(ckpt, ckcopy)
    second = decisions_of(decisions, feature_events(p, CAMP, "two", 200, rng))
    check_eq(len({d["request_id"] for d in second}), 200, "second batch decided")
    wait_caught_up(broker.bootstrap)
    time.sleep(1.5)  # one admin refresh

    check_eq(metric(url_b, "budgetd_decisions_total"), 200.0,
             "the second instance's decisions (the first's 200 not decided again)")
    check(metric(url_b, "budgetd_restore_batches_total") > 0, "no batch restored")
    inst = json.loads(http_get(url_b + "/api/status")[1])["instance"]
    check(inst["active"] and inst["restores"] == 1 and inst["restore_batches"] > 0 and
          inst["changelog_epoch"] > 0, "/api/status instance: %r" % inst)
    everything = [decode("decision", m.value()) for m in
                  Tail(broker.bootstrap, "budgetd.decisions", from_start=True).read(10 ** 6, 5)]
    both = {}
    for d in everything:
        both.setdefault(d["request_id"], set()).add(d["treatment"])
    twice = {r: t for r, t in both.items() if len(t) > 1}
    check(not twice, "requests published with two treatments: %s" % list(twice.items())[:5])
    # at least once: the first's outbox entries not yet acknowledged when it
    # died are published again (same treatment); the rest not
    again = sum(1 for d in everything if d["request_id"].startswith("one-")) - len(first)
    check(0 <= again <= 20, "the first batch's decisions published again: %d" % again)
    check_eq(today(url_b, "budgetd_campaign_decisions_today"), 400.0,
             "the day's decisions as the second counts them")
    cost = today(url_b, "budgetd_campaign_cost_today")
    check(abs(cost - spent) < 1e-6, "the day's cost as the second counts it: %.2f, the "
          "first's outcomes cost %.2f" % (cost, spent))
    # the standby lacks the holder's model: it trains one on the restored samples
    wait_log(b, r"training model [0-9]+ \(taking over: the restored statistics are of model %s"
             % promoted.group(1), 10)
    wait_log(b, r"model [0-9]+ (promoted|not promoted)", 120)
    print("the standby: %s" % re.search(r"model [0-9]+ (promoted|not promoted)[^\n]*",
                                        b.log_text()).group(0))
    # killed too and started again on its store: it reads its own records
    # back (written after its position) and applies none of them
    b.p.send_signal(signal.SIGKILL)
    b.p.wait()
    b, url_b, line = start_restored(broker.bootstrap, state_b, "second, restarted")
    print("restart after a kill: %s" % line)
    own = re.search(r" 0 batches applied \(0 operations\), ([0-9]+) records of batches held already", line)
    check(own and int(own.group(1)) > 0, "the restart applied its own records again: " + line)
    decided_nothing_again(broker.bootstrap, url_b, "after the restart")
    check_eq(b.stop(), 0, "second exit code")
    # the backup taken before the second batch, started on: the restore
    # applies the batches written after it (its own epoch, later batch
    # numbers), so nothing is decided again
    c, url_c, line = start_restored(broker.bootstrap, ckcopy, "second, from its backup")
    print("from a backup: %s" % line)
    decided_nothing_again(broker.bootstrap, url_c, "after the backup's restore")
    check_eq(c.stop(), 0, "exit code on the backup")
    recs = {}
    for line in subprocess.run([BUDGETD, "-X", "state.dir=" + state_b, "--dump", "decisions"],
                               capture_output=True, text=True, check=True).stdout.splitlines():
        f = line.split()
        if f[0] == "decision":
            recs[f[4]] = int(f[6].split("=")[1])
    check_eq(len(recs), 400, "decision records in the second's store")
    wrong = {r: (t, recs.get(r)) for r, t in treated.items() if recs.get(r) != t}
    check(not wrong, "restored records with another treatment than published: %s" %
          list(wrong.items())[:5])
    print("PASS: the standby restored the killed holder's state from the changelog "
          "(%d decisions, cost %.2f), decided only what came after, never with another "
          "treatment" % (len(first), spent))
    passed = True
finally:
    if not passed:
        a.dump_log(40)
        if b:
            b.dump_log(60)
        if c:
            c.dump_log(40)
    a.stop()
    if b:
        b.stop()
    if c:
        c.stop()
    broker.stop()
    cleanup(state_a, state_b, ckpts, ckcopy)
sys.exit(0 if passed else 1)
