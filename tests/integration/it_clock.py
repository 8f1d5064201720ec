"""it_clock: time that one producer cannot move (docs/architecture.md, Time).

The reported defect: after spend on campaign A, ONE feature event of another
campaign B dated two days ahead took A's spent_today to 0 and its plan's
remaining budget back to the whole budget, the plan dated 48 h ahead: one
global event clock decided every campaign's day.  Here, for each clock rule:

  wall        B's event is a dead letter `future` (beyond clock.max.ahead.s);
  event       the same (beyond clock.max.jump.s of B's own clock);
  event, clock.max.jump.s=0 (no bound): B's event is taken and moves B's
              clock two days, and only B's;

and in every case A's spent_today, its plan's spent and remaining budget
and its clock are what they were, and A's plan is not dated ahead (nor
after a SET_BUDGET and a RESOLVE for A dated two days ahead: commands move
no clock), and after a restart (the clocks are stored with the state).  Last,
budgetd-sim's hostile producer (--hostile-future) in event mode: every
request it dates a day ahead is a dead letter `future`, none is decided,
and the honest day is complete.

The real daemon on the embedded broker; traffic from this script (python
avro, independent of budgetd's codec).
"""
import contextlib
import json
import re
import subprocess
import time
import urllib.request

from bdclient import *  # noqa: F401,F403

DAY_MS = 86400 * 1000
A, B = "clk-a", "clk-b"


def now_ms():
    return int(time.time() * 1000)


def feature(camp, i, ts):
    user = "u%d" % (i % 97)
    return user, {"request_id": "%s-r%d" % (camp, i), "campaign_id": camp, "user_id": user,
                  "ts_ms": ts, "features": [0.1 * (i % 7)] * 12, "context": {}}


def api(port, what):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/%s" % (port, what), timeout=5) as r:
        return json.load(r)


def campaign(port, camp):
    return [c for c in api(port, "campaigns")["campaigns"] if c["id"] == camp][0]


def latest_plan(plans, camp, timeout=10, pred=lambda p: True):
    """The newest plan of @camp that arrives within @timeout (the solver
    publishes one per campaign every solve.interval.ms)."""
    got, end = None, time.time() + timeout * SLOW
    while time.time() < end:
        for m in plans.read(1, 0.5):
            p = decode("plan", m.value())
            if p["campaign_id"] == camp and pred(p):
                got = p
        if got and time.time() > end - timeout * SLOW / 2:
            break
    return got


def counters(d):
    lines = re.findall(r"counters: (.*)", d.log_text())
    check(lines, "no counters line in the daemon's log")
    dead = lines[-1].split("dead letters:", 1)[1]
    return {k: int(v) for k, v in (kv.split("=") for kv in dead.split())}


class Run:
    """A broker and a daemon on a fresh state (restart: a new daemon on it)."""

    def __init__(self, args):
        self.args = args
        self.broker = start_broker()
        self.state = tmpdir("clock")
        self.d = start_daemon(self.broker.bootstrap, self.state, *args)

    def restart(self):
        check_eq(self.d.stop(), 0, "exit code")
        self.d = start_daemon(self.broker.bootstrap, self.state, *self.args)
        return self.d


@contextlib.contextmanager
def daemon(*args):
    """A Run, killed and removed after."""
    r = Run(args)
    try:
        yield r
    except SystemExit:
        r.d.dump_log()
        raise
    finally:
        r.d.stop(signal.SIGKILL)
        r.broker.stop(signal.SIGKILL)
        cleanup(r.state)


def admin_port(d):
    wait_log(d, r"admin endpoint on .*\(port \d+\)", 20)
    return int(re.search(r"admin endpoint on .*\(port (\d+)\)", d.log_text()).group(1))


def one_run(label, args, refused):
    with daemon("-X", "pace.check.ms=60000", *args) as run:
        broker, d = run.broker, run.d
        port = admin_port(d)
        wait_log(d, r"assigned budgetd\.features", 40)
        plans = Tail(broker.bootstrap, "budgetd.plans")
        decisions = Tail(broker.bootstrap, "budgetd.decisions")
        letters = Tail(broker.bootstrap, "budgetd.deadletters")
        p = producer(broker.bootstrap)
        for camp in (A, B):
            produce(p, "control_command", camp, encode("control_command",
                    control(camp, "UPSERT_CAMPAIGN", 1000.0, TREATMENTS, 1.0)))
        p.flush(10)

        # spend on A: 200 requests, each answered by an outcome (no decision
        # left pending, so the day's spend is exactly the realised cost);
        # B gets some honest traffic too
        t0 = now_ms()
        for i in range(200):
            user, rec = feature(A, i, t0 + i)
            produce(p, "feature_event", user.encode(), encode("feature_event", rec))
        for i in range(20):
            user, rec = feature(B, i, t0 + i)
            produce(p, "feature_event", user.encode(), encode("feature_event", rec))
        p.flush(10)
        got = decisions.read(200, 60, lambda m: decode("decision", m.value())["campaign_id"] == A)
        check_eq(len(got), 200, "decisions for A")
        cost = 0.0
        for m in got:
            r = decode("decision", m.value())
            c = [0.0, 2.0, 5.0][r["treatment"]] if int(r["decision_id"][:2], 16) % 2 else 0.0
            cost += c
            produce(p, "outcome_event", r["user_id"].encode(), encode("outcome_event", {
                "decision_id": r["decision_id"], "campaign_id": A, "user_id": r["user_id"],
                "ts_ms": now_ms(), "orders": 1 if c else 0, "value": 3 * c, "cost": c,
                "features": None, "treatment": None, "propensity": None}))
        p.flush(10)
        wait_caught_up(broker.bootstrap)
        check(cost > 50, "A spent only %.2f" % cost)
        # spent = realised cost + the expected cost still to come, which
        # depends only on the statistics and A's clock: the same plan after
        # plan while neither moves
        before = latest_plan(plans, A, 10, lambda x: x["spent"] >= cost - 1e-6)
        check(before, "no plan of A with its realised cost %.2f in its spend" % cost)
        time.sleep(2 * d_refresh)  # the admin documents catch up with the solve
        a0 = campaign(port, A)
        check(abs(a0["spent_today"] - before["spent"]) < 1e-6,
              "A's spent_today %r, its plan's spent %r" % (a0["spent_today"], before["spent"]))
        b0 = campaign(port, B)

        # ONE event of B dated two days ahead; and commands for A dated two
        # days ahead (same budget): a command moves no clock either
        user, rec = feature(B, 999, now_ms() + 2 * DAY_MS)
        produce(p, "feature_event", user.encode(), encode("feature_event", rec))
        for action in ("SET_BUDGET", "RESOLVE"):
            cmd = control(A, action, 1000.0)
            cmd["ts_ms"] = now_ms() + 2 * DAY_MS
            produce(p, "control_command", A, encode("control_command", cmd))
        p.flush(10)
        wait_caught_up(broker.bootstrap)
        # two solves later: A is where it was
        time.sleep(2.5)
        after = latest_plan(plans, A, 4)
        check(after, "no plan of A after B's event")
        time.sleep(2 * d_refresh)
        a1, b1 = campaign(port, A), campaign(port, B)
        check_eq(round(a1["spent_today"], 6), round(a0["spent_today"], 6),
                 "A's spent_today after B's event")
        check_eq(round(after["spent"], 6), round(before["spent"], 6),
                 "A's plan: spent after B's event")
        check(abs(after["remaining_budget"] - before["remaining_budget"]) < 1e-6,
              "A's plan: remaining budget %.4f after B's event, %.4f before"
              % (after["remaining_budget"], before["remaining_budget"]))
        check(after["ts_ms"] <= now_ms() + 60000,
              "A's plan is dated %.1f h ahead" % ((after["ts_ms"] - now_ms()) / 3.6e6))
        check_eq(a1["clock_ms"], a0["clock_ms"], "A's clock")
        # B's event: refused, or taken and moving B's clock alone
        if refused:
            dl = letters.read(1, 20, lambda m: decode("dead_letter", m.value())["reason"] == "future")
            check_eq(len(dl), 1, "dead letters 'future' for B's event")
            print("%s: B's event refused: %s" % (label, decode("dead_letter", dl[0].value())["detail"]))
        else:
            got = decisions.read(1, 20, lambda m: decode("decision", m.value())["request_id"] == B + "-r999")
            check_eq(len(got), 1, "a decision for B's event (no bound)")
            pb = latest_plan(plans, B, 10, lambda x: x["ts_ms"] >= rec["ts_ms"])
            check(pb, "B's clock did not move to its event (no plan dated %d)" % rec["ts_ms"])
        if refused:
            check_eq(b1["clock_ms"], b0["clock_ms"], "B's clock (its event was refused)")
        else:
            check_eq(b1["clock_ms"], rec["ts_ms"], "B's clock (its event was taken)")
        # the clocks survive a restart: A's day and spend stay
        first = run.d
        d = run.restart()
        check_eq(counters(first)["future"], 1 if refused else 0, "dead letters 'future' counted")
        port = admin_port(d)
        wait_log(d, r"assigned budgetd\.features", 40)
        time.sleep(2 * d_refresh + 1)
        a2 = campaign(port, A)
        check_eq(a2["clock_ms"], a1["clock_ms"], "A's clock after a restart")
        check_eq(round(a2["spent_today"], 6), round(a1["spent_today"], 6),
                 "A's spent_today after a restart")
        check_eq(d.stop(), 0, "exit code")
        print("PASS: %s: A's spent_today %.2f, remaining %.2f and clock unchanged, also after a restart; plan dated "
              "%+.1f s from now" % (label, a1["spent_today"], after["remaining_budget"],
                                    (after["ts_ms"] - now_ms()) / 1000))


def hostile_sim():
    """budgetd-sim with a producer a day off beside the honest one."""
    with daemon(*SIM_CLOCK) as run:
        broker, d = run.broker, run.d
        # every worker must hold its partitions first: a backlog read by two
        # workers at different speeds lets the campaign's shared clock run
        # hours ahead of the slower worker's events (docs/reliability.md,
        # "Event mode and a backlog"), which this check is not about
        wait_log(d, r"ready: every worker holds its partitions", 40)
        sim = subprocess.run([SIM, "run", "--bootstrap", broker.bootstrap, "--events", "1500",
                              "--duration", "6", "--campaign", "clk-sim", "--hostile-future",
                              "0.05", "-p", "seed=4", "-q"],
                             capture_output=True, text=True, timeout=180 * SLOW)
        check(sim.returncode == 0, "simulator: " + sim.stdout[-500:] + sim.stderr[-500:])
        line = re.search(r"^demo: (.*)$", sim.stdout, re.M)
        check(line, "no demo: line")
        kv = dict(x.split("=") for x in line.group(1).split())
        check_eq(kv["decisions"], "1500", "honest decisions")
        check(int(kv["hostile_future"]) > 30, "hostile requests sent: " + kv["hostile_future"])
        check_eq(kv["hostile_decided"], "0", "hostile requests decided")
        wait_caught_up(broker.bootstrap)
        check_eq(d.stop(), 0, "exit code")
        check_eq(counters(d)["future"], int(kv["hostile_future"]), "dead letters 'future'")
        print("PASS: budgetd-sim --hostile-future: %s requests a day ahead refused, none "
              "decided; 1500 honest decisions" % kv["hostile_future"])


d_refresh = 1.0  # admin.refresh.ms (default 1000)
if __name__ == "__main__":
    runs = {"wall": ([], True), "event": (SIM_CLOCK, True),
            "event-unbounded": (SIM_CLOCK + ["-X", "clock.max.jump.s=0"], False)}
    which = sys.argv[1:] or list(runs) + ["sim"]
    for w in which:
        if w == "sim":
            hostile_sim()
        else:
            one_run(w, *runs[w])
