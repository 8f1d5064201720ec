#!/usr/bin/python3
"""Send feature or outcome events to budgetd from JSON lines on stdin.

    /usr/bin/python3 examples/python/produce_events.py --bootstrap HOST:PORT [--kind feature|outcome] < events.jsonl

Debian: apt install python3-confluent-kafka python3-avro (run it with
/usr/bin/python3: a pyenv or venv python does not see Debian's modules).

One JSON object per line, with the fields of schemas/feature_event.avsc or
schemas/outcome_event.avsc, e.g.

    {"request_id": "r1", "campaign_id": "spring", "user_id": "u42", "ts_ms": 1767225600000,
     "features": [0.1, 0.2, ...]}                       (features.dim floats)
    {"decision_id": "34f3ca7baddd4bf4", "campaign_id": "spring", "user_id": "u42",
     "ts_ms": 1767226000000, "orders": 1, "value": 35.5, "cost": 4.0}

What a producer must get right (docs/messages.md, docs/architecture.md):
- the Kafka key is the user id, and the partitioner is librdkafka's
  murmur2_random (the Java client's default), so that a user's features and
  outcomes land on the same partition number of their two topics: the
  worker that decided a request joins its outcome;
- the value is Confluent's framing: 0x00, the schema id (schema.id.feature
  1, schema.id.outcome 2 by default) as 4 big-endian bytes, the Avro body;
- every field is present: Apache's Avro writer fills the schema's defaults
  (context {}, and the historical fields null) for the ones left out.

With a Schema Registry (budgetd's schema.registry.url): --schema-registry
URL [--registry-user USER:PASS] [--registry-ca FILE] frames each event with
the id of budgetd's schema under the subject TOPIC-value, registered there
by Confluent's Kafka Avro serializer (needs python3-requests too).
"""
import argparse
import io
import json
import os
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import Producer

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = {  # kind: (schema file, topic, default schema id)
    "feature": ("feature_event.avsc", "budgetd.features", 1),
    "outcome": ("outcome_event.avsc", "budgetd.outcomes", 2),
}


def registry_serializer(a):
    """Confluent's Kafka Avro serializer on the registry at a.schema_registry."""
    from confluent_kafka.avro import CachedSchemaRegistryClient
    from confluent_kafka.avro.serializer.message_serializer import MessageSerializer
    conf = {"url": a.schema_registry}
    if a.registry_user:
        conf.update({"basic.auth.credentials.source": "USER_INFO",
                     "basic.auth.user.info": a.registry_user})
    if a.registry_ca:
        conf["ssl.ca.location"] = a.registry_ca
    return MessageSerializer(CachedSchemaRegistryClient(conf))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True, help="Kafka brokers, HOST:PORT[,...]")
    ap.add_argument("--kind", choices=sorted(KINDS), default="feature")
    ap.add_argument("--topic", help="default budgetd.features or budgetd.outcomes")
    ap.add_argument("--schema-id", type=int, help="default 1 (features) or 2 (outcomes)")
    ap.add_argument("--print-partitions", action="store_true",
                    help="print KEY PARTITION OFFSET of every message delivered")
    ap.add_argument("--schema-registry", metavar="URL",
                    help="the registry's ids instead of --schema-id")
    ap.add_argument("--registry-user", metavar="USER:PASS", help="its basic authentication")
    ap.add_argument("--registry-ca", metavar="FILE", help="the CA of its HTTPS certificate")
    a = ap.parse_args()
    sfile, topic, sid = KINDS[a.kind]
    topic = a.topic or topic
    sid = a.schema_id if a.schema_id is not None else sid
    schema = avro.schema.parse(open(os.path.join(HERE, "..", "..", "schemas", sfile)).read())
    defaults = {f.name: f.default for f in schema.fields if f.has_default}
    writer = avro.io.DatumWriter(schema)
    serde = registry_serializer(a) if a.schema_registry else None
    p = Producer({"bootstrap.servers": a.bootstrap, "partitioner": "murmur2_random",
                  "enable.idempotence": True, "linger.ms": 5})
    failed, placed = [], []
    sent = 0

    def delivered(err, m):
        if err:
            failed.append(str(err))
        else:
            placed.append((m.key().decode(), m.partition(), m.offset()))

    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        rec = dict(defaults)
        rec.update(json.loads(line))
        buf = io.BytesIO()
        try:
            if serde:  # 0x00, the registry's id, the body
                value = serde.encode_record_with_schema(topic, schema, rec)
            else:
                writer.write(rec, avro.io.BinaryEncoder(buf))
                value = b"\x00" + struct.pack(">I", sid) + buf.getvalue()
        except Exception as e:  # a record the schema refuses: say which line
            sys.exit("line %d: not a %s event: %s" % (n, a.kind, e))
        p.produce(topic, key=rec["user_id"].encode(), value=value, on_delivery=delivered)
        p.poll(0)
        sent += 1
    left = p.flush(30)
    if failed or left:
        sys.exit("%d of %d not delivered: %s" % (len(failed) + left, sent, "; ".join(failed[:3])))
    for key, part, off in placed if a.print_partitions else []:
        print("%s %d %d" % (key, part, off))
    print("sent %d %s events to %s" % (sent, a.kind, topic), file=sys.stderr)


if __name__ == "__main__":
    main()
