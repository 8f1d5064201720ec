"""Test client for budgetd: Apache's python avro for the bytes, confluent-kafka
(librdkafka) for the protocol, and the real budgetd binaries as subprocesses.

Run with Debian's /usr/bin/python3 (python3-avro, python3-confluent-kafka).
Nothing here imports budgetd code: it is an independent implementation of
the wire formats, so the tests check budgetd against the spec, not itself.
"""
import io
import json
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

try:
    import avro.io
    import avro.schema
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError as e:  # a test that needs them is skipped (automake: 77)
    print("SKIP: %s lacks python3-avro or python3-confluent-kafka (%s)" % (sys.executable, e))
    sys.exit(77)

SRCDIR = os.environ.get("srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("builddir", ".")
BUDGETD = os.path.join(BUILDDIR, "budgetd")
SIM = os.path.join(BUILDDIR, "budgetd-sim")
# budgetd-sim dates its events in its simulated day, hours ahead of this
# host's clock: a daemon it drives holds event times as they come
# (docs/architecture.md, Time)
SIM_CLOCK = ["-X", "clock.mode=event"]

KINDS = ["feature_event", "outcome_event", "control_command", "decision",
         "plan", "model_update", "dead_letter", "changelog"]
SCHEMA_IDS = {k: i + 1 for i, k in enumerate(KINDS)}   # budgetd's defaults
TOPICS = {"feature_event": "budgetd.features", "outcome_event": "budgetd.outcomes",
          "control_command": "budgetd.control", "decision": "budgetd.decisions",
          "plan": "budgetd.plans", "model_update": "budgetd.models",
          "dead_letter": "budgetd.deadletters", "changelog": "budgetd.changelog"}
# (also: an admin endpoint on any free port, so tests run side by side)
TEST_KAFKA = ["-X", "kafka.session.timeout.ms=6000", "-X", "kafka.heartbeat.interval.ms=500",
              "-X", "admin.listen=127.0.0.1:0"]
# BUDGETD_WRAPPER: a command line the daemon runs under (valgrind, see
# ./quickstart valgrind); BUDGETD_TIMEOUT_MULT scales every wait here for it.
WRAPPER = shlex.split(os.environ.get("BUDGETD_WRAPPER", ""))
SLOW = float(os.environ.get("BUDGETD_TIMEOUT_MULT", "1"))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def check_eq(a, b, what):
    if a != b:
        fail("%s: expected %r, got %r" % (what, b, a))


# ---- Avro ------------------------------------------------------------------

SCHEMAS = {k: avro.schema.parse(open(os.path.join(SRCDIR, "schemas", k + ".avsc")).read())
           for k in KINDS}

_CRC_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (0xC15D213AA4D7A795 & -(_fp & 1))
    _CRC_TABLE.append(_fp & 0xFFFFFFFFFFFFFFFF)


def crc64_avro(data):
    fp = 0xC15D213AA4D7A795
    for b in data:
        fp = (fp >> 8) ^ _CRC_TABLE[(fp ^ b) & 0xFF]
    return fp


FINGERPRINTS = {k: crc64_avro(SCHEMAS[k].canonical_form.encode()) for k in KINDS}


def encode(kind, record, fmt="confluent"):
    buf = io.BytesIO()
    avro.io.DatumWriter(SCHEMAS[kind]).write(record, avro.io.BinaryEncoder(buf))
    body = buf.getvalue()
    if fmt == "confluent":
        return b"\x00" + struct.pack(">I", SCHEMA_IDS[kind]) + body
    return b"\xc3\x01" + struct.pack("<Q", FINGERPRINTS[kind]) + body


def decode(kind, data):
    """Decodes either framing, checking it names @kind's schema."""
    if data[:1] == b"\x00":
        check_eq(struct.unpack(">I", data[1:5])[0], SCHEMA_IDS[kind], "schema id of " + kind)
        body = data[5:]
    elif data[:2] == b"\xc3\x01":
        check_eq(struct.unpack("<Q", data[2:10])[0], FINGERPRINTS[kind], "fingerprint of " + kind)
        body = data[10:]
    else:
        fail("%s: unknown framing %r" % (kind, data[:2]))
    bio = io.BytesIO(body)
    rec = avro.io.DatumReader(SCHEMAS[kind]).read(avro.io.BinaryDecoder(bio))
    check_eq(bio.tell(), len(body), "bytes consumed decoding " + kind)
    return rec


# ---- Kafka -----------------------------------------------------------------

def producer(bootstrap):
    # murmur2_random: the partitioner budgetd and budgetd-sim use, so a
    # user's features and outcomes land on the same partition number
    # (not warmed: tests that send a campaign's command and its requests
    # back to back count on the first lookup's delay to order them)
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                     "linger.ms": 5})


def warm(p):
    """The client's metadata for every topic at once: librdkafka otherwise
    holds a message to a topic it has not looked up yet until its next
    refresh, up to 1 s per topic (librdkafka #3202) -- test time, not what
    a test measures.  Only for a test that orders its inputs itself (a
    command's plan awaited before the requests): the control topic and the
    input topics are read by different consumers, in no order between them."""
    p.list_topics(timeout=10 * SLOW)
    return p


def produce(p, kind, key, value):
    p.produce(TOPICS.get(kind, kind), value=value, key=key)
    p.poll(0)


class Tail:
    """Reads a topic from its current end (all partitions)."""

    def __init__(self, bootstrap, topic, from_start=False):
        # short fetch waits: the mock broker answers a waiting fetch only
        # when the wait ends, which would add up to 500 ms to every read
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bdtest-tail",
                           "enable.auto.commit": False, "fetch.wait.max.ms": 20})
        md = self.c.list_topics(topic, timeout=10)
        parts = []
        for p in md.topics[topic].partitions:
            lo, hi = self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            parts.append(TopicPartition(topic, p, lo if from_start else hi))
        self.c.assign(parts)

    def read(self, want, timeout=30, pred=None):
        out, end = [], time.time() + timeout * SLOW
        while len(out) < want and time.time() < end:
            m = self.c.poll(0.2)
            if m is None or m.error():
                continue
            if pred is None or pred(m):
                out.append(m)
        return out

    def close(self):
        self.c.close()


# ---- processes ---------------------------------------------------------------

class Proc:
    def __init__(self, args, name, stdin=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=name + "-", suffix=".log", delete=False)
        self.p = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=self.log,
                                  text=True)
        self.bootstrap = None

    def wait_bootstrap(self, timeout=20):
        end = time.time() + timeout * SLOW
        while time.time() < end:
            line = self.p.stdout.readline()
            if line.startswith("bootstrap="):
                self.bootstrap = line.strip().split("=", 1)[1]
                return self.bootstrap
            if not line and self.p.poll() is not None:
                break
        self.dump_log()
        fail(self.name + " did not print its bootstrap address")

    def dump_log(self, tail=60):
        with open(self.log.name) as f:
            lines = f.readlines()
        sys.stdout.write("---- %s log (last %d lines)\n" % (self.name, tail))
        sys.stdout.write("".join(lines[-tail:]))

    def log_text(self):
        # (bytes that are not UTF-8 in a log line must not stop a test)
        with open(self.log.name, errors="backslashreplace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def start_broker(faults=False, extra=()):
    """The embedded broker; with faults, fault() injects mock-cluster faults;
    @extra more of its arguments (-X topic.partitions=32)."""
    if faults:
        b = Proc([BUDGETD, "--broker-only", "--broker-faults"] + TEST_KAFKA + list(extra),
                 "broker", stdin=subprocess.PIPE)
    else:
        b = Proc([BUDGETD, "--broker-only"] + TEST_KAFKA + list(extra), "broker")
    b.wait_bootstrap()
    return b


def fault(broker, command):
    """Sends one fault command (see budgetd --help) and checks the answer."""
    broker.p.stdin.write(command + "\n")
    broker.p.stdin.flush()
    answer = broker.p.stdout.readline().strip()
    check(answer == "ok: " + command, "fault %r: broker answered %r" % (command, answer))


def start_daemon(bootstrap, state_dir, *extra):
    args = WRAPPER + [BUDGETD, "-X", "bootstrap.servers=" + bootstrap, "-X", "state.dir=" + state_dir,
            "-X", "workers=2", "-X", "solve.interval.ms=1000"] + TEST_KAFKA + list(extra)
    return Proc(args, "budgetd")


def wait_log(proc, pattern, timeout=30):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        if re.search(pattern, proc.log_text()):
            return True
        if proc.p.poll() is not None:
            break
        time.sleep(0.1)
    proc.dump_log()
    rc = proc.p.poll()
    # a process that ended says how (a negative code is the signal)
    fail("%s: no log line matching %r%s" % (proc.name, pattern,
         "" if rc is None else " (it exited with status %d)" % rc))


def dump_state(state_dir, what="stats"):
    out = subprocess.run([BUDGETD, "-X", "state.dir=" + state_dir, "--dump", what],
                         capture_output=True, text=True, check=True).stdout
    return [l.split() for l in out.splitlines()]


def control(campaign, action, budget=None, treatments=None, exploration=None, cid=None,
            max_value=None, max_cost=None, winsor_value=None, holdout=None, uniform_arm=None):
    return {"command_id": cid or "%s-%s-%f" % (campaign, action, time.time()),
            "campaign_id": campaign, "ts_ms": int(time.time() * 1000), "action": action,
            "daily_budget": budget, "treatments": treatments, "exploration": exploration,
            "timezone_offset_s": None, "max_value": max_value, "max_cost": max_cost,
            "winsor_value": winsor_value, "holdout": holdout, "uniform_arm": uniform_arm}


TREATMENTS = [{"id": 0, "name": "control", "nominal_cost": 0.0},
              {"id": 1, "name": "coupon 2", "nominal_cost": 2.0},
              {"id": 2, "name": "coupon 5", "nominal_cost": 5.0}]


class Requests:
    """Feature events of one campaign, dated now: request ids r0, r1, ...
    from users u0..u(users-1), features drawn from @rng."""

    def __init__(self, campaign, rng, users=300, dim=12):
        self.campaign, self.rng, self.users, self.dim, self.seq = campaign, rng, users, dim, 0

    def send(self, p, n):
        for _ in range(n):
            i = self.seq
            self.seq += 1
            user = "u%d" % (i % self.users)
            rec = {"request_id": "r%d" % i, "campaign_id": self.campaign, "user_id": user,
                   "ts_ms": int(time.time() * 1000),
                   "features": [self.rng.gauss(0, 1) for _ in range(self.dim)], "context": {}}
            produce(p, "feature_event", user.encode(), encode("feature_event", rec))
        p.flush(10)


def feature_events(p, campaign, prefix, n, rng, dim=12):
    """@n feature events of @campaign dated now, one user each: request ids
    PREFIX-0.., users PREFIX-u0.., features drawn from @rng; @returns the
    request ids."""
    ids = []
    for i in range(n):
        user = "%s-u%d" % (prefix, i)
        rid = "%s-%d" % (prefix, i)
        produce(p, "feature_event", user.encode(),
                encode("feature_event", {"request_id": rid, "campaign_id": campaign,
                                         "user_id": user, "ts_ms": int(time.time() * 1000),
                                         "features": [rng.gauss(0, 1) for _ in range(dim)],
                                         "context": {}}))
        ids.append(rid)
    p.flush(10)
    return ids


def sim_day(daemon, bootstrap, campaign, events, seconds, *extra):
    """One closed-loop day of budgetd-sim against @daemon; its stdout (the
    test fails, with the daemon's log, when the simulator does)."""
    sim = subprocess.run([SIM, "run", "--bootstrap", bootstrap, "--events", str(events),
                          "--duration", str(seconds), "--campaign", campaign, "-q", *extra],
                         capture_output=True, text=True, timeout=300 * SLOW)
    if sim.returncode != 0:
        daemon.dump_log()
    check(sim.returncode == 0, "simulator: " + sim.stdout[-400:] + sim.stderr[-400:])
    return sim.stdout


def tmpdir(name):
    d = tempfile.mkdtemp(prefix="budgetd-" + name + "-")
    return d


def cleanup(*dirs):
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def wait_caught_up(bootstrap, timeout=60):
    """Until budgetd's group has committed up to every input high watermark."""
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "tests", "lib", "caughtup.py"),
                        bootstrap, "budgetd", str(timeout * SLOW)], capture_output=True, text=True)
    check(r.returncode == 0, "budgetd did not catch up: " + r.stdout.strip())


# ---- the admin endpoint ------------------------------------------------------

def http_get(url, timeout=5):
    """(status, body) of a GET; status None when nothing answers."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def experiment_settled(url, campaign, want, arms=("treated", "holdout"), timeout=40):
    """Campaign @campaign's report (/api/experiment) once today's requests
    and outcomes in @arms both number @want (503 before the first documents
    are rendered: retried)."""
    end = time.time() + timeout * SLOW
    c = None
    while time.time() < end:
        st, body = http_get(url + "/api/experiment")
        got = [x for x in json.loads(body)["campaigns"] if x["campaign"] == campaign] \
            if st == 200 else []
        c = got[0] if got else None
        t = c.get("today") if c else None
        if t and all(a in t for a in arms) and \
                sum(t[a]["requests"] for a in arms) == want and \
                sum(t[a]["outcomes"] for a in arms) == want:
            return c
        time.sleep(0.5)
    fail("the report never counted %d requests and outcomes: %r" % (want, c))


def admin_url(proc, timeout=20):
    """The daemon's admin endpoint (TEST_KAFKA's admin.listen=127.0.0.1:0
    logs the port it got)."""
    wait_log(proc, r"admin endpoint on .*\(port \d+\)", timeout)
    return "http://127.0.0.1:%s" % re.findall(r"admin endpoint on .*\(port (\d+)\)",
                                              proc.log_text())[-1]


def metrics(url):
    """Every sample of @url's /metrics: {"name{labels}": value}."""
    _, text = http_get(url + "/metrics")
    return {n + l: float(v) for n, l, v in
            re.findall(r"^(budgetd_[a-z_]+)(\{[^}]*\})? (\S+)$", text or "", re.M)}


def metric(url, name, labels=""):
    """One sample of @url's /metrics; fails the test when it is missing."""
    m = metrics(url)
    check(name + labels in m, "no sample %s%s in %s/metrics" % (name, labels, url))
    return m[name + labels]
