"""it_hostile: a hostile closed-loop day (issue 13's closing test).

One simulated day from budgetd-sim in event mode (clock.mode=event) with a
hostile producer beside the honest one: for a quarter of the requests a
separate request dated a day ahead (--hostile-future 0.25), for 1% a request
whose id is not UTF-8 (--hostile-utf8 0.01), and 1% of the outcomes preceded
by one for the same decision valued 1e300 (--hostile-value 0.01).  Then:

  - the day's realised spend lands within 2% of the budget (the sim's
    figures), and the daemon's own spent_today in /api agrees with it;
  - every honest request is decided exactly once, with one treatment; no
    hostile request is decided;
  - the dead letters are exactly what the sim sent: `future` for each
    request a day ahead, `encoding` for each non-UTF-8 id, `implausible` for
    each 1e300 outcome, nothing else; the daemon counts the same (/metrics);
    the honest outcome of a decision that got a hostile one still joined;
  - EVERY message on EVERY output topic (any topic on the broker that is not
    an input topic) decodes with Apache's python avro against schemas/:
    framing, every byte consumed, valid UTF-8 strings (python avro raises on
    invalid UTF-8), every double finite; decisions are keyed by their user;
  - the admin documents (/metrics, /api/*, /text/*, /status) are strict
    UTF-8, the JSON ones parse without NaN/Infinity and /api/plans has no
    null number.

The real daemon and budgetd-sim on the embedded broker; the bytes read back
with python avro, independent of budgetd's codec.
"""
import json
import math
import re
import subprocess
import urllib.request

from bdclient import *  # noqa: F401,F403

# the demo's day: 20 000 requests in 60 s (a smaller day lands noisier,
# docs/reliability.md, A hostile day)
EVENTS = int(os.environ.get("HOSTILE_EVENTS", "20000"))
DURATION = os.environ.get("HOSTILE_DURATION", "60")
SEED = os.environ.get("HOSTILE_SEED", "5")
CAMPAIGN = "hostile"
# Event mode, the jump bound at 1 h instead of 12: the clock is the
# campaign's latest event on any partition, so a request a day ahead read
# late on its partition passes a bound of B once another partition is
# 24 h - B of simulated time ahead (at 12 h, 30 s of this 60-s day, which
# a loaded machine reached: docs/reliability.md, A hostile day)
DAEMON_ARGS = SIM_CLOCK + ["-X", "clock.max.jump.s=3600"]
INPUTS = {TOPICS[k] for k in ("feature_event", "outcome_event", "control_command")}
OUTPUTS = {TOPICS[k]: k for k in ("decision", "plan", "model_update", "dead_letter", "changelog")}
DOCS = ["/metrics", "/status", "/api/status", "/api/campaigns", "/api/plans", "/api/clusters",
        "/api/models", "/api/config", "/api/health", "/text/campaigns", "/text/plans",
        "/text/clusters", "/text/models", "/text/config", "/text/health", "/api/commands",
        "/text/commands"]


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.read()


def no_constant(name):
    fail("a JSON document has %s" % name)


def finite(x, where):
    """Every double in a decoded record (or JSON document) is finite."""
    if isinstance(x, float):
        check(math.isfinite(x), "%s: a non-finite number %r" % (where, x))
    elif isinstance(x, dict):
        for k, v in x.items():
            finite(v, where + "." + k)
    elif isinstance(x, list):
        for v in x:
            finite(v, where)


def no_null(x, where):
    if x is None:
        fail("%s is null" % where)
    if isinstance(x, dict):
        for k, v in x.items():
            no_null(v, where + "." + k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            no_null(v, "%s[%d]" % (where, i))


def read_topic(bootstrap, topic):
    """Every message of @topic, from its start to its high watermark now."""
    t = Tail(bootstrap, topic, from_start=True)
    want = 0
    for p in t.c.list_topics(topic, timeout=10).topics[topic].partitions:
        lo, hi = t.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        want += hi - lo
    got = t.read(want, 60)
    t.close()
    check_eq(len(got), want, "messages read from " + topic)
    return got


def metric(text, name, label):
    m = re.search(r'^%s\{reason="%s"\} (\S+)$' % (re.escape(name), label), text, re.M)
    return float(m.group(1)) if m else 0.0


def run_sim(bootstrap):
    sim = subprocess.run([SIM, "run", "--bootstrap", bootstrap, "--events", str(EVENTS),
                          "--duration", DURATION, "--campaign", CAMPAIGN,
                          "--hostile-future", "0.25", "--hostile-value", "0.01",
                          "--hostile-utf8", "0.01", "-p", "seed=" + SEED, "-q"],
                         capture_output=True, text=True, timeout=(int(DURATION) + 240) * SLOW)
    line = re.search(r"^demo: (.*)$", sim.stdout, re.M)
    check(line, "no demo: line: " + sim.stdout[-500:] + sim.stderr[-500:])
    print("demo: " + line.group(1))
    check(sim.returncode == 0, "simulator: rc %d %s" % (sim.returncode, sim.stderr[-500:]))
    return {k: float(v) for k, v in (x.split("=") for x in line.group(1).split())}


def check_decisions(msgs, kv):
    """Every honest request decided once with one treatment, none hostile."""
    seen = {}
    for m in msgs:
        r = decode("decision", m.value())
        finite(r, "decision")
        check_eq(m.key(), r["user_id"].encode(), "key of decision " + r["request_id"])
        if r["campaign_id"] != CAMPAIGN:
            continue
        check(re.fullmatch(CAMPAIGN + r"-r\d+", r["request_id"]),
              "a hostile request was decided: %r" % r["request_id"])
        prev = seen.setdefault(r["request_id"], r)
        check_eq((r["decision_id"], r["treatment"]), (prev["decision_id"], prev["treatment"]),
                 "decision id and treatment of %s published again" % r["request_id"])
    want = {"%s-r%d" % (CAMPAIGN, i) for i in range(EVENTS)}
    check_eq(set(seen), want, "the honest requests decided")
    check_eq(kv["hostile_decided"], 0, "hostile requests decided (the sim's count)")
    dup = len([m for m in msgs if decode("decision", m.value())["campaign_id"] == CAMPAIGN]) - len(seen)
    return seen, dup


def check_dead_letters(msgs, kv, decisions):
    """Exactly what the sim sent, with the right reasons and payloads."""
    by = {}
    valued = set()
    for m in msgs:
        r = decode("dead_letter", m.value())
        by[r["reason"]] = by.get(r["reason"], 0) + 1
        check(r["key"] is not None, "dead letter without its key: %s" % r["detail"])
        if r["reason"] == "future":
            ev = decode("feature_event", r["payload"])
            check(re.fullmatch(CAMPAIGN + r"-f\d+", ev["request_id"]),
                  "future: not a hostile request: %r" % ev["request_id"])
        elif r["reason"] == "encoding":
            check(r["topic"] == TOPICS["feature_event"] and b"\xff\xfe" in r["payload"],
                  "encoding: not the hostile request: %r" % r)
        elif r["reason"] == "implausible":
            oe = decode("outcome_event", r["payload"])
            check_eq(oe["value"], 1e300, "implausible: the outcome's value")
            valued.add(oe["decision_id"])
        else:
            fail("dead letter %s: %s (topic %s)" % (r["reason"], r["detail"], r["topic"]))
    want = {"future": int(kv["hostile_future"]), "encoding": int(kv["hostile_utf8"]),
            "implausible": int(kv["hostile_value"])}
    check_eq({k: by.get(k, 0) for k in want}, want, "dead letters by reason")
    ids = {d["decision_id"] for d in decisions.values()}
    check(valued <= ids, "an implausible outcome for a decision that was not published")
    return by, valued


def check_outputs(bootstrap, kv):
    md = Consumer({"bootstrap.servers": bootstrap, "group.id": "bdtest-md"}).list_topics(timeout=10)
    topics = sorted(t for t in md.topics if not t.startswith("__") and t not in INPUTS)
    unknown = [t for t in topics if t not in OUTPUTS]
    check(not unknown, "output topics this test cannot decode: %r" % unknown)
    counts = {}
    for topic in topics:
        msgs = read_topic(bootstrap, topic)
        counts[topic] = len(msgs)
        for m in msgs:
            finite(decode(OUTPUTS[topic], m.value()), topic)
    check(counts.get("budgetd.plans", 0) > 0, "no plans published")
    decisions, dup = check_decisions(read_topic(bootstrap, "budgetd.decisions"), kv)
    by, valued = check_dead_letters(read_topic(bootstrap, "budgetd.deadletters"), kv, decisions)
    return counts, dup, by, valued


def check_docs(port):
    docs = {}
    for path in DOCS:
        body = get(port, path)
        try:
            text = body.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            fail("%s is not UTF-8: %s" % (path, e))
        if path.startswith("/api/"):
            docs[path] = json.loads(text, parse_constant=no_constant)
            finite(docs[path], path)
        else:
            docs[path] = text
    no_null(docs["/api/plans"], "/api/plans")
    return docs


def main():
    broker = start_broker()
    state = tmpdir("hostile")
    d = start_daemon(broker.bootstrap, state, *DAEMON_ARGS)
    try:
        wait_log(d, r"admin endpoint on .*\(port \d+\)", 20)
        port = int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))
        wait_log(d, r"assigned budgetd\.features", 40)
        kv = run_sim(broker.bootstrap)
        check_eq(kv["decisions"], EVENTS, "honest requests decided (the sim's count)")
        check(kv["hostile_future"] > EVENTS * 0.2 and kv["hostile_utf8"] > 0 and
              kv["hostile_value"] > 0, "the sim sent too little hostile input: %r" % kv)
        ratio = kv["spend"] / kv["budget"]
        check(abs(ratio - 1) <= 0.02, "spend %.2f is %.2f%% of the budget %.2f: not within 2%%"
              % (kv["spend"], 100 * ratio, kv["budget"]))
        wait_caught_up(broker.bootstrap)
        time.sleep(2.5)  # the admin documents are rendered every admin.refresh.ms
        docs = check_docs(port)
        camp = [c for c in docs["/api/campaigns"]["campaigns"] if c["id"] == CAMPAIGN]
        check(camp, "campaign %s not in /api/campaigns" % CAMPAIGN)
        # spent_today also holds the expected cost of decisions whose user
        # has not bought (yet): what outcomes reported is realised_today
        spent = camp[0]["realised_today"]
        check(abs(spent - kv["spend"]) <= 1e-6 * kv["budget"] + 0.01,
              "the daemon's realised_today %.4f, the sim's realised spend %.2f" % (spent, kv["spend"]))
        check(abs(camp[0]["spent_today"] - spent - camp[0]["pending_cost"]) <= 1e-6 * kv["budget"],
              "spent_today %r is not realised_today %r + pending_cost %r"
              % (camp[0]["spent_today"], spent, camp[0]["pending_cost"]))
        counts, dup, by, valued = check_outputs(broker.bootstrap, kv)
        text = docs["/metrics"]
        for reason in ("future", "encoding", "implausible"):
            check_eq(metric(text, "budgetd_dead_letters_total", reason), by[reason],
                     "budgetd_dead_letters_total{reason=%s}" % reason)
        # the honest outcomes, including those after a 1e300 one, joined:
        # nothing else was dead-lettered (no 'duplicate', no 'unknown_decision'),
        # and the daemon's spend is the realised cost of all of them
        check_eq(d.stop(), 0, "exit code")
        print("PASS: hostile day: spend %.2f of %.2f (%.2f%%), daemon's realised_today %.2f; "
              "%d honest requests decided once (%d republished), none of %d a day ahead nor "
              "%d non-UTF-8; %d outcomes of 1e300 implausible (%d decisions, their honest "
              "outcomes joined); every message decoded: %s"
              % (kv["spend"], kv["budget"], 100 * ratio, spent, EVENTS, dup, by["future"],
                 by["encoding"], by["implausible"], len(valued),
                 " ".join("%s=%d" % tc for tc in sorted(counts.items()))))
    except SystemExit:
        d.dump_log(30)
        raise
    finally:
        d.stop(signal.SIGKILL)
        broker.stop(signal.SIGKILL)
        cleanup(state)


if __name__ == "__main__":
    main()
