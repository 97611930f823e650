// kafkajs 2.2.4 (npm) against ringlog-broker: admin, an idempotent producer
// and offsets, as a Node.js user writes them. Consumer groups come with the
// group coordinator (issue 5); until then offsets are read through the admin.
//   RINGLOG_BROKER=build/release/broker/ringlog-broker node --test kafkajs.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, stopBroker } from './broker.mjs';
import kafkajs from 'kafkajs';

const { Kafka, logLevel, CompressionTypes } = kafkajs;

let bootstrap;

before(async () => {
  bootstrap = await startBroker('kafkajs');
});

after(stopBroker);

function client() {
  return new Kafka({ clientId: 'ringlog-kafkajs-test', brokers: [bootstrap], logLevel: logLevel.WARN });
}

test('admin creates, lists and describes topics', async () => {
  const admin = client().admin();
  await admin.connect();
  const topic = `kjs-admin-${Date.now()}`;
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }), true);
  assert.ok((await admin.listTopics()).includes(topic));
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(meta.topics[0].partitions.length, 3);
  await assert.rejects(admin.createTopics({ topics: [{ topic: 'bad name!' }] }), (err) => {
    assert.equal(err.errors[0].type, 'INVALID_TOPIC_EXCEPTION');
    return true;
  });
  await admin.deleteTopics({ topics: [topic] });
  assert.ok(!(await admin.listTopics()).includes(topic));
  await admin.disconnect();
});

test('producer sends batches that land at consecutive offsets', async () => {
  const kafka = client();
  const admin = kafka.admin();
  await admin.connect();
  const topic = `kjs-produce-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let sent = 0;
  for (let round = 0; round < 10; round += 1) {
    const messages = [];
    for (let i = 0; i < 100; i += 1) messages.push({ key: `k${i % 7}`, value: `v${round}-${i}` });
    const result = await producer.send({
      topic, messages, acks: -1, compression: round % 2 ? CompressionTypes.GZIP : CompressionTypes.None,
    });
    for (const r of result) assert.equal(r.errorCode, 0);
    sent += messages.length;
  }
  await producer.disconnect();
  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  assert.equal(total, sent);
  await admin.disconnect();
});
