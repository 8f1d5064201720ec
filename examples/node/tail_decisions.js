#!/usr/bin/env node
// Print budgetd's latest decisions as JSON lines: a coupon issuer's reader.
//
//   node examples/node/tail_decisions.js --bootstrap HOST:PORT [--last N] [--follow 1]
//
// npm ci --prefix examples/node (kafkajs and avsc from the npm registry).
//
// Each message on budgetd.decisions is Avro binary in one of budgetd's two
// framings (docs/messages.md): Confluent's (0x00, a 4-byte big-endian schema
// id, the body) or Avro single-object (0xC3 0x01, an 8-byte fingerprint, the
// body), decoded with schemas/decision.avsc.  A message of another schema id
// is reported, not guessed at.
'use strict';
const fs = require('fs');
const path = require('path');
const avro = require('avsc');
const { Kafka, logLevel } = require('kafkajs');

function args(argv) {
  const a = { topic: 'budgetd.decisions', 'schema-id': '4', last: '5', follow: '0' };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a || k === 'bootstrap') || i + 1 >= argv.length) {
      console.error('usage: tail_decisions.js --bootstrap HOST:PORT [--topic T] ' +
                    '[--schema-id N] [--last N] [--follow 1]');
      process.exit(2);
    }
    a[k] = argv[i + 1];
  }
  if (!a.bootstrap) {
    console.error('--bootstrap is required');
    process.exit(2);
  }
  return a;
}

// The Avro body of one message, or null (the reason on stderr).
function bodyOf(buf, schemaId) {
  if (buf.length >= 5 && buf[0] === 0x00) {
    const sid = buf.readUInt32BE(1);
    if (sid !== schemaId) {
      console.error(`skipped: schema id ${sid}, not ${schemaId} (schema.id.decision)`);
      return null;
    }
    return buf.subarray(5);
  }
  if (buf.length >= 10 && buf[0] === 0xc3 && buf[1] === 0x01)
    return buf.subarray(10); // the fingerprint names the schema; we read decisions only
  console.error(`skipped: unknown framing ${buf.subarray(0, 2).toString('hex')}`);
  return null;
}

async function main() {
  const a = args(process.argv);
  const type = avro.Type.forSchema(JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', 'schemas', 'decision.avsc'))));
  const kafka = new Kafka({ clientId: 'budgetd-example', brokers: a.bootstrap.split(','),
                            logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(a.topic);
  await admin.disconnect();
  const start = {};
  let left = 0;
  for (const p of ends) {
    const hi = Number(p.high), lo = Number(p.low);
    start[p.partition] = Math.max(lo, hi - Number(a.last));
    left += hi - start[p.partition];
  }
  const consumer = kafka.consumer({ groupId: `tail-decisions-${process.pid}`,
                                    sessionTimeout: 6000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: a.topic, fromBeginning: true });
  const follow = a.follow !== '0';
  let idle = null;
  const done = new Promise((resolve) => {
    // without --follow: done once the decisions there were are read, or 3 s
    // after the last message (the timer starts when the group is joined)
    const arm = () => {
      clearTimeout(idle);
      if (!follow) idle = setTimeout(resolve, 3000);
    };
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const p of ends) consumer.seek({ topic: a.topic, partition: p.partition,
                                            offset: String(start[p.partition]) });
      arm();
    });
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (Number(message.offset) < start[partition]) return;
        arm();
        left--;
        const body = bodyOf(message.value, Number(a['schema-id']));
        if (body) {
          const rec = type.fromBuffer(body);
          rec.partition = partition;
          rec.offset = Number(message.offset);
          console.log(JSON.stringify(rec));
        }
        if (left <= 0 && !follow) resolve();
      },
    });
  });
  if (left > 0 || follow) await done;
  clearTimeout(idle);
  await consumer.disconnect();
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
