"""it_prometheus: the daemon's /metrics through Debian's real Prometheus.

A closed-loop day with budgetd-sim, then: promtool accepts the text; a
Prometheus server scrapes the admin endpoint every second; the values read
back through its query API equal the daemon's own (decisions, input events
per topic, the campaign's budget), and the scrape target is up.  /healthz,
/readyz and the JSON API answer too.
"""
import json
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from bdclient import *  # noqa: F401,F403

EVENTS = 600
CAMPAIGN = "prom-test"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:  # not listening (yet)
        return None, str(e)


def metric(text, name, labels=""):
    """The value of one sample of the exposition text."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    check(m, "no sample %s%s in /metrics" % (name, labels))
    return float(m.group(1))


if not shutil.which("prometheus") or not shutil.which("promtool"):
    print("SKIP: Debian's prometheus package (prometheus, promtool) is not installed")
    sys.exit(77)

broker = start_broker()
state = tmpdir("prom")
prom_dir = tmpdir("prom-tsdb")
d = start_daemon(broker.bootstrap, state, *SIM_CLOCK)
prom = None
passed = False
try:
    wait_log(d, r"admin endpoint on .*\(port \d+\)", 20)
    port = int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))
    base = "http://127.0.0.1:%d" % port
    wait_log(d, r"assigned budgetd\.features", 40)
    sim = subprocess.run([SIM, "run", "--bootstrap", broker.bootstrap, "--events", str(EVENTS),
                          "--duration", "8", "--campaign", CAMPAIGN, "-p", "seed=3", "-q"],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, "simulator: " + sim.stdout[-500:] + sim.stderr[-500:])
    wait_caught_up(broker.bootstrap)
    time.sleep(2)  # one more render of the documents (admin.refresh.ms)

    status, text = get(base + "/metrics")
    check_eq(status, 200, "/metrics status")
    check(metric(text, "budgetd_decisions_total") == EVENTS, "decisions in /metrics")
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "promtool check metrics: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    check_eq(get(base + "/healthz"), (200, "ok\n"), "/healthz")
    check_eq(get(base + "/readyz"), (200, "ready\n"), "/readyz")
    camps = json.loads(get(base + "/api/campaigns")[1])["campaigns"]
    check([c["id"] for c in camps] == [CAMPAIGN], "campaigns in /api/campaigns: %r" % camps)
    check_eq(get(base + "/nope")[0], 404, "unknown path")

    # a real Prometheus server scraping it
    pport = free_port()
    cfg = os.path.join(prom_dir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: budgetd\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % port)
    plog = open(os.path.join(prom_dir, "prometheus.log"), "w")
    prom = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                             "--storage.tsdb.path=" + os.path.join(prom_dir, "data"),
                             "--web.listen-address=127.0.0.1:%d" % pport],
                            stdout=plog, stderr=subprocess.STDOUT)
    papi = "http://127.0.0.1:%d" % pport
    end = time.time() + 60  # its start: a few seconds on a loaded machine
    while time.time() < end and get(papi + "/-/ready")[0] != 200:
        check(prom.poll() is None, "prometheus exited (rc %r)" % prom.poll())
        time.sleep(0.3)
    check(get(papi + "/-/ready")[0] == 200, "prometheus not ready after 60 s")

    def query(q):
        s, body = get(papi + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        if s != 200:
            return None
        res = json.loads(body)["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    want = {
        'up{job="budgetd"}': 1.0,
        "budgetd_decisions_total": float(EVENTS),
        'budgetd_events_in_total{topic="budgetd.features"}':
            metric(text, "budgetd_events_in_total", '{topic="budgetd.features"}'),
        'budgetd_events_in_total{topic="budgetd.outcomes"}':
            metric(text, "budgetd_events_in_total", '{topic="budgetd.outcomes"}'),
        'budgetd_campaign_budget{campaign="%s"}' % CAMPAIGN:
            metric(text, "budgetd_campaign_budget", '{campaign="%s"}' % CAMPAIGN),
        'budgetd_decision_latency_seconds_count': float(EVENTS),
    }
    got = {}
    end = time.time() + 60
    while time.time() < end and any(got.get(q) != v for q, v in want.items()):
        time.sleep(0.5)
        for q in want:
            got[q] = query(q)
    for q, v in want.items():
        check(got.get(q) is not None and abs(got[q] - v) <= 1e-9 * max(1, abs(v)),
              "Prometheus has %s = %r, the daemon said %r" % (q, got.get(q), v))
    print("PASS: promtool accepts /metrics; Prometheus %s scraped it and reads back %s" %
          (subprocess.run(["prometheus", "--version"], capture_output=True,
                          text=True).stdout.split()[2], ", ".join(
              "%s=%g" % (q, v) for q, v in want.items())))
    passed = True
finally:
    if prom:
        prom.terminate()
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
    if not passed:
        d.dump_log(40)
        plog_path = os.path.join(prom_dir, "prometheus.log")
        if os.path.exists(plog_path):
            sys.stdout.write("---- prometheus log\n" + open(plog_path).read()[-3000:])
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state, prom_dir)
