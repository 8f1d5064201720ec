"""it_samples: samples.max bounds the training samples kept per partition,
the newest kept, through the range deletes that drop the oldest.

A closed-loop day of 3 000 requests through the real daemon and the
embedded broker (its default partitions) with samples.max=128: every
partition that joined more outcomes than that must end with between 128
and 128 + 128/64 + 1 of them (the oldest are dropped in steps of a 64th,
so that the range deletes never nest: docs/architecture.md), and they
must be its newest, contiguous up to its last sequence number."""
import collections
import subprocess

from bdclient import *  # noqa: F401,F403

MAX = 128
broker = start_broker()
state = tmpdir("samples")
d = start_daemon(broker.bootstrap, state, *SIM_CLOCK, "-X", "samples.max=%d" % MAX)
passed = False
try:
    wait_log(d, r"ready: every worker holds its partitions", 40)
    out = subprocess.run([SIM, "run", "--bootstrap", broker.bootstrap, "--events", "3000",
                          "--duration", "8", "--campaign", "smp", "--explore", "1",
                          "--budget-frac", "10", "-p", "seed=3", "-q"],
                         capture_output=True, text=True, timeout=300 * SLOW)
    check(out.returncode == 0, "budgetd-sim: %s" % out.stderr[-500:])
    d.stop()
    seqs = collections.defaultdict(list)
    for r in dump_state(state, "samples"):
        if r[0] == "sample":
            seqs[int(r[1])].append(int(r[2]))
    check(len(seqs) > 0, "no samples stored")
    trimmed = 0
    for part, s in sorted(seqs.items()):
        s.sort()
        print("partition %d: %d samples kept, sequence %d..%d" % (part, len(s), s[0], s[-1]))
        check(s == list(range(s[0], s[-1] + 1)), "partition %d: not contiguous" % part)
        if s[-1] + 1 > MAX:
            trimmed += 1
            check(MAX <= len(s) <= MAX + MAX // 64 + 1,
                  "partition %d keeps %d samples, samples.max %d" % (part, len(s), MAX))
    check(trimmed > 0, "no partition joined more than samples.max outcomes: nothing tested")
    print("PASS: samples.max bounds every partition's samples, the newest kept")
    passed = True
finally:
    if not passed:
        d.dump_log(40)
    d.stop()
    broker.stop()
