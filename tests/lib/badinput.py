"""badinput KIND: one kind of bad input goes to the dead-letter topic with
its reason, a precise detail, its topic, partition, offset, key and bytes;
the per-reason dead-letter counter counts it; the state is what the good
input alone makes of it; the daemon goes on deciding.

Each kind is its own test (tests/bad/KIND.sh) so that a failure names the
kind and the others still run.  `badinput.py --list` prints the kinds.
"""
import io
import math
import re
import struct
import subprocess
import time
import urllib.request

import avro.io

from bdclient import *  # noqa: F401,F403

CAMP = "it-bad"
HOUR_MS = 3600 * 1000


def now_ms():
    return int(time.time() * 1000)


def feature(req, user="u1", n=12, value=0.25, campaign=CAMP, ts=None, context=None):
    return {"request_id": req, "campaign_id": campaign, "user_id": user,
            "ts_ms": now_ms() if ts is None else ts, "features": [value] * n,
            "context": context or {}}


def outcome(did, cost=1.0, user="u1", ts=None, value=3.0, orders=1):
    return {"decision_id": did, "campaign_id": CAMP, "user_id": user,
            "ts_ms": now_ms() if ts is None else ts, "orders": orders, "value": value,
            "cost": cost, "features": None, "treatment": None, "propensity": None}


def historical(propensity):
    return dict(outcome("", cost=0.0), features=[0.25] * 12, treatment=1,
                propensity=propensity)


def fe(rec):
    return ("feature_event", b"u1", encode("feature_event", rec))


def oe(rec):
    # keyed by the decision's user (u1), so that it reaches its partition
    return ("outcome_event", b"u1", encode("outcome_event", rec))


def cc(rec):
    return ("control_command", b"k", encode("control_command", rec))


def raw(kind, rec, swaps):
    """encode() with strings that are not UTF-8: python's avro writes only
    valid UTF-8, so each ASCII placeholder is swapped for bytes of the same
    length (the Avro length before it stays right)."""
    data = encode(kind, rec)
    for ph, bad in swaps.items():
        check(len(ph) == len(bad) and data.count(ph) == 1, "placeholder %r" % ph)
        data = data.replace(ph, bad)
    return data


def fe_raw(rec, swaps, key=b"u1"):
    return ("feature_event", key, raw("feature_event", rec, swaps))


def cc_raw(rec, swaps):
    return ("control_command", b"k", raw("control_command", rec, swaps))


# the ways a byte string fails to be UTF-8 (RFC 3629)
NOT_UTF8 = {
    "ff": b"r\xff\xfe",                # bytes that never occur in UTF-8
    "overlong": b"u\xc0\x80",          # NUL in two bytes
    "surrogate": b"c\xed\xa0\x80",    # U+D800
    "too_big": b"v\xf4\x90\x80\x80",  # U+110000
    "cut": b"n\xe9x",                  # a lead byte without its continuation
}


def control_unknown_action(index):
    """A ControlCommand whose enum index names no action: python's avro
    writes only valid symbols, so the body is written field by field."""
    buf = io.BytesIO()
    e = avro.io.BinaryEncoder(buf)
    e.write_utf8("bad-action")
    e.write_utf8(CAMP)
    e.write_long(now_ms())
    e.write_int(index)
    for _ in range(4):          # daily_budget .. timezone_offset_s: null
        e.write_long(0)
    return b"\x00" + struct.pack(">I", SCHEMA_IDS["control_command"]) + buf.getvalue()


TR2 = [{"id": 0, "name": "a", "nominal_cost": 0.0}, {"id": 0, "name": "b", "nominal_cost": 1.0}]

# kind: (messages(ctx) -> [(topic kind, key, payload)], reason, detail regex, options)
# ctx: good (a valid feature event's bytes), did (the good decision's id),
# upsert_cid (the command id of the campaign's UPSERT).
# options: n dead letters (1), joined outcomes (0), daemon args, decision_ts
# (the good decision's event time relative to now), keep (payload bytes the
# dead letter keeps; default all), keep_key (the same for the key), outputs
# (the admin documents and budgetctl --json are checked to be UTF-8 after it),
# plans (after the bad input a RESOLVE gets a new plan, and every plan of the
# campaign has finite numbers only), health (a log line "health: degraded:
# <this regex>" must come).
KINDS = {
    # framing
    "empty_message": (lambda c: [("feature_event", b"u1", b"")], "wire", r"shorter", {}),
    "wrong_magic": (lambda c: [("feature_event", b"u1", b"{\"json\": true}")], "wire",
                    r"magic", {}),
    "unknown_schema_id": (lambda c: [("feature_event", b"u1",
                                      b"\x00\x00\x00\x00\x63" + c["good"][5:])],
                          "schema", r"unknown Confluent schema id 99 for feature_event", {}),
    "unknown_fingerprint": (lambda c: [("feature_event", b"u1", b"\xc3\x01" +
                                        struct.pack("<Q", 12345) + c["good"][5:])],
                            "schema", r"unknown schema fingerprint 0000000000003039", {}),
    "wrong_schema": (lambda c: [("feature_event", b"u1",
                                 encode("outcome_event", outcome(c["did"], cost=7.0)))],
                     "schema", r"schema id 2 for feature_event", {}),
    # Avro body
    "truncated_avro": (lambda c: [("feature_event", b"u1", c["good"][:-3])], "decode",
                       r"does not decode", {}),
    "trailing_bytes": (lambda c: [("feature_event", b"u1", c["good"] + b"\x00")], "decode",
                       r"trailing bytes", {}),
    # feature events
    "wrong_dimension": (lambda c: [fe(feature("bad-dim", n=5))], "invalid",
                        r"features has 5 values, features.dim is 12", {}),
    "nan_feature": (lambda c: [fe(feature("bad-nan", value=math.nan))], "invalid",
                    r"features\[0\] is not a finite number", {}),
    "infinite_feature": (lambda c: [fe(feature("bad-inf", value=math.inf))], "invalid",
                         r"features\[0\] is not a finite number", {}),
    "too_many_features": (lambda c: [fe(feature("bad-many", n=5000))], "invalid",
                          r"features has 5000 values \(limit 4096\)", {}),
    "huge_array": (lambda c: [fe(feature("bad-huge", n=1000000))], "oversized",
                   r"message is \d{7} bytes, input.max.bytes is 262144", {"keep": 1024}),
    "unknown_campaign": (lambda c: [fe(feature("bad-camp", campaign="nope"))],
                         "unknown_campaign", r"campaign 'nope' is not known", {}),
    "empty_request_id": (lambda c: [fe(feature(""))], "invalid", r"request_id is empty", {}),
    "long_request_id": (lambda c: [fe(feature("x" * 5000))], "invalid",
                        r"request_id is 5000 bytes long \(limit 1024\)", {}),
    "huge_string": (lambda c: [fe(feature("bad-str", user="u" * 200000))], "invalid",
                    r"user_id is 200000 bytes long \(limit 1024\)", {}),
    # 10 minutes ahead: inside the 30 days the old input.max.future.s let
    # through, and enough to move every campaign's day near midnight
    "future_timestamp": (lambda c: [fe(feature("bad-future", ts=now_ms() + 600000))],
                         "future", r"is (59\d|600) s ahead of this host's clock "
                         r"\(clock.max.ahead.s is 300, clock.mode wall\)", {}),
    # a day behind the host's clock: yesterday for the campaign, whose coupon
    # would be spent today on yesterday's account (clock.max.behind.s)
    "stale_request": (lambda c: [fe(feature("bad-stale", ts=now_ms() - 24 * HOUR_MS))],
                      "stale", r"day \d+ of its campaign, which is at day \d+, and 8640\d s behind this host's clock "
                      r"\(clock.max.behind.s is 600, clock.mode wall\)", {}),
    # event mode (replays): 13 h ahead of the campaign's clock, which the
    # good request set
    "future_jump": (lambda c: [fe(feature("bad-jump", ts=c["dts"] + 13 * HOUR_MS))],
                    "future", r"is 46800 s ahead of its campaign's clock \d+ "
                    r"\(clock.max.jump.s is 43200, clock.mode event\)",
                    {"args": ["-X", "clock.mode=event"]}),
    "oversized": (lambda c: [fe(feature("bad-big", context={"pad": "p" * 3000}))],
                  "oversized", r"message is 3\d{3} bytes, input.max.bytes is 2048 "
                  r"\(payload cut to its first 1024 bytes\)",
                  {"args": ["-X", "input.max.bytes=2048"], "keep": 1024}),
    # strings that are not UTF-8 (every string field is checked, wire.c)
    "utf8_request_id": (lambda c: [fe_raw(feature("R@@"), {b"R@@": NOT_UTF8["ff"]})],
                        "encoding", r"^request_id is not valid UTF-8 \(byte 0xff at offset 1\)", {}),
    "utf8_campaign_id": (lambda c: [fe_raw(feature("bad-u8c", campaign="C@@@"),
                                           {b"C@@@": NOT_UTF8["surrogate"]})],
                         "encoding", r"^campaign_id is not valid UTF-8 \(byte 0xed at offset 1\)",
                         {"outputs": True}),
    "utf8_user_id": (lambda c: [fe_raw(feature("bad-u8u", user="U@@"),
                                       {b"U@@": NOT_UTF8["overlong"]})],
                     "encoding", r"^user_id is not valid UTF-8 \(byte 0xc0 at offset 1\)", {}),
    "utf8_context": (lambda c: [fe_raw(feature("bad-u8x", context={"page": "V@@@@"}),
                                       {b"V@@@@": NOT_UTF8["too_big"]})],
                     "encoding", r"^context \(a value\) is not valid UTF-8 \(byte 0xf4 at offset 1\)",
                     {}),
    # the key itself is never decoded: a 70 000-byte key comes back whole
    # (its length once went into 2 bytes), an empty key stays empty (not null)
    "long_key": (lambda c: [("feature_event", b"k" * 70000,
                             encode("feature_event", feature("bad-lk", campaign="nope")))],
                 "unknown_campaign", r"campaign 'nope' is not known", {}),
    "empty_key": (lambda c: [("feature_event", b"",
                              encode("feature_event", feature("bad-ek", campaign="nope")))],
                  "unknown_campaign", r"campaign 'nope' is not known", {}),
    "oversized_key": (lambda c: [("feature_event", b"k" * 3000,
                                  encode("feature_event", feature("bad-ok")))],
                      "oversized", r"key is 3000 bytes, input.max.bytes is 2048 \(key and "
                      r"payload cut to their first 1024 bytes\)",
                      {"args": ["-X", "input.max.bytes=2048"], "keep_key": 1024}),
    # outcome events
    "utf8_decision_id": (lambda c: [("outcome_event", b"u1",
                                     raw("outcome_event", outcome("D@@"),
                                         {b"D@@": NOT_UTF8["ff"]}))],
                         "encoding", r"^decision_id is not valid UTF-8", {}),
    "unknown_decision": (lambda c: [oe(outcome("00000000000000ff"))], "unknown_decision",
                         r"no decision 00000000000000ff on partition", {}),
    "bad_decision_id": (lambda c: [oe(outcome("XYZ"))], "invalid",
                        r"'XYZ' is not 16 lowercase hex", {}),
    "negative_cost": (lambda c: [oe(outcome(c["did"], cost=-1.0))], "invalid",
                      r"cost -1 is not a finite number >= 0", {}),
    # outside the campaign's bounds (TREATMENTS' largest nominal cost is 5)
    "implausible_value": (lambda c: [oe(outcome(c["did"], value=1e308))], "implausible",
                          r"value 1e\+308 is above 1e\+09, the most campaign 'it-bad' accepts "
                          r"\(outcome.max.value\)", {"plans": True}),
    "implausible_cost": (lambda c: [oe(outcome(c["did"], cost=1e308))], "implausible",
                         r"cost 1e\+308 is above 50, the most campaign 'it-bad' accepts "
                         r"\(outcome.max.cost.factor 10 x its largest nominal cost 5\): "
                         r"not counted in spend",
                         {"plans": True, "health": r"spend: campaign it-bad: an outcome's cost "
                          r"1e\+308 above its bound 50 was refused"}),
    "implausible_orders": (lambda c: [oe(outcome(c["did"], orders=2000000000))], "implausible",
                           r"orders 2000000000 is above outcome.max.orders 1000", {"plans": True}),
    "implausible_propensity": (lambda c: [oe(historical(1e-300))], "implausible",
                               r"propensity 1e-300 is below 1e-09", {"plans": True}),
    "wrong_user": (lambda c: [oe(dict(outcome(c["did"]), user_id="u2"))], "invalid",
                   r"belongs to campaign 'it-bad' user 'u1'", {}),
    # the real outcome, then the same again: the second is the duplicate
    "duplicate_outcome": (lambda c: [oe(c["real"]), oe(c["real"])], "duplicate",
                          r"already has its outcome", {"joined": 1, "letter": 1}),
    "future_outcome": (lambda c: [oe(outcome(c["did"], ts=now_ms() + 600000))], "future",
                       r"is (59\d|600) s ahead of this host's clock", {}),
    "outcome_before_decision": (lambda c: [oe(outcome(c["did"], ts=c["dts"] - 600000))],
                                "invalid", r"is 600000 ms before its decision's ts_ms "
                                r"\d+ \(input.max.skew.ms is 60000\)", {}),
    "expired_outcome": (lambda c: [oe(outcome(c["did"]))], "expired",
                        r"outcome comes 72\d\d s after decision [0-9a-f]{16}, "
                        r"decision.retention.s is 3600",
                        # event clock: a decision 2 h back is yesterday's
                        # (stale) in wall mode between 00:00 and 02:00
                        {"args": ["-X", "decision.retention.s=3600", "-X", "clock.mode=event"],
                         "decision_ts": -2 * HOUR_MS}),
    # control commands
    "control_negative_budget": (lambda c: [cc(control(CAMP, "SET_BUDGET", -5.0))], "invalid",
                                r"daily_budget -5 is not a finite number >= 0", {}),
    "control_no_treatments": (lambda c: [cc(control("c3", "UPSERT_CAMPAIGN", 5.0))],
                              "invalid", r"no treatments", {}),
    "control_duplicate_treatment": (lambda c: [cc(control("c2", "UPSERT_CAMPAIGN", 5.0, TR2))],
                                    "invalid", r"treatment id 0 appears twice", {}),
    "control_no_control_treatment": (lambda c: [cc(control(
        "c4", "UPSERT_CAMPAIGN", 5.0, [{"id": 1, "name": "a", "nominal_cost": 1.0}]))],
        "invalid", r"lack id 0 \(the control\)", {}),
    # caught by the schema walk before Avro C reads it (wire.c): a decode error
    "control_unknown_action": (lambda c: [("control_command", b"k", control_unknown_action(9))],
                               "decode", r"enum symbol out of range", {}),
    "control_bad_bound": (lambda c: [cc(control(CAMP, "UPSERT_CAMPAIGN", max_cost=math.inf))],
                          "invalid", r"max_cost inf is outside \[0, 1e\+15\]", {}),
    "control_bad_holdout": (lambda c: [cc(control(CAMP, "UPSERT_CAMPAIGN", holdout=0.75))],
                            "invalid", r"holdout 0.75 is outside \[0, 0.5\]", {}),
    # each share in range, together leaving the plan too few users
    "control_bad_uniform_arm": (lambda c: [cc(control(CAMP, "UPSERT_CAMPAIGN", holdout=0.4,
                                                      uniform_arm=0.45))],
                                "invalid", r"holdout 0.4 and uniform_arm 0.45 leave the plan", {}),
    "control_unknown_campaign": (lambda c: [cc(control("ghost", "SET_BUDGET", 5.0))],
                                 "unknown_campaign", r"ghost", {}),
    "control_utf8_campaign": (lambda c: [cc_raw(control("X@@@", "UPSERT_CAMPAIGN", 5.0, TREATMENTS,
                                                        cid="bad-u8-upsert"),
                                                {b"X@@@": NOT_UTF8["surrogate"]})],
                              "encoding", r"^campaign_id is not valid UTF-8", {"outputs": True}),
    "control_utf8_treatment": (lambda c: [cc_raw(control(CAMP, "UPSERT_CAMPAIGN", 5.0, [
        {"id": 0, "name": "N@@", "nominal_cost": 0.0}, {"id": 1, "name": "b", "nominal_cost": 1.0}]),
        {b"N@@": NOT_UTF8["cut"]})],
        "encoding", r"^treatments.name is not valid UTF-8 \(byte 0xe9 at offset 1\)", {"outputs": True}),
    # the schema: "a command id seen before is ignored"
    "control_duplicate_command_id": (lambda c: [cc(control(CAMP, "SET_BUDGET", 5.0,
                                                           cid=c["upsert_cid"]))],
                                     "duplicate", r"command_id '[^']+' was applied before; ignored",
                                     {}),
    "control_oversized": (lambda c: [cc(control(CAMP, "UPSERT_CAMPAIGN", 100.0, [
        {"id": 0, "name": "n" * 1000, "nominal_cost": 0.0}] + [
        {"id": i, "name": "n" * 1000, "nominal_cost": 1.0} for i in range(1, 4)]))],
        "oversized", r"input.max.bytes is 2048",
        {"args": ["-X", "input.max.bytes=2048"], "keep": 1024}),
}


class Tails:
    """The output topics from their current end, on one consumer: each
    Tail costs a consumer start, and this test starts one per kind."""

    def __init__(self, bootstrap, topics):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bdtest-tail",
                           "enable.auto.commit": False, "fetch.wait.max.ms": 20})
        parts = []
        for topic in topics:
            md = self.c.list_topics(topic, timeout=10)
            for n in md.topics[topic].partitions:
                hi = self.c.get_watermark_offsets(TopicPartition(topic, n), timeout=10)[1]
                parts.append(TopicPartition(topic, n, hi))
        self.c.assign(parts)
        self.got = {t: [] for t in topics}

    def read(self, topic, want, timeout=30, pred=None):
        out, end = [], time.time() + timeout
        while True:
            keep = []
            for m in self.got[topic]:
                (out if len(out) < want and (pred is None or pred(m)) else keep).append(m)
            self.got[topic] = keep
            if len(out) >= want or time.time() >= end:
                return out
            m = self.c.poll(0.1)
            if m is not None and not m.error():
                self.got[m.topic()].append(m)

    def close(self):
        self.c.close()


def check_outputs_utf8(d):
    """What the daemon shows (admin documents, budgetctl --json) decodes as
    strict UTF-8, after one more render (admin.refresh.ms)."""
    port = int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))
    time.sleep(1.5)
    for path in ("/metrics", "/status", "/api/status", "/api/campaigns", "/api/plans",
                 "/api/clusters", "/api/models", "/api/health", "/text/campaigns",
                 "/text/plans", "/text/clusters", "/api/commands", "/text/commands"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            body = r.read()
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            fail("%s is not valid UTF-8: %s" % (path, e))
    for what in ("campaigns", "plans", "clusters", "commands"):
        out = subprocess.run([os.path.join(BUILDDIR, "budgetctl"), "--admin",
                              "127.0.0.1:%d" % port, "--json", "show", what],
                             capture_output=True, timeout=30)
        check(out.returncode == 0, "budgetctl --json show %s: rc %d" % (what, out.returncode))
        try:
            out.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            fail("budgetctl --json show %s is not valid UTF-8: %s" % (what, e))


def numbers(x):
    """Every number of a decoded message, with its path."""
    if isinstance(x, dict):
        for k, v in x.items():
            for p, n in numbers(v):
                yield k + p, n
    elif isinstance(x, list):
        for i, v in enumerate(x):
            for p, n in numbers(v):
                yield "[%d]" % i + p, n
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield "", x


def check_plans(tails, p):
    """A RESOLVE gets a new plan, and every plan of the campaign so far has
    finite numbers only (what a bad outcome must not poison)."""
    def ours(m):
        return decode("plan", m.value())["campaign_id"] == CAMP
    seen = tails.read(TOPICS["plan"], 1000, 1, ours)
    last = max([decode("plan", m.value())["plan_version"] for m in seen] or [0])
    produce(p, "control_command", CAMP, encode("control_command", control(CAMP, "RESOLVE")))
    p.flush(10)
    new = tails.read(TOPICS["plan"], 1, 30,
                     lambda m: ours(m) and decode("plan", m.value())["plan_version"] > last)
    check(new, "no new plan after a RESOLVE (did the solve fail?)")
    for m in seen + new:
        plan = decode("plan", m.value())
        bad = ["%s=%r" % pn for pn in numbers(plan) if not math.isfinite(pn[1])]
        check(not bad, "plan %d has non-finite numbers: %s" % (plan["plan_version"],
                                                                 ", ".join(bad)))


def last_counters(text):
    lines = re.findall(r"counters: (.*)", text)
    check(lines, "no 'counters:' line in the daemon's log")
    dead = lines[-1].split("dead letters:", 1)[1]
    return {k: int(v) for k, v in (kv.split("=") for kv in dead.split())}


def run(kind):
    make, reason, detail, opt = KINDS[kind]
    n_dead, joined = opt.get("n", 1), opt.get("joined", 0)
    broker = start_broker()
    state = tmpdir("bad")
    # a payload never goes to the log at the default level: checked below
    d = start_daemon(broker.bootstrap, state, "-X", "output.format=single_object",
                     *opt.get("args", []))
    try:
        wait_log(d, r"assigned budgetd\.features", 40)
        tails = Tails(broker.bootstrap, [TOPICS["plan"], TOPICS["dead_letter"],
                                         TOPICS["decision"]])
        p = warm(Producer({"bootstrap.servers": broker.bootstrap,
                           "partitioner": "murmur2_random", "linger.ms": 5,
                           "message.max.bytes": 8 << 20}))
        upsert = control(CAMP, "UPSERT_CAMPAIGN", 100.0, TREATMENTS, 0.0)
        produce(p, "control_command", CAMP, encode("control_command", upsert))
        p.flush(10)
        check(tails.read(TOPICS["plan"], 1, 30,
                         lambda m: decode("plan", m.value())["campaign_id"] == CAMP),
              "no plan for the campaign")
        dts = now_ms() + opt.get("decision_ts", 0)
        good = encode("feature_event", feature("good-1", ts=dts))
        produce(p, "feature_event", b"u1", good)
        p.flush(10)
        first = tails.read(TOPICS["decision"], 1, 30)
        check(first, "no decision for a good request")
        did = decode("decision", first[0].value())["decision_id"]
        ctx = {"good": good, "did": did, "dts": dts, "real": outcome(did),
               "upsert_cid": upsert["command_id"]}

        msgs = make(ctx)
        where = [None] * len(msgs)

        def delivered(i):
            def cb(err, m):
                where[i] = (m.partition(), m.offset()) if err is None else err
            return cb
        for i, (k, key, payload) in enumerate(msgs):
            p.produce(TOPICS[k], value=payload, key=key, on_delivery=delivered(i))
        p.flush(30)
        for i, w in enumerate(where):
            check(isinstance(w, tuple), "producing message %d failed: %r" % (i, w))
        letters = tails.read(TOPICS["dead_letter"], n_dead, 40)
        if opt.get("outputs"):
            check_outputs_utf8(d)
        check_eq(len(letters), n_dead, "dead letters")
        k, key, payload = msgs[opt.get("letter", 0)]
        part, off = where[opt.get("letter", 0)]
        try:
            r = decode("dead_letter", letters[0].value())
        except UnicodeDecodeError as e:
            fail("the dead letter does not decode (Apache avro): %s" % e)
        check_eq(r["reason"], reason, "reason")
        check(re.search(detail, r["detail"]), "detail %r does not match %r" % (r["detail"], detail))
        check_eq(r["topic"], TOPICS[k], "topic of the dead letter")
        check_eq((r["partition"], r["offset"]), (part, off), "partition and offset")
        keep_key = opt.get("keep_key")
        want_key = key[:keep_key] if keep_key else key
        check_eq(r["key"], want_key, "key in the dead letter")
        got_key = letters[0].key()
        check(got_key == want_key, "Kafka key of the dead letter: %s, expected %d bytes"
              % ("null" if got_key is None else "%d bytes" % len(got_key), len(want_key)))
        keep = opt.get("keep")
        check_eq(bytes(r["payload"]), payload[:keep] if keep else payload, "payload bytes")

        # still alive and deciding
        produce(p, "feature_event", b"u9", encode("feature_event", feature("good-2", user="u9")))
        p.flush(10)
        check(tails.read(TOPICS["decision"], 1, 30,
                         lambda m: decode("decision", m.value())["request_id"] == "good-2"),
              "no decision after the bad input")
        check(d.p.poll() is None, "daemon still running")
        if opt.get("plans"):
            check_plans(tails, p)
        if opt.get("health"):
            wait_log(d, r"health: degraded: " + opt["health"], 10)
        wait_caught_up(broker.bootstrap)
        extra = tails.read(TOPICS["dead_letter"], 1, 0.3)
        check(not extra, "an extra dead letter: %r" % [decode("dead_letter", m.value())["reason"]
                                                      for m in extra])
        tails.close()
        del p
        check_eq(d.stop(), 0, "exit code")

        log = d.log_text()
        counters = last_counters(log)
        want = {r_: 0 for r_ in counters}
        want[reason], want["total"] = n_dead, n_dead
        check_eq(counters, want, "dead-letter counters at shutdown")
        with open(d.log.name, "rb") as f:
            raw = f.read()
        mid = payload[len(payload) // 2:len(payload) // 2 + 32]
        # hardening: no payload in the log at the default level
        check(len(payload) < 64 or mid not in raw, "payload bytes in the daemon's log")

        # the state is what the good input alone makes
        cells = [x for x in dump_state(state) if x[0] == "cell" and x[2] == CAMP]
        check_eq(sum(float(x[7]) for x in cells), 2.0, "decisions counted")
        check_eq(sum(float(x[8]) for x in cells if len(x) > 8), float(joined), "outcomes joined")
        if k == "control_command":
            # (each dump opens the database: a second or so, only where it tells)
            camps = [" ".join(x) for x in dump_state(state, "campaigns")]
            check_eq(camps, ["campaign %s treatments=3 budget=100 exploration=0 paused=0" % CAMP],
                     "campaigns")
        print("PASS: %s: %s dead letter (%s), state untouched" % (kind, reason, r["detail"]))
    finally:
        d.stop(signal.SIGKILL)
        broker.stop(signal.SIGKILL)  # a test broker: nothing to keep
        cleanup(state)


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print("\n".join(KINDS))
    elif len(sys.argv) == 2 and sys.argv[1] in KINDS:
        run(sys.argv[1])
    else:
        fail("usage: badinput.py KIND | --list (kinds: %s)" % " ".join(KINDS))
