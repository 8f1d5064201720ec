"""it_idle: a campaign without traffic has a plan without a forecast, so every
pace check finds it off pace; that is one state, logged once, not a line
every pace.check.ms (before the fix: a line every check, ~30 in 3 s here)."""
import re
import time

from bdclient import *  # noqa: F401,F403

broker = start_broker()
state = tmpdir("idle")
d = start_daemon(broker.bootstrap, state, "-X", "pace.check.ms=100")
try:
    wait_log(d, r"assigned budgetd\.features", 40)
    plans = Tail(broker.bootstrap, "budgetd.plans")
    p = producer(broker.bootstrap)
    produce(p, "control_command", b"idle", encode("control_command", control(
        "idle", "UPSERT_CAMPAIGN", budget=100.0, treatments=TREATMENTS)))
    p.flush(10)
    check(plans.read(1, 60, lambda m: decode("plan", m.value())["campaign_id"] == "idle"),
          "no plan for the campaign")
    plans.close()
    time.sleep(3)  # 30 pace checks without a request
    lines = re.findall(r"campaign idle: off pace \(the plan has no forecast\)", d.log_text())
    print("'off pace (the plan has no forecast)' logged %d times in 3 s of 100 ms pace checks"
          % len(lines))
    check(len(lines) <= 1, "the idle state was logged %d times" % len(lines))
    check_eq(d.stop(), 0, "exit code")
    print("PASS: an idle campaign's off-pace state logged %d time(s)" % len(lines))
finally:
    d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
