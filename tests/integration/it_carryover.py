"""it_carryover: a RETRAIN in the middle of a day whose outcomes take hours
to come (simulated mean delay 4 h).  When the new version is promoted,
every decision still waiting for its outcome must count in the new
version's statistics, and its outcome must land there when it comes:

- the traffic forecast (the plans' expected_requests) does not drop when
  the new version takes over (before the fix it fell by the share of the
  day's decisions still pending, since the rebuild saw joined samples only);
- at the end of the day the cells of the version the solver reads hold
  every decision of the day and every outcome, exactly.

Two runs, one after the other, each in a process of its own: first without
kills, then with IT_CARRY_KILLS=1 (IT_CARRY_KILLS=0 or 1 runs one alone).
With IT_CARRY_KILLS=1 the daemon is also SIGKILLed as a training run
starts, as a trained version's carry-over begins and 1.5 s after the next
start has its partitions, and restarted each time: the counts must still
be exact."""
import os
import re
import subprocess
import sys
import time

from bdclient import *  # noqa: F401,F403

if "IT_CARRY_KILLS" not in os.environ:
    for kills in ("0", "1"):
        rc = subprocess.call([sys.executable, os.path.abspath(__file__)],
                             env=dict(os.environ, IT_CARRY_KILLS=kills))
        if rc != 0:
            sys.exit(rc)
    sys.exit(0)

KILLS = os.environ.get("IT_CARRY_KILLS", "0") == "1"
# with kills the promotion comes after two restarts (~6 s each: the instance
# lock's group join, then the workers'): a longer day, the retrain earlier,
# so that decisions still wait for their outcomes when it comes (on a
# loaded host a 24 s day had ended by then, and the test tested nothing)
EVENTS, DURATION, RETRAIN_AT = 4000, 40.0 if KILLS else 24.0, 0.3 if KILLS else 0.6
broker = start_broker()
state = tmpdir("carry")
args = (*SIM_CLOCK, "-X", "train.min.samples=100", "-X", "train.epochs=2", "-X", "train.interval.s=0",
        "-X", "train.min.agreement=0.3", "-X", "clusters=4", "-X", "train.min.cluster.users=20",
        "-X", "solve.interval.ms=200",
        "-X", "pace.check.ms=100")
d = start_daemon(broker.bootstrap, state, *args)
sim = None
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    sim = subprocess.Popen([SIM, "run", "--bootstrap", broker.bootstrap, "--events", str(EVENTS),
                            "--duration", str(DURATION), "--campaign", "carry", "--explore", "1",
                            "--budget-frac", "10", "-p", "mean_delay_s=14400", "-p", "seed=5",
                            "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []  # (model_version, expected_requests, ts_ms) of every plan, in order

    def drain(secs):
        end = time.time() + secs
        while time.time() < end:
            for m in plans.read(1000, 0.2):
                r = decode("plan", m.value())
                if r["campaign_id"] == "carry" and r["solver"] not in ("paused",):
                    seen.append((r["model_version"], r["expected_requests"], r["ts_ms"]))

    drain(DURATION * RETRAIN_AT)
    p = producer(broker.bootstrap)
    procs = [d]

    def retrain(proc, until="promoted"):
        """RETRAIN until a version is trained or promoted (a daemon that
        lags may not have joined enough samples yet: tried again a second
        later); its number."""
        for _ in range(60):
            mark = len(proc.log_text())
            produce(p, "control_command", b"carry",
                    encode("control_command", control("carry", "RETRAIN")))
            p.flush(10)
            end, m = time.time() + 120 * SLOW, None
            while m is None and time.time() < end:
                m = re.search(r"model ([0-9]+) (%s|not promoted)" % until,
                              proc.log_text()[mark:])
                time.sleep(0.02)
            if m and m.group(2) == until:
                return int(m.group(1))
            drain(1)
        proc.dump_log()
        fail("no version " + until)

    if KILLS:
        # SIGKILLs around the retrain, each followed by a restart: as a
        # training run starts (it lands in training, the statistics rebuild,
        # the carry-over or just after a promotion: whichever), as the next
        # trained version's carry-over begins (after a restart the consumer
        # group is still settling, so the swap waits for partitions and the
        # kill usually lands in the carry-over), and 1.5 s after the next
        # start has its partitions
        produce(p, "control_command", b"carry",
                encode("control_command", control("carry", "RETRAIN")))
        p.flush(10)
        wait_log(d, r"training model", 30)
        d.stop(signal.SIGKILL)
        hit = re.search(r"model [0-9]+ (promoted|not promoted)", d.log_text())
        d = start_daemon(broker.bootstrap, state, *args)
        procs.append(d)
        wait_log(d, r"assigned budgetd\.features", 40)
        version = retrain(d, "trained")
        d.stop(signal.SIGKILL)
        mid = not re.search(r"model %d promoted" % version, d.log_text())
        d = start_daemon(broker.bootstrap, state, *args)
        procs.append(d)
        wait_log(d, r"model %d restored" % version, 40)
        # (not while it joins the consumer group: the mock cluster can then
        # keep the next start waiting for the dead member for minutes)
        wait_log(d, r"assigned budgetd\.features", 60)
        time.sleep(1.5)
        d.stop(signal.SIGKILL)
        d = start_daemon(broker.bootstrap, state, *args)
        procs.append(d)
        wait_log(d, r"model %d restored" % version, 40)
        print("first kill landed %s; second %s of model %d" %
              ("after the run ended (%s)" % hit.group(1) if hit else "during the run",
               "in the carry-over" if mid else "after the promotion", version))
    else:
        version = retrain(d)
    drain(2)
    out, err = sim.communicate(timeout=240)
    check(sim.returncode == 0, "simulator: " + out[-400:] + err[-400:])
    drain(1)
    plans.close()
    wait_caught_up(broker.bootstrap)
    check_eq(d.stop(), 0, "exit code")

    cells = [r for r in dump_state(state) if r[0] == "cell" and r[2] == "carry"]
    dec = sum(float(r[7]) for r in cells if r[3] == str(version) and r[6] != "0")
    outc = sum(float(r[8]) for r in cells if r[3] == str(version) and r[6] != "0")
    print("model %d's cells: %.0f decisions, %.0f outcomes of %d requests" %
          (version, dec, outc, EVENTS))
    # the carry-over must have had decisions to carry: else this tested nothing
    waiting = sum(int(n) for proc in procs for n in re.findall(
        r"carried over to model %d: .*?, ([0-9]+) decisions waiting" % version, proc.log_text()))
    print("decisions waiting for outcomes when model %d was carried over: %d" % (version, waiting))
    check(waiting > 0, "no decision was waiting for its outcome at the carry-over: the "
          "promotion came too late in the day to test anything")
    # the forecast across the promotion: the last plan of the old version
    # against the first plans of the new one
    last_old = [s for s in seen if s[0] < version]
    first_new = [s for s in seen if s[0] == version]
    check(last_old and first_new, "plans of both versions: %r" % sorted({s[0] for s in seen}))
    f0, f1 = last_old[-1][1], first_new[0][1]
    print("forecast of the rest of the day: %.0f requests (model %d's last plan), %.0f "
          "(model %d's first, %.0f simulated minutes later)"
          % (f0, last_old[-1][0], f1, version, (first_new[0][2] - last_old[-1][2]) / 60000))
    if not KILLS:  # (a restart leaves a gap of minutes of simulated traffic)
        # The fault this guards against dropped the forecast by the share of
        # the day's decisions still waiting (waiting / requests decided so
        # far, about EVENTS - f0: 40-50% here); under ASan on a loaded host
        # the consumer's lag moves the forecast between two plans by up to
        # 13% either way (a fixed +-10% failed once in CI, once in an ASan
        # run beside it), so the bound is
        # half the fault's drop, and a rise is not the fault
        drop = max(0.5 * waiting / max(EVENTS - f0, 1), 0.10)
        check(1 - drop < f1 / f0 < 1.25,
              "the forecast jumped at the promotion: %.0f -> %.0f requests (a drop of %.0f%% "
              "allowed)" % (f0, f1, 100 * drop))

    check_eq(dec, float(EVENTS), "decisions in the cells of model %d" % version)
    check_eq(outc, float(EVENTS), "outcomes in the cells of model %d" % version)
    if KILLS:  # (after a restart the first solves run on the host's clock)
        print("PASS: RETRAIN mid-day with 3 SIGKILLs: the new version's cells hold all %d "
              "decisions and outcomes" % EVENTS)
    else:
        print("PASS: RETRAIN mid-day: the new version's cells hold all %d decisions and "
              "outcomes; forecast %.0f -> %.0f at the promotion" % (EVENTS, f0, f1))
finally:
    if sim and sim.poll() is None:
        sim.kill()
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
