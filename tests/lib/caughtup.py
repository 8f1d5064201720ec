"""Waits until budgetd's consumer group has committed every input offset
(features and outcomes) up to the high watermark: everything produced so far
has been applied to the state.  Usage: caughtup.py BOOTSTRAP [GROUP] [SECONDS]"""
import sys
import time

from confluent_kafka import Consumer, TopicPartition

bootstrap = sys.argv[1]
group = sys.argv[2] if len(sys.argv) > 2 else "budgetd"
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
end = time.time() + timeout
lag = None
while time.time() < end:
    lag = 0
    for topic in ("budgetd.features", "budgetd.outcomes"):
        parts = [TopicPartition(topic, p) for p in c.list_topics(topic, timeout=10).topics[topic].partitions]
        for tp in c.committed(parts, timeout=10):
            lo, hi = c.get_watermark_offsets(tp, timeout=10)
            done = tp.offset if tp.offset >= 0 else lo
            lag += max(0, hi - done)
    if lag == 0:
        c.close()
        sys.exit(0)
    time.sleep(0.2)
c.close()
print("budgetd still %d messages behind after %.0f s" % (lag, timeout))
sys.exit(1)
