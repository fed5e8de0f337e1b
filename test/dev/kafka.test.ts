/**
 * The suite broker (Kafka from Maven jars, KRaft single node) against kafkajs 2.2.4: the client features the
 * publisher and later features rely on. No timing assertions: waits are bounded polls with generous limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompressionTypes, type Admin } from 'kafkajs';
import { brokers, freshTopic, kafka, randomSuffix, readAll, restartBroker, untilServed } from '../support/kafka.js';

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka('kafka-test-admin').admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Polls `fn` until it returns a defined value, up to `limitMs` (not an assertion on speed, only a hang guard). */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('suite Kafka broker with kafkajs', () => {
  it('admin creates a topic with the asked partitions, reports offsets, and deletes it', async () => {
    const topic = `admin-${randomSuffix()}`;
    await withAdmin(async (admin) => {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true }), true);
      await untilServed(admin, topic); // a new partition may answer NOT_LEADER_OR_FOLLOWER for a moment
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      assert.equal(meta.topics[0]?.partitions.length, 4);
      const offsets = await admin.fetchTopicOffsets(topic);
      assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]).sort(), [[0, '0', '0'], [1, '0', '0'], [2, '0', '0'], [3, '0', '0']]);
      const cluster = await admin.describeCluster();
      assert.equal(cluster.brokers.length, 1);
      assert.equal(`${cluster.brokers[0]!.host}:${cluster.brokers[0]!.port}`, brokers()[0]);
      await admin.deleteTopics({ topics: [topic] });
      await eventually('the deleted topic to disappear', async () => ((await admin.listTopics()).includes(topic) ? undefined : true));
    });
  });

  it('round-trips keys, values and headers through produce and a consumer group', async (t) => {
    const topic = await freshTopic(t, { prefix: 'roundtrip' });
    const producer = kafka().producer();
    await producer.connect();
    t.after(() => producer.disconnect());
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}`, headers: { 'x-seq': String(i) } }));
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });

    const got = await readAll(topic, { count: 30 });
    assert.equal(got.length, 30);
    assert.deepEqual(new Set(got.map((m) => m.value?.toString())), new Set(messages.map((m) => m.value)));
    for (const m of got) {
      const i = Number(m.headers['x-seq']);
      assert.equal(m.value?.toString(), `v${i}`);
      assert.equal(m.key, `k${i % 7}`);
    }
    // Same key, same partition; order within a partition is send order.
    const byKey = new Map<string, Set<number>>();
    for (const m of got) byKey.set(m.key!, (byKey.get(m.key!) ?? new Set()).add(m.partition));
    for (const parts of byKey.values()) assert.equal(parts.size, 1);
    for (const p of new Set(got.map((m) => m.partition))) {
      const seqs = got.filter((m) => m.partition === p).map((m) => Number(m.headers['x-seq']));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    }
  });

  it('idempotent producer writes each record once with contiguous offsets', async (t) => {
    const topic = await freshTopic(t, { partitions: 1, prefix: 'idempotent' });
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    t.after(() => producer.disconnect());
    for (let batch = 0; batch < 5; batch++) {
      const res = await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `b${batch}-${i}` })) });
      assert.equal(res[0]?.errorCode, 0);
      assert.equal(res[0]?.baseOffset, String(batch * 10));
    }
    // settleMs keeps reading after the 50th record, so a duplicate would show up here.
    const got = await readAll(topic, { count: 50, settleMs: 500 });
    assert.deepEqual(got.map((m) => m.offset), Array.from({ length: 50 }, (_, i) => String(i)));
    assert.equal(new Set(got.map((m) => m.value?.toString())).size, 50);
  });

  it('transactional producer: sendOffsets commits the group offset with the output, aborts stay invisible', async (t) => {
    const input = await freshTopic(t, { partitions: 2, prefix: 'tx-in' });
    const output = await freshTopic(t, { partitions: 1, prefix: 'tx-out' });
    const groupId = `tx-group-${randomSuffix()}`;
    const producer = kafka().producer({ transactionalId: `tx-${randomSuffix()}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    t.after(() => producer.disconnect());

    const committed = await producer.transaction();
    await committed.send({ topic: output, messages: [{ key: 'a', value: 'committed' }] });
    await committed.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '7' }] }] });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'a', value: 'aborted' }] });
    await aborted.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '99' }] }] });
    await aborted.abort();

    const after = await producer.transaction();
    await after.send({ topic: output, messages: [{ key: 'a', value: 'after' }] });
    await after.commit();

    // Offsets become visible once the coordinator has written the commit markers, a moment after commit() resolves.
    const offsets = await withAdmin((admin) =>
      eventually('the transactional offset commit', async () => {
        const [res] = await admin.fetchOffsets({ groupId, topics: [input] });
        const map = Object.fromEntries((res?.partitions ?? []).map((p) => [p.partition, p.offset]));
        return map[0] === '5' && map[1] === '7' ? map : undefined;
      }),
    );
    assert.deepEqual(offsets, { 0: '5', 1: '7' }, 'the aborted transaction did not move partition 0 to 99');

    const readCommitted = await readAll(output, { count: 2 });
    assert.deepEqual(readCommitted.map((m) => m.value?.toString()), ['committed', 'after']);
    const readUncommitted = await readAll(output, { count: 3, readUncommitted: true });
    assert.deepEqual(readUncommitted.map((m) => m.value?.toString()), ['committed', 'aborted', 'after']);
  });

  it('restartBroker() brings the broker back on the same address with data intact', async (t) => {
    const topic = await freshTopic(t, { partitions: 1, prefix: 'restart' });
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'before' }] });
    await producer.disconnect();

    const handle = await restartBroker({ downMs: 500 });
    assert.equal(handle.brokers, brokers()[0], 'same host:port after restart');

    const again = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await again.connect();
    t.after(() => again.disconnect());
    await again.send({ topic, acks: -1, messages: [{ value: 'after' }] });
    const got = await readAll(topic, { count: 2 });
    assert.deepEqual(got.map((m) => m.value?.toString()), ['before', 'after']);
  });
});
