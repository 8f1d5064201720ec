"""it_backlog: a daemon that starts behind a backlog catches up with its loop
alive.

One worker and 320 000 requests waiting (over 32 partitions: the mock broker
keeps about 5 MiB of each).  Before the fix the worker drained the backlog
batch after batch inside one pass over libuv's timers (a timer of timeout 0
re-armed in its own callback runs again at once in libuv before 1.48, libuv
#4245): no flush tick, no delivery report served, and the stall guard, seeing
a loop silent for half a session timeout (3 s here), paused reading for 2 s,
again and again (20.3 s to catch up, two pauses; 14.2 s with the fix, start-up
included).  Now the log must say nothing of a silent loop.
"""
import re
import subprocess
import time

from bdclient import *  # noqa: F401,F403

BENCH = os.path.join(BUILDDIR, "bench", "bd-bench")


def backlog(bootstrap, campaign, n):
    out = subprocess.run([BENCH, "produce", bootstrap, campaign, str(n)], capture_output=True,
                         text=True, timeout=120 * SLOW)
    check(out.returncode == 0 and "produced=%d" % n in out.stdout,
          "bd-bench produce: %s %s" % (out.stdout, out.stderr))


PARTS = ["-X", "topic.partitions=32"]
broker = start_broker(extra=PARTS)
state = tmpdir("backlog")
d = None
try:
    p = producer(broker.bootstrap)
    produce(p, "control_command", b"backlog1", encode("control_command", control(
        "backlog1", "UPSERT_CAMPAIGN", budget=1e6, treatments=TREATMENTS)))
    p.flush(10)
    plans = Tail(broker.bootstrap, "budgetd.plans", from_start=True)
    d = start_daemon(broker.bootstrap, state, *PARTS)
    seen, end = set(), time.time() + 60 * SLOW
    while "backlog1" not in seen and time.time() < end:
        seen |= {decode("plan", m.value())["campaign_id"] for m in plans.read(1, 5)}
    plans.close()
    check("backlog1" in seen, "no plan for the campaign")
    check_eq(d.stop(), 0, "exit code of the first run")

    # one worker behind 320 000 requests
    backlog(broker.bootstrap, "backlog1", 320000)
    t0 = time.time()
    d = start_daemon(broker.bootstrap, state, "-X", "workers=1", *PARTS)
    wait_caught_up(broker.bootstrap, 120)
    took = time.time() - t0
    silent = re.findall(r"loop silent for [0-9.]+ s", d.log_text())
    check_eq(d.stop(), 0, "exit code of the one-worker run")
    print("one worker caught up on 320 000 requests in %.1f s (start included); "
          "silent-loop warnings: %s" % (took, silent or "none"))
    if silent:
        d.dump_log(20)
    check(not silent, "the worker's loop was silent while it drained its backlog")
    print("PASS: a backlog of 320 000 requests drained with the loop alive")
finally:
    if d:
        d.stop(signal.SIGKILL)
    broker.stop()
    cleanup(state)
