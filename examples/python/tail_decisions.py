#!/usr/bin/python3
"""Print budgetd's latest decisions as JSON lines: a coupon issuer's reader.

    /usr/bin/python3 examples/python/tail_decisions.py --bootstrap HOST:PORT [--last N] [--follow]

Debian: apt install python3-confluent-kafka python3-avro (run it with
/usr/bin/python3: a pyenv or venv python does not see Debian's modules).

Each message on budgetd.decisions is Avro binary in one of budgetd's two
framings (docs/messages.md): Confluent's (0x00, a 4-byte big-endian schema
id, the body) or Avro single-object (0xC3 0x01, an 8-byte fingerprint, the
body). The body is decoded with schemas/decision.avsc. A message of another
schema id is reported, not guessed at.

With a Schema Registry (budgetd's schema.registry.url): --schema-registry
URL [--registry-user USER:PASS] [--registry-ca FILE] decodes each decision
by its schema id, fetched from the registry by Confluent's Kafka Avro
deserializer (needs python3-requests too).
"""
import argparse
import io
import json
import os
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka import Consumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "..", "schemas", "decision.avsc")


def body_of(data, schema_id):
    """The Avro body of one message, or None (with the reason on stderr)."""
    if data[:1] == b"\x00" and len(data) >= 5:
        sid = struct.unpack(">I", data[1:5])[0]
        if sid != schema_id:
            print("skipped: schema id %d, not %d (schema.id.decision)" % (sid, schema_id),
                  file=sys.stderr)
            return None
        return data[5:]
    if data[:2] == b"\xc3\x01" and len(data) >= 10:
        return data[10:]  # the fingerprint names the schema; we read decisions only
    print("skipped: unknown framing %r" % data[:2], file=sys.stderr)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True, help="Kafka brokers, HOST:PORT[,...]")
    ap.add_argument("--topic", default="budgetd.decisions")
    ap.add_argument("--schema-id", type=int, default=4, help="schema.id.decision (default 4)")
    ap.add_argument("--last", type=int, default=5, help="decisions per partition, from the end")
    ap.add_argument("--follow", action="store_true", help="then wait for new ones (^C ends)")
    ap.add_argument("--schema-registry", metavar="URL", help="decode by the registry's ids")
    ap.add_argument("--registry-user", metavar="USER:PASS", help="its basic authentication")
    ap.add_argument("--registry-ca", metavar="FILE", help="the CA of its HTTPS certificate")
    a = ap.parse_args()
    serde = None
    if a.schema_registry:
        from confluent_kafka.avro import CachedSchemaRegistryClient
        from confluent_kafka.avro.serializer.message_serializer import MessageSerializer
        conf = {"url": a.schema_registry}
        if a.registry_user:
            conf.update({"basic.auth.credentials.source": "USER_INFO",
                         "basic.auth.user.info": a.registry_user})
        if a.registry_ca:
            conf["ssl.ca.location"] = a.registry_ca
        serde = MessageSerializer(CachedSchemaRegistryClient(conf))
    reader = avro.io.DatumReader(avro.schema.parse(open(SCHEMA).read()))
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "tail-decisions",
                  "enable.auto.commit": False})
    meta = c.list_topics(a.topic, timeout=10).topics.get(a.topic)
    if meta is None or meta.error is not None or not meta.partitions:
        sys.exit("no topic %s at %s" % (a.topic, a.bootstrap))
    parts, left = [], 0
    for p in sorted(meta.partitions):
        lo, hi = c.get_watermark_offsets(TopicPartition(a.topic, p), timeout=10)
        start = max(lo, hi - a.last)
        parts.append(TopicPartition(a.topic, p, start))
        left += hi - start
    c.assign(parts)
    try:
        while left > 0 or a.follow:
            m = c.poll(1.0)
            if m is None:
                if not a.follow:
                    break  # nothing more came within a second
                continue
            if m.error():
                print("error: %s" % m.error(), file=sys.stderr)
                continue
            left -= 1
            if serde:
                print(json.dumps(serde.decode_message(m.value()), sort_keys=True), flush=True)
                continue
            body = body_of(m.value(), a.schema_id)
            if body is None:
                continue
            rec = reader.read(avro.io.BinaryDecoder(io.BytesIO(body)))
            print(json.dumps(rec, sort_keys=True), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        c.close()


if __name__ == "__main__":
    main()
