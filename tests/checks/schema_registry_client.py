#!/usr/bin/python3
"""Checks tests/schema_registry.py against a real client.

    /usr/bin/python3 tests/checks/schema_registry_client.py

The client is confluent-kafka-python's legacy Avro module (Debian's
python3-confluent-kafka, with python3-avro and python3-requests):
CachedSchemaRegistryClient registers, looks up and fetches schemas;
MessageSerializer and AvroProducer frame Avro records (0x00, the schema id
as 4 bytes big-endian, the Avro body) and decode_message reads them back.
Raw HTTP checks cover the error answers, HTTP basic authentication (401),
the /__test hooks (503, the request list) and the command line (port file,
SIGTERM/SIGINT).  The registry's compatibility rules are compared with
python3-avro's own checker (avro.compatibility).

Exit status: 0 all passed, 1 a check failed, 77 the python lacks the
client's modules (python3-confluent-kafka, python3-avro, python3-requests).
"""

import base64
import importlib.util
import io
import json
import logging
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY_PY = os.path.join(os.path.dirname(HERE), "schema_registry.py")

try:
    import avro.io
    import avro.schema
    import avro.compatibility
    import requests  # the legacy client's HTTP library
    from confluent_kafka.avro import (AvroProducer, CachedSchemaRegistryClient,
                                      ClientError, loads)
    from confluent_kafka.avro.serializer.message_serializer import \
        MessageSerializer
except ImportError as e:
    print("SKIP: %s lacks the client's modules (%s): apt-get install "
          "python3-confluent-kafka python3-avro python3-requests"
          % (sys.executable, e))
    sys.exit(77)

spec = importlib.util.spec_from_file_location("schema_registry", REGISTRY_PY)
schema_registry = importlib.util.module_from_spec(spec)
spec.loader.exec_module(schema_registry)

# The legacy client logs 404s at ERROR level and warns about its deprecated
# constructor; neither is a failure here.
logging.getLogger("confluent_kafka").setLevel(logging.CRITICAL)
warnings.simplefilter("ignore", DeprecationWarning)

CT = "application/vnd.schemaregistry.v1+json"
passed = 0


def read(path):
    with open(path) as f:
        return f.read()


def check(cond, what, detail=""):
    global passed
    if not cond:
        print("FAIL: %s%s" % (what, (": " + str(detail)) if detail else ""))
        sys.exit(1)
    passed += 1
    print("ok %d - %s" % (passed, what))


def http(url, method, path, body=None, auth=None, raw=None):
    """Returns (status, content type, parsed JSON or text)."""
    data = raw if raw is not None else (
        None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", CT)
    if auth:
        req.add_header("Authorization", "Basic " +
                       base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, ctype, text = r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        status, ctype, text = e.code, e.headers["Content-Type"], e.read()
    try:
        return status, ctype, json.loads(text)
    except ValueError:
        return status, ctype, text.decode()


def expect_error(url, method, path, status, code, what, **kw):
    st, ctype, got = http(url, method, path, **kw)
    check(st == status and isinstance(got, dict)
          and got.get("error_code") == code
          and isinstance(got.get("message"), str) and ctype == CT,
          "%s -> %d %s" % (what, status, code), (st, ctype, got))
    return got


def record_schema(name, fields):
    return json.dumps({"type": "record", "name": name, "namespace": "bd.test",
                       "fields": fields})


V1 = record_schema("Event", [{"name": "user", "type": "string"},
                             {"name": "amount", "type": "int"}])
# adds a field with a default and promotes int to long: BACKWARD-compatible
V2 = record_schema("Event", [{"name": "user", "type": "string"},
                             {"name": "amount", "type": "long"},
                             {"name": "note", "type": ["null", "string"],
                              "default": None}])
# a new field without a default: not BACKWARD-compatible
V3_BAD = record_schema("Event", [{"name": "user", "type": "string"},
                                 {"name": "amount", "type": "long"},
                                 {"name": "region", "type": "string"}])


def check_legacy_client(url, reg):
    subject = "bd-events-value"
    client = CachedSchemaRegistryClient({"url": url})
    s1 = loads(V1)
    sid = client.register(subject, s1)
    check(sid == 1, "CachedSchemaRegistryClient.register -> id 1", sid)

    # a fresh client (no cache) registering the same schema again
    again = CachedSchemaRegistryClient({"url": url}).register(subject,
                                                               loads(V1))
    st, _, versions = http(url, "GET", "/subjects/%s/versions" % subject)
    check(again == 1 and versions == [1],
          "the same schema again: same id, no new version", (again, versions))

    fresh = CachedSchemaRegistryClient({"url": url})
    got = fresh.get_by_id(sid)
    check(got is not None and got == s1 and got.to_json() == s1.to_json(),
          "get_by_id(%d) gives the schema back" % sid, got)
    check(fresh.get_by_id(999) is None, "get_by_id(999) -> None (404)")

    latest = CachedSchemaRegistryClient({"url": url}).get_latest_schema(
        subject)
    check(latest[0] == 1 and latest[2] == 1 and latest[1] == s1,
          "get_latest_schema -> (id 1, schema, version 1)", latest)
    check(CachedSchemaRegistryClient({"url": url}).get_version(
        subject, loads(V1)) == 1, "get_version (POST /subjects/{s}) -> 1")
    check(CachedSchemaRegistryClient({"url": url}).check_registration(
        subject, loads(V1)) == 1, "check_registration -> id 1")
    try:
        CachedSchemaRegistryClient({"url": url}).check_registration(
            subject, loads(V2))
        check(False, "check_registration of an unregistered schema fails")
    except ClientError as e:
        check("404" in str(e), "check_registration of an unregistered "
              "schema -> ClientError 404", e)
    check(client.get_by_version("no-such-subject", 1) == (None, None, None),
          "get_by_version of a missing subject -> (None, None, None)")

    s2 = loads(V2)
    id2 = client.register(subject, s2)
    latest = client.get_latest_schema(subject)
    check(id2 == 2 and latest[0] == 2 and latest[2] == 2,
          "an evolved schema: id 2, version 2 is latest", (id2, latest))
    other = client.register("other-value", loads(V2))
    st, _, ov = http(url, "GET", "/subjects/other-value/versions/latest")
    # (the legacy client sends str(schema): python3-avro's own JSON text)
    check(other == 2 and json.loads(ov.pop("schema")) == json.loads(V2)
          and ov == {"subject": "other-value", "version": 1, "id": 2},
          "the same schema under another subject: same id, its version 1",
          (other, ov))
    # whitespace and key order do not make another schema
    st, _, r = http(url, "POST", "/subjects/%s/versions" % subject,
                    {"schema": json.dumps(json.loads(V1), indent=2,
                                          sort_keys=True)})
    check(st == 200 and r == {"id": 1}, "a reformatted schema keeps its id",
          (st, r))

    # compatibility
    check(client.get_compatibility() == "NONE", "global level NONE")
    try:
        client.get_compatibility(subject)
        check(False, "subject without a level of its own: ClientError")
    except ClientError as e:
        check("404" in str(e), "get_compatibility(subject) without a "
              "subject level -> ClientError (404 40408)", e)
    check(client.update_compatibility("BACKWARD", subject) == "BACKWARD"
          and client.get_compatibility(subject) == "BACKWARD",
          "update_compatibility(BACKWARD, subject)")
    check(client.test_compatibility(subject, loads(V3_BAD)) is False
          and client.test_compatibility(subject, loads(V2)) is True,
          "test_compatibility: a new field without default is not, V2 is")
    try:
        client.register(subject, loads(V3_BAD))
        check(False, "registering an incompatible schema fails")
    except ClientError as e:
        check("409" in str(e), "registering an incompatible schema -> "
              "ClientError 409", e)
    check(client.update_compatibility("NONE", subject) == "NONE",
          "back to NONE")
    id3 = client.register(subject, loads(V3_BAD))
    check(id3 == 3, "at NONE the same schema registers (id 3)", id3)

    # the serializer: Confluent framing with the registry's id
    topic = "bd-serde"
    ser = MessageSerializer(CachedSchemaRegistryClient({"url": url}))
    rec = {"user": "u-1", "amount": 1234567890123, "note": "hi"}
    framed = ser.encode_record_with_schema(topic, s2, rec, is_key=False)
    st, _, lv = http(url, "GET", "/subjects/%s-value/versions/latest" % topic)
    magic, wid = struct.unpack(">bI", framed[:5])
    check(magic == 0 and wid == lv["id"] == 2,
          "encode_record_with_schema: 0x00 + id %d (registry's id for "
          "%s-value) + %d Avro bytes" % (wid, topic, len(framed) - 5),
          (framed[:5], lv))
    body = avro.io.DatumReader(avro.schema.parse(V2)).read(
        avro.io.BinaryDecoder(io.BytesIO(framed[5:])))
    check(body == rec, "the Avro body reads back with avro.io alone", body)
    dec = MessageSerializer(CachedSchemaRegistryClient({"url": url}))
    check(dec.decode_message(framed) == rec,
          "decode_message (a fresh client fetching id %d) -> the record"
          % wid)
    key = ser.encode_record_with_schema(topic, loads('"string"'), "k-1",
                                        is_key=True)
    st, _, kv = http(url, "GET", "/subjects/%s-key/versions/latest" % topic)
    check(key[0] == 0 and struct.unpack(">I", key[1:5])[0] == kv["id"]
          and dec.decode_message(key, is_key=True) == "k-1",
          "a key: subject %s-key, id %d" % (topic, kv["id"]))

    # AvroProducer itself: the framed value comes back in the delivery
    # report when the (absent) broker times the message out.
    reports = []
    quiet = logging.getLogger("rdkafka-quiet")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    prod = AvroProducer({"bootstrap.servers": "127.0.0.1:9",
                         "schema.registry.url": url,
                         "message.timeout.ms": 300},
                        default_value_schema=s1, logger=quiet)
    prod.produce(topic="bd-producer", value={"user": "u-2", "amount": 7},
                 on_delivery=lambda err, msg: reports.append(msg.value()))
    deadline = time.time() + 10
    while not reports and time.time() < deadline:
        prod.poll(0.1)
    st, _, pv = http(url, "GET", "/subjects/bd-producer-value/versions/1")
    check(reports and reports[0][0] == 0
          and struct.unpack(">I", reports[0][1:5])[0] == pv["id"] == 1
          and dec.decode_message(reports[0]) == {"user": "u-2", "amount": 7},
          "AvroProducer.produce registers bd-producer-value and frames with "
          "id %s" % pv.get("id"), (reports, pv))

    # what the client actually sent
    st, _, seen = http(url, "GET", "/__test/requests")
    for want in ("POST /subjects/bd-events-value/versions",
                 "POST /subjects/bd-events-value",
                 "GET /subjects/bd-events-value/versions/latest",
                 "GET /schemas/ids/1", "GET /schemas/ids/999",
                 "GET /config", "PUT /config/bd-events-value",
                 "GET /config/bd-events-value",
                 "POST /compatibility/subjects/bd-events-value/versions/"
                 "latest", "POST /subjects/bd-serde-value/versions",
                 "GET /schemas/ids/2", "POST /subjects/bd-producer-value/"
                 "versions"):
        check(want in seen, "the request list holds '%s'" % want)
    st, _, full = http(url, "GET", "/__test/requests?headers=1")
    reg_post = next(r for r in full if r["method"] == "POST"
                    and r["path"].endswith("/versions"))
    get_id = next(r for r in full if r["path"] == "/schemas/ids/1")
    hdr = {k.lower(): v for k, v in reg_post["headers"].items()}
    print("   legacy client, POST .../versions headers: %s"
          % json.dumps(reg_post["headers"], sort_keys=True))
    print("   legacy client, GET /schemas/ids/1 headers: %s"
          % json.dumps(get_id["headers"], sort_keys=True))
    check(hdr.get("content-type") == CT and "accept" in hdr,
          "the client sends Content-Type %s and an Accept list" % CT)
    http(url, "DELETE", "/__test/requests")
    st, _, seen = http(url, "GET", "/__test/requests")
    check(seen == [], "DELETE /__test/requests empties the list")


def check_raw(url):
    st, ctype, r = http(url, "GET", "/subjects")
    check(st == 200 and ctype == CT and r == sorted(r) and
          "bd-events-value" in r, "GET /subjects, Content-Type " + CT, r)
    st, _, r = http(url, "GET", "/schemas/ids/1")
    check(st == 200 and list(r) == ["schema"] and
          json.loads(r["schema"]) == json.loads(V1), "GET /schemas/ids/1 -> "
          "{schema} only (AVRO: no schemaType)", r)
    st, _, r = http(url, "GET", "/subjects/bd-events-value/versions/2/schema")
    check(st == 200 and r == json.loads(V2), ".../versions/2/schema -> the "
          "schema text alone", r)
    expect_error(url, "GET", "/schemas/ids/12", 404, 40403, "unknown id")
    got = expect_error(url, "GET", "/schemas/ids/12", 404, 40403, "message")
    check(got["message"] == "Schema 12 not found", "message 'Schema 12 not "
          "found'", got)
    expect_error(url, "POST", "/subjects/x/versions", 422, 42201,
                 "a body that is not JSON", raw=b"{not json")
    expect_error(url, "POST", "/subjects/x/versions", 422, 42201,
                 "a schema that is not JSON", body={"schema": "{nope"})
    expect_error(url, "POST", "/subjects/x/versions", 422, 42201,
                 "a schema that is not Avro", body={"schema": '{"type":'
                                                    '"nosuch"}'})
    expect_error(url, "POST", "/subjects/x/versions", 422, 42201,
                 "a PROTOBUF schema", body={"schema": "syntax = \"proto3\";",
                                            "schemaType": "PROTOBUF"})
    expect_error(url, "POST", "/subjects/no-such", 404, 40401,
                 "lookup under a missing subject", body={"schema": V1})
    expect_error(url, "POST", "/subjects/other-value", 404, 40403,
                 "lookup of a schema not under the subject",
                 body={"schema": V1})
    expect_error(url, "GET", "/subjects/no-such/versions", 404, 40401,
                 "versions of a missing subject")
    expect_error(url, "GET", "/subjects/bd-events-value/versions/9", 404,
                 40402, "a missing version")
    expect_error(url, "GET", "/subjects/bd-events-value/versions/x", 422,
                 42202, "an invalid version")
    expect_error(url, "GET", "/nothing/here", 404, 404, "an unknown path")
    expect_error(url, "DELETE", "/subjects/bd-events-value", 405, 405,
                 "DELETE (not implemented)")
    st, _, r = http(url, "POST", "/subjects/j/versions",
                    {"schema": '{"type":"object"}', "schemaType": "JSON"})
    st2, _, r2 = http(url, "GET", "/schemas/ids/%d" % r["id"])
    check(st == 200 and r2 == {"schema": '{"type":"object"}',
                               "schemaType": "JSON"},
          "a JSON schema: its own id, schemaType in GET /schemas/ids", r2)
    st, _, r = http(url, "GET", "/config")
    check(r == {"compatibilityLevel": "NONE"}, "GET /config", r)
    st, _, r = http(url, "PUT", "/config", {"compatibility": "backward"})
    st2, _, r2 = http(url, "GET", "/config")
    check(r == {"compatibility": "BACKWARD"} and
          r2 == {"compatibilityLevel": "BACKWARD"},
          "PUT /config -> {compatibility}, GET -> {compatibilityLevel}",
          (r, r2))
    expect_error(url, "GET", "/config/other-value", 404, 40408,
                 "GET /config/{subject} without a level of its own")
    st, _, r = http(url, "GET", "/config/other-value?defaultToGlobal=true")
    check(r == {"compatibilityLevel": "BACKWARD"}, "?defaultToGlobal=true "
          "-> the global level", r)
    expect_error(url, "PUT", "/config", 422, 42203, "an unknown level",
                 body={"compatibility": "SOMETIMES"})
    # under the global BACKWARD: a new required field fails, V3 after V2
    # did not (it is the same schema as id 3, registered before)
    st, _, r = http(url, "POST", "/subjects/other-value/versions",
                    {"schema": V3_BAD})
    check(st == 409 and r.get("error_code") == 409,
          "global BACKWARD applies to a subject without its own level", r)
    http(url, "PUT", "/config", {"compatibility": "NONE"})


def check_compat_rules():
    """The registry's rules against python3-avro's checker."""
    def s(fields, name="R"):
        return {"type": "record", "name": name, "fields": fields}
    f = lambda n, t, **kw: dict(name=n, type=t, **kw)  # noqa: E731
    enum = lambda syms, **kw: dict(type="enum", name="E", symbols=syms, **kw)  # noqa: E731,E501
    fixed = lambda size: {"type": "fixed", "name": "F", "size": size}  # noqa: E731,E501
    node = {"type": "record", "name": "Node", "fields": [
        f("v", "int"), f("next", ["null", "Node"], default=None)]}
    node2 = {"type": "record", "name": "Node", "fields": [
        f("v", "long"), f("next", ["null", "Node"], default=None)]}
    cases = []
    prims = ["null", "boolean", "int", "long", "float", "double", "bytes",
             "string"]
    for a in prims:
        for b in prims:
            cases.append((a, b))
    cases += [
        (s([f("a", "int")]), s([f("a", "int"), f("b", "string")])),
        (s([f("a", "int"), f("b", "string")]), s([f("a", "int")])),
        (s([f("a", "int"), f("b", "string", default="")]), s([f("a", "int")])),
        (s([f("a", "long")]), s([f("a", "int")])),
        (s([f("a", "int")]), s([f("a", "long")])),
        (s([f("a", "int")], "R"), s([f("a", "int")], "Q")),
        (s([f("b", "int", aliases=["a"])]), s([f("a", "int")])),
        (["null", "int"], "int"), ("int", ["null", "int"]),
        (["null", "long"], ["null", "int"]), (["null", "int"], ["int", "long"]),
        ({"type": "array", "items": "long"}, {"type": "array", "items": "int"}),
        ({"type": "array", "items": "int"}, {"type": "array", "items": "long"}),
        ({"type": "map", "values": "double"}, {"type": "map", "values": "float"}),
        ({"type": "map", "values": "int"}, {"type": "array", "items": "int"}),
        (enum(["A", "B"]), enum(["A"])), (enum(["A"]), enum(["A", "B"])),
        (enum(["A", "Z"], default="Z"), enum(["A", "B"])),
        (fixed(4), fixed(4)), (fixed(4), fixed(8)),
        (node, node), (node2, node), (node, node2),
        (s([f("e", enum(["X", "Y"]))]), s([f("e", enum(["X"]))])),
        (s([f("u", ["null", "string", "int"])]), s([f("u", ["null", "int"])])),
        (s([f("u", ["null", "int"])]), s([f("u", ["null", "string", "int"])])),
    ]
    checker = avro.compatibility.ReaderWriterCompatibilityChecker
    ok_type = avro.compatibility.SchemaCompatibilityType.compatible
    disagree = []
    for reader, writer in cases:
        mine = schema_registry.can_read(schema_registry.parse_avro(reader),
                                        schema_registry.parse_avro(writer))
        theirs = checker().get_compatibility(
            avro.schema.parse(json.dumps(reader)),
            avro.schema.parse(json.dumps(writer))).compatibility is ok_type
        if mine != theirs:
            disagree.append((reader, writer, mine, theirs))
    check(not disagree, "compatibility rules agree with avro.compatibility "
          "on %d reader/writer pairs" % len(cases), disagree)
    # the project's own schemas parse, and parse as python3-avro parses them
    root = os.path.dirname(os.path.dirname(HERE))
    names = []
    for d in ("schemas", "schemas/old"):
        for fn in sorted(os.listdir(os.path.join(root, d))):
            if fn.endswith(".avsc"):
                text = read(os.path.join(root, d, fn))
                avro.schema.parse(text)
                schema_registry.parse_avro(json.loads(text))
                names.append(fn)
    check(names, "the project's schemas are valid to the registry: %s"
          % ", ".join(names))


def check_auth():
    server, url = schema_registry.start(user="bd:s3cret")
    try:
        noauth = CachedSchemaRegistryClient({"url": url})
        try:
            noauth.register("a-value", loads(V1))
            check(False, "register without credentials fails")
        except ClientError as e:
            check("401" in str(e), "--user: register without credentials -> "
                  "ClientError 401", e)
        got = expect_error(url, "GET", "/subjects", 401, 401,
                           "--user: GET /subjects without credentials")
        check(got["message"] == "Unauthorized", "message 'Unauthorized'")
        expect_error(url, "GET", "/subjects", 401, 401, "a wrong password",
                     auth="bd:wrong")
        st, _, r = http(url, "GET", "/subjects", auth="bd:s3cret")
        check(st == 200 and r == [], "the right credentials -> 200", (st, r))
        userinfo = CachedSchemaRegistryClient({
            "url": url, "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": "bd:s3cret"})
        check(userinfo.register("a-value", loads(V1)) == 1,
              "basic.auth.user.info credentials register")
        inurl = CachedSchemaRegistryClient(
            {"url": url.replace("http://", "http://bd:s3cret@")})
        check(inurl.get_by_id(1) == loads(V1),
              "credentials in the URL (credentials.source URL) fetch by id")
        st, _, full = http(url, "GET", "/__test/requests?headers=1")
        check(len(full) >= 5 and
              any("Authorization" in r["headers"] for r in full) and
              any("Authorization" not in r["headers"] for r in full),
              "/__test/requests needs no credentials and lists the 401s")
    finally:
        server.shutdown()
        server.server_close()


def check_unavailable():
    server, url = schema_registry.start()
    try:
        client = CachedSchemaRegistryClient({"url": url})
        client.register("b-value", loads(V1))
        st, _, r = http(url, "POST", "/__test/unavailable", {"seconds": 1.5})
        check(st == 200, "POST /__test/unavailable {seconds: 1.5}", r)
        try:
            client.register("b-value", loads(V2))
            check(False, "register while unavailable fails")
        except ClientError as e:
            check("503" in str(e), "while unavailable: register -> "
                  "ClientError 503", e)
        check(CachedSchemaRegistryClient({"url": url}).get_by_id(1) is None,
              "while unavailable: get_by_id -> None")
        expect_error(url, "GET", "/schemas/ids/1", 503, 50301,
                     "while unavailable: GET /schemas/ids/1")
        st, _, r = http(url, "GET", "/__test/requests")
        check(st == 200 and "GET /schemas/ids/1" in r,
              "while unavailable: /__test/requests answers")
        time.sleep(1.6)
        check(client.register("b-value", loads(V2)) == 2,
              "after 1.5 s: register works again")
        http(url, "POST", "/__test/unavailable", {"seconds": 60})
        http(url, "POST", "/__test/unavailable", {"seconds": 0})
        st, _, r = http(url, "GET", "/subjects")
        check(st == 200, "{seconds: 0} ends it at once", (st, r))
    finally:
        server.shutdown()
        server.server_close()


def check_cli():
    for sig in (signal.SIGTERM, signal.SIGINT):
        with tempfile.TemporaryDirectory() as tmp:
            pf = os.path.join(tmp, "port")
            p = subprocess.Popen([sys.executable, REGISTRY_PY, "--port", "0",
                                  "--user", "u:p", "--port-file", pf],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            line = []
            t = threading.Thread(target=lambda: line.append(
                p.stdout.readline()))
            t.start()
            t.join(10)
            if not line:
                p.kill()
                check(False, "the CLI prints its address within 10 s")
            port = int(read(pf))
            check(line[0] == "schema registry listening on "
                  "http://127.0.0.1:%d\n" % port,
                  "CLI: '%s', --port-file %d" % (line[0].strip(), port))
            url = "http://127.0.0.1:%d" % port
            expect_error(url, "GET", "/subjects", 401, 401,
                         "CLI --user: no credentials")
            st, _, r = http(url, "POST", "/subjects/c/versions",
                            {"schema": '"string"'}, auth="u:p")
            check(st == 200 and r == {"id": 1}, "CLI: register", (st, r))
            p.send_signal(sig)
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                check(False, "CLI exits within 10 s of %s" % sig.name)
            check(p.returncode == 0 and err == "" and out == "",
                  "CLI: %s -> exit 0, nothing on stderr (quiet)" % sig.name,
                  (p.returncode, err))


def main():
    print("python %s, confluent-kafka %s, requests %s, avro %s" % (
        sys.version.split()[0], __import__("confluent_kafka").version()[0],
        requests.__version__,
        read(os.path.join(os.path.dirname(avro.__file__),
                          "VERSION.txt")).strip()))
    server, url = schema_registry.start()
    try:
        check_legacy_client(url, server.registry)
        check_raw(url)
    finally:
        server.shutdown()
        server.server_close()
    check_compat_rules()
    check_auth()
    check_unavailable()
    check_cli()
    print("%d passed, 0 failed" % passed)


if __name__ == "__main__":
    main()
