#!/usr/bin/env node
// Send feature or outcome events to budgetd from JSON lines on stdin.
//
//   node examples/node/produce_events.js --bootstrap HOST:PORT [--kind feature|outcome] < events.jsonl
//
// npm ci --prefix examples/node (kafkajs and avsc from the npm registry).
//
// One JSON object per line, with the fields of schemas/feature_event.avsc or
// schemas/outcome_event.avsc (examples/python/produce_events.py shows two).
// What a producer must get right (docs/messages.md):
// - the Kafka key is the user id, partitioned by murmur2 as the Java client
//   does (kafkajs' default partitioner), so a user's features and outcomes
//   land on the same partition number of their two topics;
// - the value is Confluent's framing: 0x00, the schema id (schema.id.feature
//   1, schema.id.outcome 2 by default) as 4 big-endian bytes, the Avro body;
// - every field is present: fields the line leaves out get the schema's
//   defaults here.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const avro = require('avsc');
const { Kafka, Partitioners, logLevel } = require('kafkajs');

const KINDS = { // kind: schema file, topic, default schema id
  feature: ['feature_event.avsc', 'budgetd.features', 1],
  outcome: ['outcome_event.avsc', 'budgetd.outcomes', 2],
};

function args(argv) {
  const a = { kind: 'feature' };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!['bootstrap', 'kind', 'topic', 'schema-id', 'print-partitions'].includes(k) ||
        i + 1 >= argv.length) {
      console.error('usage: produce_events.js --bootstrap HOST:PORT [--kind feature|outcome] ' +
                    '[--topic T] [--schema-id N] [--print-partitions 1] < events.jsonl');
      process.exit(2);
    }
    a[k] = argv[i + 1];
  }
  if (!a.bootstrap || !KINDS[a.kind]) {
    console.error('--bootstrap is required; --kind is feature or outcome');
    process.exit(2);
  }
  return a;
}

async function main() {
  const a = args(process.argv);
  const [file, defTopic, defId] = KINDS[a.kind];
  const topic = a.topic || defTopic;
  const sid = a['schema-id'] !== undefined ? Number(a['schema-id']) : defId;
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'schemas', file)));
  const type = avro.Type.forSchema(schema);
  const defaults = {};
  for (const f of schema.fields) if ('default' in f) defaults[f.name] = f.default;

  const messages = [];
  const rl = readline.createInterface({ input: process.stdin });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    const rec = Object.assign({}, defaults, JSON.parse(line));
    let body;
    try {
      body = type.toBuffer(rec);
    } catch (e) {
      console.error(`line ${n}: not a ${a.kind} event: ${e.message}`);
      process.exit(1);
    }
    const head = Buffer.alloc(5);
    head.writeUInt32BE(sid, 1);
    messages.push({ key: String(rec.user_id), value: Buffer.concat([head, body]) });
  }
  const kafka = new Kafka({ clientId: 'budgetd-example', brokers: a.bootstrap.split(','),
                            logLevel: logLevel.WARN });
  // kafkajs' default partitioner is the Java client's murmur2 (what budgetd's
  // own producers use): named here, which also silences its v2 warning
  const producer = kafka.producer({ allowAutoTopicCreation: false,
                                    createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  if (a['print-partitions']) { // one send each: KEY PARTITION OFFSET of every message
    for (const m of messages) {
      const [r] = await producer.send({ topic, messages: [m], acks: -1 });
      console.log(`${m.key} ${r.partition} ${r.baseOffset}`);
    }
  } else {
    await producer.send({ topic, messages, acks: -1 });
  }
  await producer.disconnect();
  console.error(`sent ${messages.length} ${a.kind} events to ${topic}`);
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
