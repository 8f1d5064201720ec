#!/bin/sh
# The embedded broker speaks real Kafka: kcat lists its topics, and an
# independent client (python3-confluent-kafka) produces and consumes on it.
. "${srcdir:-.}/tests/lib/lib.sh"
need_python
start_broker broker
command -v kcat >/dev/null || { echo "SKIP: kcat missing"; exit 77; }
kcat -b "$BOOTSTRAP" -L -m 10 >"$WORK/meta.txt" 2>&1 || fail "kcat -L: $(cat "$WORK/meta.txt")"
for t in features outcomes control decisions plans models deadletters; do
	grep -q "topic \"budgetd.$t\"" "$WORK/meta.txt" || fail "kcat does not list budgetd.$t"
done
grep -q 'topic "budgetd.features" with 8 partitions' "$WORK/meta.txt" ||
	fail "budgetd.features should have 8 partitions: $(grep features "$WORK/meta.txt")"
grep -q '3 brokers' "$WORK/meta.txt" || fail "expected 3 brokers: $(head -3 "$WORK/meta.txt")"
printf 'hello-kcat\n' | kcat -b "$BOOTSTRAP" -P -t budgetd.models -p 0 || fail "kcat produce"
"$PYTHON" - "$BOOTSTRAP" <<'PY' || fail "python round trip"
import sys
from confluent_kafka import Consumer, Producer, TopicPartition
b = sys.argv[1]
p = Producer({"bootstrap.servers": b})
p.produce("budgetd.models", value=b"hello-python", partition=1)
assert p.flush(10) == 0
c = Consumer({"bootstrap.servers": b, "group.id": "it-broker", "auto.offset.reset": "earliest"})
c.assign([TopicPartition("budgetd.models", 0, 0), TopicPartition("budgetd.models", 1, 0)])
seen = set()
for _ in range(100):
    m = c.poll(0.2)
    if m is not None and not m.error():
        seen.add(m.value())
    if seen == {b"hello-kcat", b"hello-python"}:
        break
c.close()
assert seen == {b"hello-kcat", b"hello-python"}, seen
PY
echo "PASS: kcat and python3-confluent-kafka work against the embedded broker"
