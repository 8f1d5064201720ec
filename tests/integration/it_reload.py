"""it_reload: SIGHUP re-reads budgetd's -c file and keeps the -X overrides.

Behaviour, not only log lines: plans are published at every solve tick, so
solve.interval.ms going from 60 s to 0.5 s by a reload shows as plans
arriving several times a second, and a broken file afterwards leaves them
arriving at that rate.
"""
import os
import re
import signal
import time

from bdclient import *  # noqa: F401,F403

broker = start_broker()
state = tmpdir("reload")
conf = os.path.join(state, "budgetd.conf")
camp = "it-rl"


def write_conf(*lines):
    with open(conf + ".tmp", "w") as f:
        f.write("# it_reload\n" + "".join(l + "\n" for l in lines))
    os.rename(conf + ".tmp", conf)


def ours(m):
    return decode("plan", m.value())["campaign_id"] == camp


def plans_in(tail, seconds):
    return len(tail.read(1000, seconds, ours))


write_conf("log.level = info", "solve.interval.ms = 60000", "pace.check.ms = 100",
           "workers = 2")
# -X pace.check.ms wins over the file's 100, at start and at every reload
d = Proc([BUDGETD, "-c", conf, "-X", "bootstrap.servers=" + broker.bootstrap,
          "-X", "state.dir=" + os.path.join(state, "db"), "-X", "pace.check.ms=60000"]
         + TEST_KAFKA, "budgetd")
try:
    wait_log(d, r"ready: every worker holds its partitions", 60)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    p = producer(broker.bootstrap)
    produce(p, "control_command", camp,
            encode("control_command", control(camp, "UPSERT_CAMPAIGN", 1000.0, TREATMENTS, 0.1)))
    p.flush(10)
    check(len(plans.read(1, 30, ours)) == 1, "no plan for the new campaign")
    n = plans_in(plans, 3)
    check(n <= 1, "%d plans in 3 s at solve.interval.ms=60000" % n)

    # live settings, one restart-only setting, and the -X'd one in the file
    write_conf("log.level = debug", "solve.interval.ms = 500", "pace.check.ms = 100",
               "workers = 3")
    d.p.send_signal(signal.SIGHUP)
    wait_log(d, r"reload: solve\.interval\.ms = 500 \(was 60000\)", 10)
    wait_log(d, r"reload: log\.level = debug \(was info\)", 10)
    wait_log(d, r"reload: workers changed: takes effect at restart", 10)
    wait_log(d, r"reload done: 2 settings applied, 1 take effect at restart", 10)
    check("reload: pace.check.ms" not in d.log_text(), "the -X pace.check.ms was not kept")
    n = plans_in(plans, 3)
    check(n >= 3, "only %d plans in 3 s after solve.interval.ms=500" % n)
    # debug lines now (the plan log is at debug)
    wait_log(d, r"DEBUG: campaign it-rl: plan \d+ \([^,]+, timer\)", 5)
    print("reload applied: %d plans in 3 s, debug lines on, workers change named" % n)

    # a broken file (line 3): nothing changes, the warning says file:line
    write_conf("log.level = info", "solve.interval.ms = soon", "workers = 2")
    d.p.send_signal(signal.SIGHUP)
    wait_log(d, r"WARN: reload failed: %s:3: solve\.interval\.ms: 'soon' is not an integer"
             r".*; the running configuration stays" % re.escape(conf), 10)
    n = plans_in(plans, 3)
    check(n >= 3, "only %d plans in 3 s after a broken reload" % n)
    check(d.p.poll() is None, "daemon stopped after a broken reload")
    check("reload: log.level = info" not in d.log_text(), "a broken file applied a setting")
    print("broken file: warning names %s:3, %d plans in 3 s (old values kept)"
          % (os.path.basename(conf), n))
    plans.close()
    rc = d.stop()
    check_eq(rc, 0, "exit code")
    print("PASS")
except SystemExit:
    raise
finally:
    if d.p.poll() is None:
        d.dump_log()
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
