#!/usr/bin/python3
"""A small in-process Confluent Schema Registry for integration tests.

It speaks the subset of the Schema Registry REST API (v1) that the Kafka
Avro serializers/deserializers and the daemon use, keeps everything in
memory and forgets it on exit.  Standard library only; runs under Debian's
/usr/bin/python3.

    /usr/bin/python3 tests/schema_registry.py [--port 0] [--user U:P]
                                              [--port-file FILE] [--verbose]

prints 'schema registry listening on http://127.0.0.1:PORT' on stdout and
serves until SIGTERM or SIGINT (exit status 0).  From Python:

    import schema_registry
    server, url = schema_registry.start(port=0, user=None)
    ...
    server.shutdown(); server.server_close()

server.registry is the in-memory state (a Registry) for direct checks.

Endpoints
---------
POST /subjects/{subject}/versions         register: {"schema", "schemaType"?}
                                          -> {"id"}
POST /subjects/{subject}                  lookup -> {"subject","id","version",
                                          "schema"}
GET  /subjects                            sorted list of subjects
GET  /subjects/{subject}/versions         list of versions
GET  /subjects/{subject}/versions/{v}     v: a number, "latest" or -1
GET  /subjects/{subject}/versions/{v}/schema   the schema text alone
GET  /schemas/ids/{id}                    {"schema"} (+"schemaType" if not AVRO)
GET  /schemas/ids/{id}/schema             the schema text alone
GET  /schemas/types                       ["AVRO", "JSON"]
GET  /config                              {"compatibilityLevel"}
PUT  /config                              {"compatibility"} -> {"compatibility"}
GET  /config/{subject}[?defaultToGlobal=true]   404 40408 when the subject
                                          has no level of its own
PUT  /config/{subject}                    as PUT /config
POST /compatibility/subjects/{subject}/versions/{v}   -> {"is_compatible"}

Test hooks (never 401 nor 503, and not recorded in the request list):
POST   /__test/unavailable {"seconds": S} every other request answers 503
                                          {"error_code": 50301} for S seconds
                                          (0 ends it at once)
GET    /__test/requests                   ["METHOD PATH", ...] received so far
                                          (PATH as sent, query included; 401
                                          and 503 answers are counted too)
GET    /__test/requests?headers=1         [{"method","path","headers"}, ...]
DELETE /__test/requests                   forget them

Where it differs from the real registry, on purpose
---------------------------------------------------
* The default (global) compatibility level is NONE, not BACKWARD.
* Schema types AVRO and JSON only (PROTOBUF: 422 42201); schema references
  are refused (422 42201).  JSON schemas are only checked to be JSON, and a
  subject holding one must be at level NONE to take a new version.
* Avro schemas are checked structurally (names, fields, unions, named-type
  references); defaults are not checked against their types and logical
  types are not checked.  Two schemas are the same schema when their JSON
  is equal after json.dumps(sort_keys=True, separators=(',', ':')).
* The schema text handed back is the text first registered, not Avro's
  canonical form.
* Compatibility follows Avro's schema resolution (type promotions int ->
  long/float/double, long -> float/double, float -> double, string <->
  bytes; unions; records by unqualified name and reader aliases; fields
  missing from the writer need a default; enum symbols; fixed sizes).
* No deletes (DELETE answers 405), no modes, contexts, exporters or
  /schemas/ids/{id}/versions.
* A request body that is not JSON answers 422 42201 (42203 on /config).
"""

import argparse
import base64
import binascii
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
          "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
SCHEMA_TYPES = ("AVRO", "JSON")
MAX_BODY = 64 * 1024 * 1024


class HttpError(Exception):
    def __init__(self, status, error_code, message, headers=None):
        Exception.__init__(self, message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}


def _invalid_schema(detail):
    return HttpError(422, 42201, "Invalid schema: " + detail)


# ---------------------------------------------------------------------------
# Avro: a structural parser and Avro's schema-resolution rules
# ---------------------------------------------------------------------------

class InvalidAvro(Exception):
    pass


PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double",
                        "bytes", "string"))
# (writer type, reader type) pairs that Avro's resolution promotes.
PROMOTIONS = frozenset((("int", "long"), ("int", "float"), ("int", "double"),
                        ("long", "float"), ("long", "double"),
                        ("float", "double"), ("string", "bytes"),
                        ("bytes", "string")))
NAMED = ("record", "enum", "fixed")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Node:
    """One Avro type.  kind: a primitive name, record, enum, fixed, array,
    map or union."""

    def __init__(self, kind, **kw):
        self.kind = kind
        self.name = None        # fullname of a named type
        self.short = None       # its unqualified name
        self.aliases = ()       # fullnames
        self.fields = []        # record: Field
        self.symbols = ()       # enum
        self.default = None     # enum default symbol
        self.size = None        # fixed
        self.items = None       # array
        self.values = None      # map
        self.branches = ()      # union
        self.__dict__.update(kw)


class Field:
    def __init__(self, name, node, has_default, aliases):
        self.name = name
        self.node = node
        self.has_default = has_default
        self.aliases = aliases


def _check_name(name, what):
    if not isinstance(name, str) or not name:
        raise InvalidAvro("%s has no name" % what)
    for part in name.split("."):
        if not _NAME_RE.match(part):
            raise InvalidAvro("invalid %s name %r" % (what, name))


def _fullname(obj, ns, what):
    name = obj.get("name")
    _check_name(name, what)
    if "." in name:
        return name, name.rsplit(".", 1)[0], name.rsplit(".", 1)[1]
    if "namespace" in obj:
        ns = obj["namespace"]
        if ns is None:
            ns = ""
        if not isinstance(ns, str):
            raise InvalidAvro("invalid namespace for %r" % name)
        if ns:
            _check_name(ns, "namespace")
    return (ns + "." + name if ns else name), ns, name


def _aliases(obj, ns):
    al = obj.get("aliases", [])
    if not isinstance(al, list) or not all(isinstance(a, str) for a in al):
        raise InvalidAvro("aliases must be a list of names")
    return tuple(a if "." in a or not ns else ns + "." + a for a in al)


def _define(names, node):
    if node.name in names:
        raise InvalidAvro("can't redefine %r" % node.name)
    names[node.name] = node


def _parse(obj, names, ns):
    if isinstance(obj, str):
        if obj in PRIMITIVES:
            return Node(obj)
        if "." not in obj and ns and ns + "." + obj in names:
            return names[ns + "." + obj]
        if obj in names:
            return names[obj]
        raise InvalidAvro("undefined name %r" % obj)
    if isinstance(obj, list):
        branches = [_parse(b, names, ns) for b in obj]
        keys = []
        for b in branches:
            if b.kind == "union":
                raise InvalidAvro("a union may not hold a union")
            keys.append(b.name if b.kind in NAMED else b.kind)
        if len(set(keys)) != len(keys):
            raise InvalidAvro("duplicate type in union %s" % keys)
        return Node("union", branches=branches)
    if not isinstance(obj, dict):
        raise InvalidAvro("%s is not a schema" % json.dumps(obj))
    if "type" not in obj:
        raise InvalidAvro("no 'type' in %s" % json.dumps(obj)[:200])
    t = obj["type"]
    if t in ("record", "error"):
        full, rns, short = _fullname(obj, ns, "record")
        node = Node("record", name=full, short=short,
                    aliases=_aliases(obj, rns))
        _define(names, node)
        fields = obj.get("fields")
        if not isinstance(fields, list):
            raise InvalidAvro("record %r has no list of fields" % full)
        seen = set()
        for f in fields:
            if not isinstance(f, dict):
                raise InvalidAvro("a field of %r is not an object" % full)
            _check_name(f.get("name"), "field")
            if f["name"] in seen:
                raise InvalidAvro("duplicate field %r in %r" % (f["name"],
                                                                full))
            seen.add(f["name"])
            if "type" not in f:
                raise InvalidAvro("field %r has no type" % f["name"])
            al = f.get("aliases", [])
            if not isinstance(al, list):
                raise InvalidAvro("aliases of field %r" % f["name"])
            node.fields.append(Field(f["name"], _parse(f["type"], names, rns),
                                     "default" in f, tuple(al)))
        return node
    if t == "enum":
        full, ens, short = _fullname(obj, ns, "enum")
        syms = obj.get("symbols")
        if (not isinstance(syms, list) or not all(
                isinstance(s, str) and _NAME_RE.match(s) for s in syms)
                or len(set(syms)) != len(syms)):
            raise InvalidAvro("enum %r: symbols must be distinct names" % full)
        default = obj.get("default")
        if default is not None and default not in syms:
            raise InvalidAvro("enum %r: default %r is not a symbol"
                              % (full, default))
        node = Node("enum", name=full, short=short, symbols=tuple(syms),
                    default=default, aliases=_aliases(obj, ens))
        _define(names, node)
        return node
    if t == "fixed":
        full, fns, short = _fullname(obj, ns, "fixed")
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidAvro("fixed %r: size must be a whole number" % full)
        node = Node("fixed", name=full, short=short, size=size,
                    aliases=_aliases(obj, fns))
        _define(names, node)
        return node
    if t == "array":
        if "items" not in obj:
            raise InvalidAvro("array without items")
        return Node("array", items=_parse(obj["items"], names, ns))
    if t == "map":
        if "values" not in obj:
            raise InvalidAvro("map without values")
        return Node("map", values=_parse(obj["values"], names, ns))
    # {"type": "int", "logicalType": ...}, {"type": {...}}, {"type": "a.B"}
    if isinstance(t, (str, list, dict)):
        return _parse(t, names, ns)
    raise InvalidAvro("invalid type %s" % json.dumps(t))


def parse_avro(obj):
    """obj: the schema as parsed JSON.  Returns its Node; raises InvalidAvro."""
    return _parse(obj, {}, "")


def _named_match(reader, writer):
    return reader.short == writer.short or writer.name in reader.aliases


def can_read(reader, writer, _seen=None):
    """True when data written with `writer` can be read with `reader`."""
    seen = set() if _seen is None else _seen
    if writer.kind == "union":
        return all(can_read(reader, b, seen) for b in writer.branches)
    if reader.kind == "union":
        return any(can_read(b, writer, seen) for b in reader.branches)
    if reader.kind in PRIMITIVES and writer.kind in PRIMITIVES:
        return (reader.kind == writer.kind
                or (writer.kind, reader.kind) in PROMOTIONS)
    if reader.kind != writer.kind:
        return False
    key = (id(reader), id(writer))
    if key in seen:
        return True     # a recursive type, already being compared
    seen.add(key)
    if reader.kind == "array":
        return can_read(reader.items, writer.items, seen)
    if reader.kind == "map":
        return can_read(reader.values, writer.values, seen)
    if not _named_match(reader, writer):
        return False
    if reader.kind == "fixed":
        return reader.size == writer.size
    if reader.kind == "enum":
        return (set(writer.symbols) <= set(reader.symbols)
                or reader.default is not None)
    # record
    by_name = {f.name: f for f in writer.fields}
    for rf in reader.fields:
        wf = by_name.get(rf.name)
        if wf is None:
            wf = next((by_name[a] for a in rf.aliases if a in by_name), None)
        if wf is None:
            if not rf.has_default:
                return False
        elif not can_read(rf.node, wf.node, seen):
            return False
    return True


# ---------------------------------------------------------------------------
# The registry's state
# ---------------------------------------------------------------------------

class Schema:
    def __init__(self, sid, schema_type, text, norm, node):
        self.id = sid
        self.type = schema_type
        self.text = text
        self.norm = norm
        self.node = node        # Avro Node, or None for JSON schemas


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = {}           # id -> Schema
        self.by_key = {}            # (type, normalised text) -> Schema
        self.subjects = {}          # subject -> [schema id of version 1, 2..]
        self.global_level = "NONE"
        self.subject_level = {}     # subject -> level
        self.unavailable_until = 0.0
        self.requests = []          # (method, path, headers)

    # -- parsing a request's schema ------------------------------------
    @staticmethod
    def parse_request_schema(body):
        if not isinstance(body, dict):
            raise _invalid_schema("the request body is not a JSON object")
        text = body.get("schema")
        if not isinstance(text, str) or not text.strip():
            raise _invalid_schema("no 'schema' string in the request")
        stype = body.get("schemaType") or "AVRO"
        if not isinstance(stype, str) or stype.upper() not in SCHEMA_TYPES:
            raise HttpError(422, 42201, "Invalid schema type %r (this test "
                            "registry knows AVRO and JSON)" % (stype,))
        stype = stype.upper()
        if body.get("references"):
            raise _invalid_schema("schema references are not supported by "
                                  "this test registry")
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise _invalid_schema("not JSON (%s)" % e)
        norm = json.dumps(obj, sort_keys=True, separators=(",", ":"))
        node = None
        if stype == "AVRO":
            try:
                node = parse_avro(obj)
            except InvalidAvro as e:
                raise _invalid_schema("not an Avro schema (%s)" % e)
        elif not isinstance(obj, (dict, bool)):
            raise _invalid_schema("a JSON schema is an object or a boolean")
        return stype, text, norm, node

    # -- lookups -----------------------------------------------------------
    def level_of(self, subject):
        return self.subject_level.get(subject, self.global_level)

    def versions(self, subject):
        v = self.subjects.get(subject)
        if not v:
            raise HttpError(404, 40401, "Subject '%s' not found." % subject)
        return v

    def version_index(self, subject, version):
        ids = self.versions(subject)
        if version in ("latest", "-1"):
            return len(ids)
        try:
            n = int(version)
        except ValueError:
            n = 0
        if n < 1 or n > 2 ** 31 - 1:
            raise HttpError(422, 42202, "The specified version '%s' is not a "
                            "valid version id. Allowed values are between "
                            "[1, 2^31-1] and the string \"latest\"" % version)
        if n > len(ids):
            raise HttpError(404, 40402, "Version %d not found." % n)
        return n

    def find_in_subject(self, subject, stype, norm):
        s = self.by_key.get((stype, norm))
        if s is None:
            return None, None
        ids = self.subjects.get(subject, [])
        for i, sid in enumerate(ids):
            if sid == s.id:
                return s, i + 1
        return None, None

    # -- compatibility -----------------------------------------------------
    def compatible(self, level, new_type, new_node, against):
        """against: Schemas to check the new one with, under `level`."""
        if level == "NONE":
            return True, ""
        for old in against:
            if old.type != new_type:
                return False, ("schema type %s differs from %s of id %d"
                               % (new_type, old.type, old.id))
            if new_type != "AVRO":
                raise HttpError(422, 42201, "Invalid schema: compatibility "
                                "checks of %s schemas are not implemented by "
                                "this test registry (use level NONE)"
                                % new_type)
            if level.startswith(("BACKWARD", "FULL")) and \
                    not can_read(new_node, old.node):
                return False, ("the new schema can't read data written with "
                               "id %d (%s)" % (old.id, level))
            if level.startswith(("FORWARD", "FULL")) and \
                    not can_read(old.node, new_node):
                return False, ("data written with the new schema can't be "
                               "read with id %d (%s)" % (old.id, level))
        return True, ""

    def _against(self, subject, level, upto):
        ids = self.subjects.get(subject, [])[:upto]
        if not level.endswith("_TRANSITIVE"):
            ids = ids[-1:]
        return [self.schemas[i] for i in ids]

    # -- operations (each called with self.lock held) ----------------------
    def register(self, subject, body):
        stype, text, norm, node = self.parse_request_schema(body)
        s, _ = self.find_in_subject(subject, stype, norm)
        if s is not None:
            return {"id": s.id}
        level = self.level_of(subject)
        ok, why = self.compatible(level, stype, node,
                                  self._against(subject, level, None))
        if not ok:
            raise HttpError(409, 409, "Schema being registered is "
                            "incompatible with an earlier schema for subject "
                            "\"%s\": %s" % (subject, why))
        s = self.by_key.get((stype, norm))
        if s is None:
            s = Schema(len(self.schemas) + 1, stype, text, norm, node)
            self.schemas[s.id] = s
            self.by_key[(stype, norm)] = s
        self.subjects.setdefault(subject, []).append(s.id)
        return {"id": s.id}

    def lookup(self, subject, body):
        stype, _, norm, _ = self.parse_request_schema(body)
        self.versions(subject)
        s, version = self.find_in_subject(subject, stype, norm)
        if s is None:
            raise HttpError(404, 40403, "Schema not found")
        return self.describe(subject, version)

    def describe(self, subject, version):
        s = self.schemas[self.subjects[subject][version - 1]]
        out = {"subject": subject, "version": version, "id": s.id}
        if s.type != "AVRO":
            out["schemaType"] = s.type
        out["schema"] = s.text
        return out

    def by_id(self, sid):
        s = self.schemas.get(sid)
        if s is None:
            raise HttpError(404, 40403, "Schema %d not found" % sid)
        return s

    def test_compatibility(self, subject, version, body):
        stype, _, _, node = self.parse_request_schema(body)
        n = self.version_index(subject, version)
        level = self.level_of(subject)
        if version in ("latest", "-1"):
            against = self._against(subject, level, n)
        else:
            against = [self.schemas[self.subjects[subject][n - 1]]]
        ok, _ = self.compatible(level, stype, node, against)
        return {"is_compatible": ok}


def _level_from(body):
    if not isinstance(body, dict) or not isinstance(
            body.get("compatibility"), str) or \
            body["compatibility"].upper() not in LEVELS:
        raise HttpError(422, 42203, "Invalid compatibility level. Valid "
                        "values are none, backward, forward, full, "
                        "backward_transitive, forward_transitive, and "
                        "full_transitive")
    return body["compatibility"].upper()


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, as the real one
    server_version = "schema-registry-test"
    timeout = 30                        # idle keep-alive connections close

    def log_message(self, fmt, *args):
        if self.server.verbose:
            BaseHTTPRequestHandler.log_message(self, fmt, *args)

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- plumbing ------------------------------------------------------------
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n",
                                                              b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise HttpError(413, 413, "Request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, 413, "Request body too large")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, payload, headers=None):
        if isinstance(payload, str):
            data = payload.encode()     # a raw schema string
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _authorized(self):
        want = self.server.user
        if want is None:
            return True
        got = self.headers.get("Authorization", "")
        if not got[:6].lower() == "basic ":
            return False
        try:
            cred = base64.b64decode(got[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(cred, want.encode())

    def _handle(self):
        reg = self.server.registry
        try:
            raw = self._read_body()
        except HttpError as e:
            self.close_connection = True
            self._send(e.status, {"error_code": e.error_code,
                                  "message": e.message})
            return
        except ValueError:
            self.close_connection = True
            self._send(400, {"error_code": 400, "message": "Bad request body"})
            return
        url = urlsplit(self.path)
        segs = [unquote(s) for s in url.path.split("/")[1:]]
        if len(segs) > 1 and segs[-1] == "":
            segs.pop()
        query = parse_qs(url.query)
        test_hook = segs[:1] == ["__test"]
        if not test_hook:
            with reg.lock:
                reg.requests.append((self.command, self.path,
                                     dict(self.headers.items())))
        try:
            if not test_hook:
                with reg.lock:
                    down = time.monotonic() < reg.unavailable_until
                if down:
                    raise HttpError(503, 50301, "Service unavailable (test "
                                    "hook /__test/unavailable)")
                if not self._authorized():
                    raise HttpError(401, 401, "Unauthorized", {
                        "WWW-Authenticate": 'Basic realm="SchemaRegistry"'})
            status, payload = self._route(segs, query, raw)
            self._send(status, payload)
        except HttpError as e:
            self._send(e.status, {"error_code": e.error_code,
                                  "message": e.message}, e.headers)
        except Exception:
            traceback.print_exc()
            self._send(500, {"error_code": 50001,
                             "message": "Error in the test schema registry"})

    @staticmethod
    def _json(raw, error_code, message):
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise HttpError(422, error_code, message)

    # -- routes ----------------------------------------------------------------
    def _route(self, segs, query, raw):
        reg = self.server.registry
        m = self.command
        n = len(segs)

        def body():
            return self._json(raw, 42201, "Invalid schema: the request body "
                              "is not JSON")

        def allow(*methods):
            if m not in methods:
                raise HttpError(405, 405, "HTTP 405 Method Not Allowed")

        if segs == [""]:
            allow("GET")
            return 200, {}
        if segs[0] == "__test":
            return self._route_test(segs, query, raw)
        if segs[0] == "subjects":
            if n == 1:
                allow("GET")
                with reg.lock:
                    return 200, sorted(reg.subjects)
            subject = segs[1]
            if n == 2:
                allow("POST")
                b = body()
                with reg.lock:
                    return 200, reg.lookup(subject, b)
            if segs[2] == "versions":
                if n == 3:
                    allow("GET", "POST")
                    if m == "GET":
                        with reg.lock:
                            return 200, list(range(
                                1, len(reg.versions(subject)) + 1))
                    b = body()
                    with reg.lock:
                        return 200, reg.register(subject, b)
                if n in (4, 5) and (n == 4 or segs[4] == "schema"):
                    allow("GET")
                    with reg.lock:
                        d = reg.describe(subject,
                                         reg.version_index(subject, segs[3]))
                    return 200, (d if n == 4 else d["schema"])
        if segs[0] == "schemas":
            if segs[1:] == ["types"]:
                allow("GET")
                return 200, list(SCHEMA_TYPES)
            if n in (3, 4) and segs[1] == "ids" and segs[2].isdigit() and \
                    (n == 3 or segs[3] == "schema"):
                allow("GET")
                with reg.lock:
                    s = reg.by_id(int(segs[2]))
                if n == 4:
                    return 200, s.text
                out = {"schema": s.text}
                if s.type != "AVRO":
                    out["schemaType"] = s.type
                return 200, out
        if segs[0] == "config" and n in (1, 2):
            allow("GET", "PUT")
            subject = segs[1] if n == 2 else None
            if m == "PUT":
                b = self._json(raw, 42203, "Invalid compatibility level: the "
                               "request body is not JSON")
                level = _level_from(b)
                with reg.lock:
                    if subject is None:
                        reg.global_level = level
                    else:
                        reg.subject_level[subject] = level
                return 200, {"compatibility": level}
            with reg.lock:
                if subject is None:
                    return 200, {"compatibilityLevel": reg.global_level}
                if subject in reg.subject_level:
                    return 200, {"compatibilityLevel":
                                 reg.subject_level[subject]}
                if query.get("defaultToGlobal", [""])[0].lower() == "true":
                    return 200, {"compatibilityLevel": reg.global_level}
            raise HttpError(404, 40408, "Subject '%s' does not have "
                            "subject-level compatibility configured"
                            % subject)
        if segs[0] == "compatibility" and n == 5 and segs[1] == "subjects" \
                and segs[3] == "versions":
            allow("POST")
            b = body()
            with reg.lock:
                return 200, reg.test_compatibility(segs[2], segs[4], b)
        raise HttpError(404, 404, "HTTP 404 Not Found")

    def _route_test(self, segs, query, raw):
        reg = self.server.registry
        if segs == ["__test", "unavailable"] and self.command == "POST":
            b = self._json(raw, 422, "the body is not JSON")
            s = b.get("seconds") if isinstance(b, dict) else None
            if not isinstance(s, (int, float)) or isinstance(s, bool) or s < 0:
                raise HttpError(422, 422, "want {\"seconds\": S}, S >= 0")
            with reg.lock:
                reg.unavailable_until = time.monotonic() + s
            return 200, {"unavailable_for": s}
        if segs == ["__test", "requests"] and self.command in ("GET",
                                                               "DELETE"):
            with reg.lock:
                if self.command == "DELETE":
                    reg.requests = []
                    return 200, []
                if query.get("headers", [""])[0] in ("1", "true"):
                    return 200, [{"method": m, "path": p, "headers": h}
                                 for m, p, h in reg.requests]
                return 200, ["%s %s" % (m, p) for m, p, _ in reg.requests]
        raise HttpError(404, 404, "HTTP 404 Not Found")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port=0, user=None, verbose=False, ssl_context=None):
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), Handler)
        self.registry = Registry()
        self.user = user
        self.verbose = verbose
        self.tls = ssl_context is not None
        if self.tls:   # HTTPS: every accepted connection does the handshake
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True)

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.server_address[1])

    def handle_error(self, request, client_address):
        # A client that hangs up mid-request is part of failure tests.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)) \
                and not self.verbose:
            return
        ThreadingHTTPServer.handle_error(self, request, client_address)


def start(port=0, user=None, verbose=False, ssl_context=None):
    """Serve in a daemon thread; returns (server, url).  Stop it with
    server.shutdown(); server.server_close().  @ssl_context (an
    ssl.SSLContext with the server's certificate): HTTPS."""
    server = Server(port, user, verbose, ssl_context)
    t = threading.Thread(target=server.serve_forever, name="schema-registry",
                         daemon=True)
    t.start()
    return server, server.url


def main(argv=None):
    ap = argparse.ArgumentParser(description="In-memory Confluent Schema "
                                 "Registry (REST v1 subset) for tests.")
    ap.add_argument("--port", type=int, default=0,
                    help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--user", metavar="USER:PASS",
                    help="require this HTTP basic authentication")
    ap.add_argument("--port-file", metavar="FILE",
                    help="write the port number to FILE once listening")
    ap.add_argument("--verbose", action="store_true",
                    help="log each request on stderr")
    args = ap.parse_args(argv)
    if args.user is not None and ":" not in args.user:
        ap.error("--user wants USER:PASS")

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server, url = start(args.port, args.user, args.verbose)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, args.port_file)
    print("schema registry listening on %s" % url, flush=True)
    while not stop.wait(3600):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
