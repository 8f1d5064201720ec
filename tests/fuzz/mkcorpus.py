"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Valid messages of each kind in both framings, encoded with Apache's python
avro against schemas/ through tests/lib/bdclient.py (independent of budgetd's
encoders), plus a few bad ones per decoder (truncated, trailing byte, wrong
schema id, NaN, out-of-range values).  Run from the source tree with
Debian's python:  /usr/bin/python3 tests/fuzz/mkcorpus.py
The output is deterministic; the corpus is committed, so this only needs
re-running when a schema changes.
"""
import math
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("srcdir", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from bdclient import TREATMENTS, encode  # noqa: E402

TS = 1767225600000  # 2026-01-01


def feature(n=12, value=0.25, **kw):
    r = {"request_id": "r1", "campaign_id": "c1", "user_id": "u1", "ts_ms": TS,
         "features": [value * (i + 1) for i in range(n)], "context": {"page": "home"}}
    r.update(kw)
    return r


def outcome(**kw):
    r = {"decision_id": "00000000000000ff", "campaign_id": "c1", "user_id": "u1",
         "ts_ms": TS, "orders": 1, "value": 3.0, "cost": 1.0,
         "features": None, "treatment": None, "propensity": None}
    r.update(kw)
    return r


def control(action, **kw):
    r = {"command_id": "cmd1", "campaign_id": "c1", "ts_ms": TS, "action": action,
         "daily_budget": None, "treatments": None, "exploration": None,
         "timezone_offset_s": None, "max_value": None, "max_cost": None,
         "winsor_value": None}
    r.update(kw)
    return r


def decision(**kw):
    r = {"decision_id": "00000000000000ff", "request_id": "r1", "campaign_id": "c1",
         "user_id": "u1", "ts_ms": TS, "treatment": 1, "cluster": 3, "propensity": 0.5,
         "explored": False, "plan_version": 2, "model_version": 1, "reason": "plan"}
    r.update(kw)
    return r


def plan(k=3, j=3, **kw):
    r = {"campaign_id": "c1", "plan_version": 2, "model_version": 1, "ts_ms": TS,
         "daily_budget": 100.0, "remaining_budget": 60.0, "lambda": 0.5,
         "expected_spend": 59.0, "expected_value": 300.0, "solver": "lp",
         "clusters": [{"cluster": i, "traffic_share": 1.0 / k,
                       "probabilities": [1.0 / j] * j} for i in range(k)],
         "curve": [{"budget": 10.0 * i, "value": 30.0 * i} for i in range(4)],
         "exploration": 0.1, "spent": 40.0, "expected_requests": 1000.0,
         "overspend_probability": 0.0}
    r.update(kw)
    return r


def model(sizes=(4, 3), acts=("none",), kind="softmax", **kw):
    layers = [{"rows": sizes[i + 1], "cols": sizes[i], "activation": acts[i],
               "weights": [0.1 * (x % 7 - 3) for x in range(sizes[i] * sizes[i + 1])],
               "bias": [0.0] * sizes[i + 1]} for i in range(len(sizes) - 1)]
    r = {"model_version": 1, "ts_ms": TS, "kind": kind, "clusters": sizes[-1],
         "dim": sizes[0], "feature_mean": [0.0] * sizes[0], "feature_scale": [1.0] * sizes[0],
         "layers": layers, "agreement": 0.9, "metrics": {"loss": 0.1}}
    r.update(kw)
    return r


def both(kind, rec):
    return [encode(kind, rec, "confluent"), encode(kind, rec, "single_object")]


def bad(msg):
    # truncated, one trailing byte, an unknown schema id
    return [msg[:-3], msg + b"\x00", b"\x00\x00\x00\x00\x63" + msg[5:]]


def swap(msg, ph, bad):
    """A string that is not UTF-8: python's avro writes only UTF-8, so an
    ASCII placeholder is swapped for bytes of the same length."""
    assert len(ph) == len(bad) and msg.count(ph) == 1
    return msg.replace(ph, bad)


# strings that are not UTF-8, one of each kind (RFC 3629)
NOT_UTF8 = [b"r\xff\xfe", b"u\xc0\x80", b"c\xed\xa0\x80", b"v\xf4\x90\x80\x80",
            b"n\xe9x", b"\xe2\x82"]


def corpus():
    c = {}
    f = both("feature_event", feature())
    c["feature"] = f + both("feature_event", feature(n=0, context={})) + bad(f[0]) + [
        encode("feature_event", feature(value=math.nan)),
        encode("feature_event", feature(request_id="")),
        b"", b"\xc3\x01", b"{\"json\": true}",
        # strings: valid multi-byte, then not UTF-8 (id, context key, value)
        encode("feature_event", feature(campaign_id="kampagne-\u00fc", user_id="\u7528\u6237")),
        swap(encode("feature_event", feature(request_id="R@@")), b"R@@", NOT_UTF8[0]),
        swap(encode("feature_event", feature(context={"K@@": "v"})), b"K@@", NOT_UTF8[1]),
        swap(encode("feature_event", feature(context={"page": "V@@@@"})), b"V@@@@",
             NOT_UTF8[3])]
    o = both("outcome_event", outcome())
    c["outcome"] = o + both("outcome_event", outcome(
        decision_id="", features=[0.5] * 12, treatment=1, propensity=1.0 / 3)) + bad(o[0]) + [
        encode("outcome_event", outcome(cost=-1.0)),
        encode("outcome_event", outcome(decision_id="", treatment=99, propensity=2.0)),
        swap(encode("outcome_event", outcome(user_id="U@@@")), b"U@@@", NOT_UTF8[2])]
    up = control("UPSERT_CAMPAIGN", daily_budget=100.0, treatments=TREATMENTS,
                 exploration=0.1, timezone_offset_s=3600)
    ctl = both("control_command", up)
    for a in ("SET_BUDGET", "PAUSE", "RESUME", "RESOLVE", "RETRAIN"):
        ctl.append(encode("control_command", control(
            a, daily_budget=50.0 if a == "SET_BUDGET" else None)))
    ctl += bad(ctl[0]) + [
        encode("control_command", control("UPSERT_CAMPAIGN", treatments=[
            {"id": 0, "name": "a", "nominal_cost": 0.0},
            {"id": 0, "name": "b", "nominal_cost": 1.0}])),
        encode("control_command", control("UPSERT_CAMPAIGN", treatments=[
            {"id": i, "name": "t%d" % i, "nominal_cost": float(i)} for i in range(16)])),
        encode("control_command", control("UPSERT_CAMPAIGN", daily_budget=5.0)),
        encode("control_command", control("SET_BUDGET")),
        encode("control_command", control("UPSERT_CAMPAIGN", treatments=TREATMENTS,
                                          max_value=1e6, max_cost=0.0, winsor_value=500.0)),
        encode("control_command", control("UPSERT_CAMPAIGN", max_cost=math.inf)),
        swap(encode("control_command", control("UPSERT_CAMPAIGN", treatments=[
            {"id": 0, "name": "N@@", "nominal_cost": 0.0}])), b"N@@", NOT_UTF8[4])]
    c["control"] = ctl
    c["campaign"] = ctl
    d = both("decision", decision())
    c["decision"] = d + bad(d[0]) + [encode("decision", decision(reason="", decision_id=""))]
    p = both("plan", plan())
    c["plan"] = p + both("plan", plan(k=0, j=0)) + bad(p[0]) + [
        encode("plan", plan(k=2, j=17))]
    m = both("model_update", model())
    c["model"] = m + both("model_update", model(sizes=(6, 8, 4), acts=("relu", "none"),
                                                kind="mlp")) + bad(m[0]) + [
        encode("model_update", model(feature_scale=[0.0] * 4)),
        encode("model_update", model(clusters=5))]
    c["utf8"] = [b"", b"plain-id", "r\u00e9q-\u20ac-\U0001f600".encode(),
                 b"\xf4\x8f\xbf\xbf", b"quote\" back\\ <&> \n\t\x01\x7f"] + NOT_UTF8 + [
        b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf", b"\xf5\x80\x80\x80",
        "\u20ac".encode() * 30 + b"\xe2"]
    example = open(os.path.join(HERE, "..", "..", "budgetd.conf.example"), "rb").read()
    c["config"] = [example,
                   b"workers = 4\nclusters = 8\n# comment\nkafka.acks = all\n",
                   b"output.format = single_object\nschema.id.plan = 0\n",
                   b"workers = 0\n", b"clusters = lots\n", b"no equals sign\n",
                   b"topic.plans = x\ntopic.models = x\n", b"exploration = nan\n"]
    return c


def main():
    out = os.path.join(HERE, "corpus")
    for target, msgs in corpus().items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        # the regress-* inputs of fixed bugs stay; only the seeds are rewritten
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))
        for i, m in enumerate(msgs):
            with open(os.path.join(out, target, "seed-%02d" % i), "wb") as f:
                f.write(m)


if __name__ == "__main__":
    main()
