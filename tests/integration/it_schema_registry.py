"""it_schema_registry: budgetd with a Confluent Schema Registry, used by the
real Kafka Avro serializer and deserializer of python3-confluent-kafka (the
legacy confluent_kafka.avro, over python3-avro and python3-requests).

Against tests/schema_registry.py (the REST API's subset, with basic auth):
- at start the daemon registers its output schemas under TOPIC-value
  (TopicNameStrategy) and writes the registry's ids: the real deserializer
  reads its decisions and dead letters by those ids alone;
- a producer whose FeatureEvent schema moved on (another namespace, fields
  reordered, one added, context left out: its default) is read through
  schema resolution: every request decided; an OutcomeEvent producer's
  (value a float and cost an int: promoted to double; a field added; the
  optional features, treatment and propensity left out: null) outcomes
  are joined and counted whole;
- a control command registered by the real serializer is applied;
- a schema that cannot be read (user_id left out, no default) and an id the
  registry lacks become dead letters `schema` with the reason, payload kept;
- made-up ids cost at most 10 registry requests a second per worker (the
  rest are dead letters saying they were not asked);
- while the registry answers 503 a new id is a dead letter saying so; once
  it answers again (the id is asked for again after 5 s) it is read;
- budgetctl, with the same settings, registers ControlCommand and its
  command is applied;
- a registry that refuses the credentials, whose certificate budgetd cannot
  verify, or that does not answer, stops the start with the reason (no
  decision is written with ids nobody can read).
The registry speaks HTTPS with a certificate of a CA made here
(schema.registry.ssl.ca.location) and wants basic authentication.
"""
import io
import json
import os
import struct
import sys

from bdclient import *  # noqa: F401,F403

sys.path.insert(0, os.path.join(SRCDIR, "tests"))
try:
    import schema_registry
    from confluent_kafka.avro import CachedSchemaRegistryClient
    from confluent_kafka.avro.serializer.message_serializer import MessageSerializer
except ImportError as e:
    print("SKIP: the Kafka Avro serializer of python3-confluent-kafka does not import (%s; "
          "it needs python3-requests)" % e)
    sys.exit(77)

CAMP = "it-registry"
USER_INFO = "budgetd:s3cret"


def schema_text(kind):
    with open(os.path.join(SRCDIR, "schemas", kind + ".avsc"), encoding="utf-8") as f:
        return f.read()


# The producer's FeatureEvent: another namespace, fields in another order,
# a field budgetd does not know, ts_ms an int, no context.
EVOLVED = {
    "type": "record", "name": "FeatureEvent", "namespace": "com.example.shop",
    "fields": [
        {"name": "user_id", "type": "string"},
        {"name": "channel", "type": ["null", "string"], "default": None},
        {"name": "campaign_id", "type": "string"},
        {"name": "request_id", "type": "string"},
        {"name": "ts_ms", "type": "long"},
        {"name": "features", "type": {"type": "array", "items": "float"}},
    ]}
# user_id left out, and budgetd has no default for it
UNREADABLE = {
    "type": "record", "name": "FeatureEvent",
    "fields": [
        {"name": "request_id", "type": "string"},
        {"name": "campaign_id", "type": "string"},
        {"name": "ts_ms", "type": "long"},
        {"name": "features", "type": {"type": "array", "items": "float"}},
    ]}


def parse_schema(obj):
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return avro.schema.parse(text) if hasattr(avro.schema, "parse") else avro.schema.Parse(text)


def reg_get(path):
    """The registry's JSON answer to GET @path, with the credentials."""
    import base64
    import ssl
    import urllib.request
    req = urllib.request.Request(url + path, headers={
        "Authorization": "Basic " + base64.b64encode(USER_INFO.encode()).decode()})
    with urllib.request.urlopen(req, timeout=5, context=ssl.create_default_context(cafile=CERT)) as r:
        return json.loads(r.read().decode())


def registry_ids():
    """subject -> latest id, through the registry's REST API."""
    return {s: reg_get("/subjects/%s/versions/latest" % s)["id"] for s in reg_get("/subjects")}


# a self-signed certificate for 127.0.0.1: the registry's, and its own CA
import ssl
# requests lets these variables override a session's own CA (requests
# issue 3829): the client's ssl.ca.location would be ignored where they are set
for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(v, None)
certdir = tmpdir("registry-tls")
CERT, KEY = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", KEY, "-out", CERT], check=True, capture_output=True)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(CERT, KEY)
server, url = schema_registry.start(user=USER_INFO, ssl_context=tls)
check(url.startswith("https://"), "the test registry is not on HTTPS: " + url)
client = CachedSchemaRegistryClient({"url": url, "basic.auth.credentials.source": "USER_INFO",
                                     "basic.auth.user.info": USER_INFO, "ssl.ca.location": CERT})
serde = MessageSerializer(client)
CA = ["-X", "schema.registry.ssl.ca.location=" + CERT]
REG = ["-X", "schema.registry.url=" + url, "-X", "schema.registry.basic.auth.user.info=" + USER_INFO] + CA

broker = start_broker()
state = tmpdir("registry")
passed = False
d = None
try:
    # ---- a registry that refuses, cannot be verified, or does not answer,
    # stops the start
    for extra, want in ((["-X", "schema.registry.url=" + url] + CA, r"HTTP 401"),
                        (REG[:4], r"certificate"),
                        (["-X", "schema.registry.url=http://127.0.0.1:9",
                          "-X", "schema.registry.timeout.ms=2000"], r"127\.0\.0\.1:9")):
        bad = start_daemon(broker.bootstrap, tmpdir("registry-bad"), *extra)
        rc = bad.p.wait(60 * SLOW)
        log = bad.log_text()
        check(rc != 0, "a daemon whose registry %s started (rc %d)" % (want, rc))
        check(re.search(r"schema registry.*" + want, log),
              "the refusal does not say why (want %r):\n%s" % (want, log[-1500:]))

    d = start_daemon(broker.bootstrap, state, *REG)
    wait_log(d, r"assigned budgetd\.features", 60)
    ids = registry_ids()
    for kind in ("decision", "plan", "model_update", "dead_letter"):
        subject = TOPICS[kind] + "-value"
        check(subject in ids, "%s not registered: %s" % (subject, sorted(ids)))
        got = reg_get("/schemas/ids/%d" % ids[subject])["schema"]
        check_eq(json.loads(got), json.loads(schema_text(kind)),
                 "the schema registered under %s" % subject)
    check("budgetd.features-value" not in ids,
          "the daemon registered a schema under an input subject (producers own those)")

    dec = Tail(broker.bootstrap, TOPICS["decision"])
    dead = Tail(broker.bootstrap, TOPICS["dead_letter"])
    plans = Tail(broker.bootstrap, TOPICS["plan"])
    p = producer(broker.bootstrap)

    # ---- a control command through the real serializer
    cmd = control(CAMP, "UPSERT_CAMPAIGN", 100.0, TREATMENTS, 0.2)
    ctl_schema = parse_schema(schema_text("control_command"))
    produce(p, "control_command", CAMP.encode(),
            serde.encode_record_with_schema(TOPICS["control_command"], ctl_schema, cmd))
    p.flush(10)
    m = plans.read(1, 30, lambda m: m.value()[1:5] == struct.pack(">I", ids["budgetd.plans-value"]))
    check(m, "no plan written with the registry's id for budgetd.plans-value")
    check_eq(serde.decode_message(m[0].value())["campaign_id"], CAMP,
             "the plan as the real deserializer reads it")

    # ---- features from a producer whose schema moved on
    evolved = parse_schema(EVOLVED)
    sent = {}
    for i in range(20):
        rec = {"user_id": "u%d" % i, "channel": "app" if i % 2 else None, "campaign_id": CAMP,
               "request_id": "r%d" % i, "ts_ms": int(time.time() * 1000),
               "features": [0.25] * 12}
        sent["r%d" % i] = rec
        produce(p, "feature_event", rec["user_id"].encode(),
                serde.encode_record_with_schema(TOPICS["feature_event"], evolved, rec))
    p.flush(10)
    got = dec.read(20, 60, lambda m: serde.decode_message(m.value())["request_id"] in sent)
    check_eq(len(got), 20, "decisions for the evolved producer's requests")
    did = ids["budgetd.decisions-value"]
    for m in got:
        check_eq(struct.unpack(">I", m.value()[1:5])[0], did, "a decision's schema id")
        r = serde.decode_message(m.value())
        check_eq(r["user_id"], sent[r["request_id"]]["user_id"], "the decided user")
    wait_log(d, r"feature_event: writer schema \d+ from the registry is read "
                r"\(1 field\(s\) skipped, 1 default\(s\) filled", 10)

    # ---- the Python examples with the registry: produce, then tail
    ex = os.path.join(SRCDIR, "examples", "python")
    regargs = ["--schema-registry", url, "--registry-user", USER_INFO, "--registry-ca", CERT]
    lines = "".join(json.dumps({"request_id": "ex-%d" % i, "campaign_id": CAMP,
                                "user_id": "ex-user-%d" % i, "ts_ms": int(time.time() * 1000),
                                "features": [0.5] * 12}) + "\n" for i in range(3))
    r = subprocess.run([sys.executable, os.path.join(ex, "produce_events.py"), "--bootstrap",
                        broker.bootstrap, *regargs], input=lines, capture_output=True, text=True,
                       timeout=60 * SLOW)
    check_eq(r.returncode, 0, "produce_events.py --schema-registry (%s)" % r.stderr[-500:])
    check(dec.read(3, 30, lambda m: serde.decode_message(m.value())["request_id"].startswith("ex-")),
          "the example producer's requests were not decided")
    r = subprocess.run([sys.executable, os.path.join(ex, "tail_decisions.py"), "--bootstrap",
                        broker.bootstrap, "--last", "40", *regargs],
                       capture_output=True, text=True, timeout=60 * SLOW)
    tailed = {json.loads(l)["request_id"] for l in r.stdout.splitlines() if l.startswith("{")}
    check(r.returncode == 0 and {"ex-0", "ex-1", "ex-2"} <= tailed,
          "tail_decisions.py --schema-registry: rc %d, %s" % (r.returncode, r.stderr[-500:]))

    # ---- outcomes from a producer of its own schema: promotions, a field
    # added, the optional fields left out
    out_schema = parse_schema({
        "type": "record", "name": "OutcomeEvent", "fields": [
            {"name": "user_id", "type": "string"},
            {"name": "decision_id", "type": "string"},
            {"name": "campaign_id", "type": "string"},
            {"name": "currency", "type": "string", "default": "EUR"},
            {"name": "ts_ms", "type": "long"},
            {"name": "orders", "type": "int"},
            {"name": "value", "type": "float"},
            {"name": "cost", "type": "int"}]})
    for m in got[:5]:
        r = serde.decode_message(m.value())
        produce(p, "outcome_event", r["user_id"].encode(), serde.encode_record_with_schema(
            TOPICS["outcome_event"], out_schema, {
                "user_id": r["user_id"], "decision_id": r["decision_id"], "campaign_id": CAMP,
                "currency": "EUR", "ts_ms": int(time.time() * 1000), "orders": 1,
                "value": 12.5, "cost": 2}))
    p.flush(10)
    admin = admin_url(d)
    for _ in range(int(100 * SLOW)):
        _, body = http_get(admin + "/api/campaigns")
        today = [c for c in json.loads(body)["campaigns"] if c["id"] == CAMP][0]["today"]
        tot = {k: sum(t[k] for t in today) for k in ("outcomes", "orders", "value", "cost")}
        if tot["outcomes"] >= 5:
            break
        time.sleep(0.2)
    check_eq(tot, {"outcomes": 5, "orders": 5, "value": 62.5, "cost": 10},
             "the evolved producer's outcomes as the campaign counts them")
    wait_log(d, r"outcome_event: writer schema \d+ from the registry is read "
                r"\(1 field\(s\) skipped, 3 default\(s\) filled, 2 promotion\(s\)\)", 10)

    # ---- what cannot be read: a dead letter `schema` with the reason
    bad_bytes = serde.encode_record_with_schema(
        TOPICS["feature_event"], parse_schema(UNREADABLE),
        {"request_id": "bad-1", "campaign_id": CAMP, "ts_ms": 1, "features": [0.0] * 12})
    unknown = b"\0" + struct.pack(">I", 4242) + bad_bytes[5:]
    produce(p, "feature_event", b"u-bad", bad_bytes)
    produce(p, "feature_event", b"u-bad", unknown)
    p.flush(10)
    letters = dead.read(2, 30)
    check_eq(len(letters), 2, "dead letters for the unreadable messages")
    reasons = []
    for m in letters:
        check_eq(struct.unpack(">I", m.value()[1:5])[0], ids["budgetd.deadletters-value"],
                 "a dead letter's schema id")
        r = serde.decode_message(m.value())
        reasons.append((r["reason"], r["detail"]))
        check(r["payload"] in (bad_bytes, unknown), "a dead letter lost its payload")
    check_eq(reasons[0][0], "schema", "the unreadable schema's dead-letter reason")
    check("field user_id: not written and has no default" in reasons[0][1],
          "the reason names the field: %r" % reasons[0][1])
    check_eq(reasons[1][0], "schema", "the unknown id's dead-letter reason")
    check("schema 4242 is not in the registry" in reasons[1][1],
          "the reason names the id: %r" % reasons[1][1])

    # ---- made-up ids: at most 10 registry requests a second per worker,
    # the rest dead-lettered without asking
    for i in range(25):
        produce(p, "feature_event", b"u-bad", b"\0" + struct.pack(">I", 5000 + i) + bad_bytes[5:])
    p.flush(10)
    letters = dead.read(25, 30)
    check_eq(len(letters), 25, "dead letters for the made-up ids")
    details = [serde.decode_message(m.value())["detail"] for m in letters]
    limited = sum("not asked: more than 10 new schema ids" in x for x in details)
    asked = [r for r in reg_get("/__test/requests") if re.match(r"GET /schemas/ids/50\d\d$", r)]
    check(limited >= 5 and len(asked) <= 20 and len(asked) + limited == 25,
          "made-up ids: %d asked, %d not asked (%s)" % (len(asked), limited, details[:2]))
    time.sleep(1.1)  # the next second: that worker asks the registry again

    # ---- a registry that stops answering: a dead letter saying so, then
    # the id is asked for again (after 5 s) and read
    ev2 = dict(EVOLVED, fields=EVOLVED["fields"] + [
        {"name": "device", "type": "string", "default": "web"}])
    ev2 = parse_schema(ev2)
    outage = [serde.encode_record_with_schema(TOPICS["feature_event"], ev2, {
        "user_id": "u-out", "channel": None, "campaign_id": CAMP, "request_id": "r-out-%d" % i,
        "ts_ms": int(time.time() * 1000), "features": [0.25] * 12, "device": "ios"})
        for i in range(2)]
    check(outage[0][1:5] != unknown[1:5], "the second evolved schema got no id of its own")
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(url + "/__test/unavailable", method="POST",
                                                  data=b'{"seconds": 4}'), timeout=5,
                           context=ssl.create_default_context(cafile=CERT)).read()
    produce(p, "feature_event", b"u-out", outage[0])
    p.flush(10)
    m = dead.read(1, 30)
    check(m, "no dead letter while the registry answered 503")
    r = serde.decode_message(m[0].value())
    check(r["reason"] == "schema" and "HTTP 503" in r["detail"],
          "the dead letter of the outage: %r" % ((r["reason"], r["detail"]),))
    time.sleep(6)
    produce(p, "feature_event", b"u-out", outage[1])
    p.flush(10)
    check(dec.read(1, 30, lambda m: serde.decode_message(m.value())["request_id"] == "r-out-1"),
          "the request after the outage was not decided")

    # ---- budgetctl registers ControlCommand the same way
    admin = admin.replace("http://", "")
    r = subprocess.run([os.path.join(BUILDDIR, "budgetctl"), "--bootstrap", broker.bootstrap,
                        "--admin", admin, *REG, "set-budget", CAMP, "250"],
                       capture_output=True, text=True, timeout=90 * SLOW)
    check_eq(r.returncode, 0, "budgetctl set-budget with the registry (%s%s)"
             % (r.stdout, r.stderr))
    check("budgetd.control-value" in registry_ids(), "budgetctl registered no control schema")
    passed = True
finally:
    if d:
        d.stop()
    broker.stop()
    server.shutdown()
    if not passed and d:
        d.dump_log()
cleanup(state, certdir)
print("it_schema_registry: ok")
