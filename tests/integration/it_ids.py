"""it_ids: decision ids are the formula of docs/messages.md, and they bind
the user.

The formula is implemented here from the words of docs/messages.md alone
(not from budgetd's code), checked against the test vector printed there,
then against every decision the daemon publishes: plain and multi-byte
UTF-8 ids.  The same request_id from another user (another key, so mostly
another partition, where no lookup could see the first decision) is its
own decision with its own id, carrying its own user; the same request from
the same user again is answered with the stored decision (same id, same
treatment) and counted once.
"""
import json
import re
import urllib.request

from bdclient import *  # noqa: F401,F403

CAMP = "it-ids-kampagne-\u00fc"  # a multi-byte campaign id too
N = 16


def doc_text():
    with open(os.path.join(SRCDIR, "docs", "messages.md"), encoding="utf-8") as f:
        return f.read()


M64 = (1 << 64) - 1


def decision_id(campaign, user, request):
    """docs/messages.md, "Decision ids"."""
    b = campaign.encode() + b"\0" + user.encode() + b"\0" + request.encode()
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & M64
    h ^= len(b)
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & M64
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & M64
    h ^= h >> 31
    return "%016x" % h


def feature(req, user):
    return {"request_id": req, "campaign_id": CAMP, "user_id": user,
            "ts_ms": int(time.time() * 1000), "features": [0.5] * 12, "context": {}}


# the test vector of the document
vec = re.search(r"Test vector: campaign_id `([^`]*)`, user_id `([^`]*)`, request_id "
                r"`([^`]*)` give `([0-9a-f]{16})`", doc_text())
check(vec, "docs/messages.md has no test vector line for decision ids")
check_eq(decision_id(vec.group(1), vec.group(2), vec.group(3)), vec.group(4),
         "the document's test vector computed from its own description")

broker = start_broker()
state = tmpdir("ids")
d = start_daemon(broker.bootstrap, state)
passed = False
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    dec = Tail(broker.bootstrap, TOPICS["decision"])
    plans = Tail(broker.bootstrap, TOPICS["plan"])
    p = producer(broker.bootstrap)
    produce(p, "control_command", CAMP.encode(), encode("control_command", control(
        CAMP, "UPSERT_CAMPAIGN", 100.0, TREATMENTS, 0.2)))
    p.flush(10)
    check(plans.read(1, 30, lambda m: decode("plan", m.value())["campaign_id"] == CAMP),
          "no plan for the campaign")
    # (request, user): N plain, the same N request ids from other users,
    # N with multi-byte ids; then the first 4 again from their own users
    sent = ([("req-%d" % i, "u%d" % i) for i in range(N)] +
            [("req-%d" % i, "w%d" % i) for i in range(N)] +
            [("r\u00e9q-%d-\u20ac" % i, "\u7528\u6237%d" % i) for i in range(N)])
    retries = sent[:4]
    for req, user in sent:
        produce(p, "feature_event", user.encode(), encode("feature_event", feature(req, user)))
    p.flush(10)
    got = [decode("decision", m.value()) for m in dec.read(len(sent), 60)]
    check_eq(len(got), len(sent), "decisions for distinct (request, user) pairs")
    for req, user in retries:
        produce(p, "feature_event", user.encode(), encode("feature_event", feature(req, user)))
    p.flush(10)
    again = [decode("decision", m.value()) for m in dec.read(len(retries), 60)]
    check_eq(len(again), len(retries), "decisions published again for the retries")

    by_pair = {}
    for r in got:
        check_eq(r["campaign_id"], CAMP, "campaign of a decision")
        by_pair.setdefault((r["request_id"], r["user_id"]), []).append(r)
    match = sum(r["decision_id"] == decision_id(CAMP, r["user_id"], r["request_id"]) for r in got)
    check(match == len(got), "%d of %d decision ids match the formula of docs/messages.md"
          % (match, len(got)))
    twice = {k: [r["decision_id"] for r in v] for k, v in by_pair.items() if len(v) > 1}
    missing = set(sent) - set(by_pair)
    check(not twice and not missing,
          "one decision per (request, user) with its own user: for %s none, %s twice"
          % (sorted(missing), twice))
    ids = {r["decision_id"] for r in got}
    check_eq(len(ids), len(got), "distinct decision ids")
    for r in again:
        first = by_pair[(r["request_id"], r["user_id"])][0]
        check_eq((r["decision_id"], r["treatment"], r["propensity"]),
                 (first["decision_id"], first["treatment"], first["propensity"]),
                 "a retried request's decision")

    wait_caught_up(broker.bootstrap)
    port = int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))
    time.sleep(1.5)  # one more render of the documents
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode("utf-8")
    n = float(re.search(r"^budgetd_decisions_total (\S+)$", text, re.M).group(1))
    check_eq(n, float(len(sent)), "budgetd_decisions_total (retries not counted)")
    check_eq(d.stop(), 0, "exit code")
    cells = [x for x in dump_state(state) if x[0] == "cell" and x[2] == CAMP]
    check_eq(sum(float(x[7]) for x in cells), float(len(sent)), "decisions in the state")
    print("PASS: %d decision ids match docs/messages.md (its test vector too); the same "
          "request_id from another user is its own decision; %d retries answered from the "
          "store, not counted" % (len(got), len(retries)))
    passed = True
finally:
    d.stop(signal.SIGKILL)
    broker.stop(signal.SIGKILL)
    if passed:
        cleanup(state)
