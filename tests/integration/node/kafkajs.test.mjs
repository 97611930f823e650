// kafkajs 2.2.4 (npm) against ringlog-broker: admin, an idempotent producer
// and offsets, and a consumer group, as a Node.js user writes them.
//   RINGLOG_BROKER=build/release/broker/ringlog-broker node --test kafkajs.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, stopBroker } from './broker.mjs';
import kafkajs from 'kafkajs';

const { Kafka, logLevel, CompressionTypes } = kafkajs;

let bootstrap;

before(async () => {
  bootstrap = await startBroker('kafkajs', ['group.initial.rebalance.delay.ms=0']);
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

test('consumer group run({eachMessage}) reads every message and commits', async () => {
  const kafka = client();
  const admin = kafka.admin();
  await admin.connect();
  const topic = `kjs-group-${Date.now()}`;
  const groupId = `kjs-g-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 90; i += 1) messages.push({ value: `m${i}`, partition: i % 3 });
  await producer.send({ topic, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId, sessionTimeout: 30000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.size} of 90 messages`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value.toString());
        if (seen.size === 90) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();  // commits the resolved offsets, then leaves the group
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const total = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
  assert.equal(total, 90);
  const described = await admin.describeGroups([groupId]);
  assert.equal(described.groups[0].state, 'Empty');
  await admin.disconnect();
});
