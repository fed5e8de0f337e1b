/**
 * The Kafka port's contract (src/kafka/port.ts), run against the real broker once per adapter: what the loader,
 * derive, tail and the publisher rely on. Every adapter must pass the same body.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKafkaClient, kafkaConnectionSchema } from '../../src/kafka/client.js';
import { KafkaFencedError, KafkaUnavailableError } from '../../src/errors.js';
import { partitionForKey } from '../../src/kafka/murmur2.js';
import { KAFKA_CLIENTS, type BatchEnd, type EachBatchContext, type IncomingRecord, type KafkaClient, type KafkaClientName, type KafkaConsumer } from '../../src/kafka/port.js';
import { freshTopic, kafkaClient, randomSuffix, type Cleanup } from '../support/kafka.js';

const T = { timeout: 60_000 };

async function until(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Got = IncomingRecord & { topic: string; partition: number };

interface Reader {
  consumer: KafkaConsumer;
  got: Got[];
  ends: BatchEnd[];
  batches: Array<{ partition: number; fetchedOffset: string; first?: string }>;
  joins: Array<Record<string, number[]>>;
  stop(): Promise<void>;
}

/** A port consumer on `topic` that keeps every record (resolving each) and every batch end; stopped by the test's cleanup. */
async function reader(
  t: Cleanup,
  kafka: KafkaClient,
  topic: string,
  opts: { groupId?: string; readUncommitted?: boolean; onJoin?: (c: KafkaConsumer, a: Record<string, number[]>) => void; eachBatch?: (p: EachBatchContext, r: Reader) => Promise<boolean | void> } = {},
): Promise<Reader> {
  const consumer = kafka.consumer({ groupId: opts.groupId ?? `contract-${randomSuffix()}`, readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 300 });
  const r: Reader = {
    consumer, got: [], ends: [], batches: [], joins: [],
    stop: async () => {
      await consumer.disconnect().catch(() => undefined);
    },
  };
  consumer.onGroupJoin((a) => {
    r.joins.push(a);
    opts.onJoin?.(consumer, a);
  });
  consumer.onBatchEnd((e) => r.ends.push(e));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async (p) => {
      r.batches.push({ partition: p.batch.partition, fetchedOffset: p.batch.fetchedOffset, first: p.batch.messages[0]?.offset });
      if (opts.eachBatch && (await opts.eachBatch(p, r)) === true) return;
      for (const m of p.batch.messages) {
        if (p.isStale()) return;
        r.got.push({ ...m, topic: p.batch.topic, partition: p.batch.partition });
        p.resolveOffset(m.offset);
      }
    },
  });
  t.after(() => r.stop());
  return r;
}

const values = (got: Got[]) => got.map((m) => m.value?.toString() ?? null).sort();
const settle = (ms = 500) => new Promise((r) => setTimeout(r, ms));

for (const client of KAFKA_CLIENTS) {
  describe(client, { concurrency: false }, () => {
    const kafka = kafkaClient(`contract-${client}`, client);

    it('is the adapter the connection names', () => {
      assert.equal(kafka.name, client);
      if (!process.env.MULTIDISPATCH_KAFKA_CLIENT) assert.equal(createKafkaClient(kafkaConnectionSchema.parse({ brokers: ['127.0.0.1:9'] }), client).name, client, 'the fallback, when nothing overrides it');
      const other: KafkaClientName = client === 'kafkajs' ? 'platformatic' : 'kafkajs';
      assert.equal(createKafkaClient(kafkaConnectionSchema.parse({ brokers: ['127.0.0.1:9'], client }), other).name, client, 'conn.client wins over the fallback');
    });

    it('acks the base offset of each partition of a request; headers (Buffers, strings, empty, non-ASCII) round-trip', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 3 });
      const producer = kafka.producer();
      await producer.connect();
      t.after(() => producer.disconnect());
      const batch = (n: number, partition: number, tag: string) => Array.from({ length: n }, (_, i) => ({ value: `${tag}-${partition}-${i}`, partition }));
      const first = await producer.sendBatch({ topicMessages: [{ topic, messages: [...batch(2, 0, 'a'), ...batch(3, 1, 'a')] }] });
      const second = await producer.send({ topic, messages: [...batch(1, 0, 'b'), ...batch(2, 1, 'b'), ...batch(4, 2, 'b')] });
      const base = (acks: typeof first) => Object.fromEntries(acks.map((a) => [`${a.topicName}/${a.partition}`, a.baseOffset]));
      assert.deepEqual(base(first), { [`${topic}/0`]: '0', [`${topic}/1`]: '0' });
      assert.deepEqual(base(second), { [`${topic}/0`]: '2', [`${topic}/1`]: '3', [`${topic}/2`]: '0' });

      const bin = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      await producer.send({ topic, messages: [{ key: 'k', value: 'with-headers', partition: 2, headers: { bin, text: 'héllo wörld ✓ 日本', empty: '', emptyBuf: Buffer.alloc(0), 'ключ': 'v' } }] });
      const r = await reader(t, kafka, topic);
      await until('13 records', () => r.got.length >= 13);
      const h = r.got.find((m) => m.value?.toString() === 'with-headers')!;
      assert.equal(h.partition, 2);
      assert.equal(h.offset, '4');
      assert.equal(h.key?.toString(), 'k');
      assert.deepEqual(h.headers.bin, bin);
      assert.equal((h.headers.text as Buffer).toString('utf8'), 'héllo wörld ✓ 日本');
      assert.equal((h.headers.empty as Buffer).length, 0);
      assert.equal((h.headers.emptyBuf as Buffer).length, 0);
      assert.equal((h.headers['ключ'] as Buffer).toString(), 'v');
      assert.deepEqual(r.got.filter((m) => m.partition === 1).map((m) => m.offset), ['0', '1', '2', '3', '4']);
      assert.ok(r.got.every((m) => /^\d{13}$/.test(m.timestamp)), 'timestamps are epoch ms strings');
    });

    it("puts a keyed record on the partition Java's partitioner picks; the idempotent producer refuses acks other than -1", T, async (t) => {
      const topic = await freshTopic(t, { partitions: 6 });
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      t.after(() => producer.disconnect());
      const keys = Array.from({ length: 40 }, (_, i) => `order-${i * 7919}`);
      await producer.send({ topic, messages: keys.map((key) => ({ key, value: key, timestamp: '1700000000000' })) });
      const r = await reader(t, kafka, topic);
      await until('40 records', () => r.got.length >= 40);
      for (const m of r.got) assert.equal(m.partition, partitionForKey(m.key!.toString(), 6), `partition of ${m.key}`);
      assert.equal(new Set(r.got.map((m) => m.partition)).size > 1, true);
      assert.equal(r.got[0]!.timestamp, '1700000000000');
      await assert.rejects(producer.send({ topic, acks: 1, messages: [{ value: 'x' }] }));
    });

    it('transactions: commit shows records to read_committed, abort hides them, read_uncommitted sees both', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 2 });
      const producer = kafka.producer({ transactionalId: `contract-tx-${randomSuffix()}` });
      await producer.connect();
      t.after(() => producer.disconnect());
      const tx1 = await producer.transaction();
      assert.equal(tx1.isActive(), true);
      await tx1.sendBatch({ topicMessages: [{ topic, messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 1 }, { value: 'c3', partition: 0 }] }] });
      await tx1.commit();
      assert.equal(tx1.isActive(), false);
      const tx2 = await producer.transaction();
      await tx2.send({ topic, messages: [{ value: 'a1', partition: 0 }, { value: 'a2', partition: 1 }] });
      await tx2.abort();
      const tx3 = await producer.transaction();
      await tx3.send({ topic, messages: [{ value: 'c4', partition: 1 }] });
      await tx3.commit();
      const committed = await reader(t, kafka, topic);
      await until('4 committed records', () => committed.got.length >= 4);
      const uncommitted = await reader(t, kafka, topic, { readUncommitted: true });
      await until('6 records read uncommitted', () => uncommitted.got.length >= 6);
      await settle();
      assert.deepEqual(values(committed.got), ['c1', 'c2', 'c3', 'c4']);
      assert.deepEqual(values(uncommitted.got), ['a1', 'a2', 'c1', 'c2', 'c3', 'c4']);
    });

    it('onBatchEnd fires for a fetch that held only a transaction marker, or only aborted records, and moves past them', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 1 });
      const producer = kafka.producer({ transactionalId: `contract-markers-${randomSuffix()}` });
      await producer.connect();
      t.after(() => producer.disconnect());
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ value: 'c0' }, { value: 'c1' }] }); // 0, 1; commit marker at 2
      await tx.commit();
      const r = await reader(t, kafka, topic, { onJoin: (c) => c.seek({ topic, partition: 0, offset: '2' }) });
      await until('the end of the marker-only fetch', () => r.ends.some((e) => e.lastOffset === '2'));
      assert.equal(r.got.length, 0, 'no record reached eachBatch');
      assert.equal(r.ends.find((e) => e.lastOffset === '2')!.highWatermark, '3');
      const tx2 = await producer.transaction();
      await tx2.send({ topic, messages: [{ value: 'a3' }, { value: 'a4' }] }); // 3, 4; abort marker at 5
      await tx2.abort();
      await until('the end of the aborted fetch', () => r.ends.some((e) => e.lastOffset === '5'));
      const tx3 = await producer.transaction();
      await tx3.send({ topic, messages: [{ value: 'c6' }] }); // 6, marker 7
      await tx3.commit();
      await until('the record after the aborted ones', () => r.got.length >= 1);
      assert.deepEqual(r.got.map((m) => [m.offset, m.value?.toString()]), [['6', 'c6']]);
      assert.ok(r.batches.every((b) => b.first !== undefined), 'eachBatch only saw batches with records');
    });

    it("sendOffsets commits the group's offsets and metadata with the transaction (admin fetchOffsets reads them); deleteGroups drops them", T, async (t) => {
      const topic = await freshTopic(t, { partitions: 2 });
      const group = `contract-offsets-${randomSuffix()}`;
      const producer = kafka.producer({ transactionalId: `contract-so-${randomSuffix()}` });
      await producer.connect();
      t.after(() => producer.disconnect());
      const admin = kafka.admin();
      await admin.connect();
      t.after(() => admin.disconnect());
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ value: 'x', partition: 0 }] });
      await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: '5', metadata: 'state-v1' }, { partition: 1, offset: '12' }] }] });
      await tx.commit();
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      assert.equal(offsets.length, 1);
      const byPartition = Object.fromEntries(offsets[0]!.partitions.map((p) => [p.partition, p]));
      assert.equal(byPartition[0]!.offset, '5');
      assert.equal(byPartition[0]!.metadata, 'state-v1');
      assert.equal(byPartition[1]!.offset, '12');
      const aborted = await producer.transaction();
      await aborted.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: '9', metadata: 'no' }] }] });
      await aborted.abort();
      assert.equal((await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions.find((p) => p.partition === 0)!.offset, '5', 'an aborted transaction commits no offsets');
      await admin.deleteGroups([group]);
      const after = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      assert.deepEqual(after[0]!.partitions.map((p) => p.offset), ['-1', '-1']);
    });

    it('a second producer with the same transactionalId fences the first: its commit fails and classify says fenced', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 1 });
      const transactionalId = `contract-fence-${randomSuffix()}`;
      const first = kafka.producer({ transactionalId });
      await first.connect();
      t.after(() => first.disconnect().catch(() => undefined));
      const tx = await first.transaction();
      await tx.send({ topic, messages: [{ value: 'zombie' }] });
      const second = kafka.producer({ transactionalId });
      await second.connect();
      t.after(() => second.disconnect());
      // platformatic fences at connect(); kafkajs at the first transaction() (docs/operations.md): begin one on both.
      const tx2 = await second.transaction();
      const err = await tx.commit().then(() => undefined, (e: unknown) => e);
      assert.ok(err, 'the fenced producer could not commit');
      const typed = kafka.classify(err, { transactionalId });
      assert.ok(typed instanceof KafkaFencedError, `classified as ${(typed as Error)?.name}: ${(typed as Error)?.message}`);
      assert.equal(typed.transactionalId, transactionalId);
      await tx2.send({ topic, messages: [{ value: 'live' }] });
      await tx2.commit();
      const r = await reader(t, kafka, topic);
      await until('the live record', () => r.got.length >= 1);
      await settle();
      assert.deepEqual(values(r.got), ['live']);
    });

    it('two members of a group split the partitions; one leaving hands its partitions to the other', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 4 });
      const groupId = `contract-group-${randomSuffix()}`;
      const a = await reader(t, kafka, topic, { groupId });
      await until('a joined', () => a.joins.length >= 1);
      assert.deepEqual(a.joins.at(-1)![topic], [0, 1, 2, 3]);
      const b = await reader(t, kafka, topic, { groupId });
      const mine = (r: Reader) => [...(r.joins.at(-1)?.[topic] ?? [])].sort();
      await until('a and b to share the partitions', () => mine(b).length === 2 && mine(a).length === 2, 30_000);
      assert.deepEqual([...mine(a), ...mine(b)].sort(), [0, 1, 2, 3]);
      const joinsBefore = a.joins.length;
      await b.stop();
      await until('a to take over every partition', () => a.joins.length > joinsBefore && mine(a).length === 4, 30_000);
    });

    it('seek: the next batch starts at the sought offset and the batch fetched before is stale', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 1 });
      const producer = kafka.producer();
      await producer.connect();
      t.after(() => producer.disconnect());
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) });
      let sought = false;
      let staleAfterSeek: boolean | undefined;
      const r = await reader(t, kafka, topic, {
        eachBatch: async (p) => {
          if (sought) return false;
          sought = true;
          assert.equal(p.isStale(), false);
          r.consumer.seek({ topic, partition: 0, offset: '7' });
          staleAfterSeek = p.isStale();
          p.resolveOffset('9'); // ignored: the batch is stale
          return true;
        },
      });
      await until('records after the seek', () => r.got.length >= 3);
      await settle();
      assert.equal(staleAfterSeek, true);
      assert.equal(r.batches[0]!.fetchedOffset, '0');
      assert.equal(r.batches[1]!.fetchedOffset, '7');
      assert.deepEqual(r.got.map((m) => m.offset), ['7', '8', '9']);
    });

    it('pause stops fetching a partition until resume; commitOffsets sets where the group starts', T, async (t) => {
      const topic = await freshTopic(t, { partitions: 2 });
      const producer = kafka.producer();
      await producer.connect();
      t.after(() => producer.disconnect());
      await producer.send({ topic, messages: [0, 1, 2].flatMap((i) => [{ value: `p0-${i}`, partition: 0 }, { value: `p1-${i}`, partition: 1 }]) });
      const groupId = `contract-pause-${randomSuffix()}`;
      const r = await reader(t, kafka, topic, { groupId, onJoin: (c) => c.pause([{ topic, partitions: [0] }]) });
      await until('partition 1', () => r.got.filter((m) => m.partition === 1).length >= 3);
      await producer.send({ topic, messages: [{ value: 'p1-3', partition: 1 }] });
      await until('partition 1 again', () => r.got.filter((m) => m.partition === 1).length >= 4);
      assert.equal(r.got.filter((m) => m.partition === 0).length, 0, 'nothing from the paused partition');
      r.consumer.resume([{ topic, partitions: [0] }]);
      await until('partition 0 after resume', () => r.got.filter((m) => m.partition === 0).length >= 3);
      await r.consumer.commitOffsets([{ topic, partition: 0, offset: '2' }, { topic, partition: 1, offset: '4' }]);
      await r.stop();
      const next = await reader(t, kafka, topic, { groupId });
      await until('the committed position', () => next.got.length >= 1);
      await settle();
      assert.deepEqual(next.got.map((m) => `${m.partition}@${m.offset}`), ['0@2']);
    });

    it('admin: create, list, describe configs, offsets, delete records, cluster, and a missing topic', T, async (t) => {
      const admin = kafka.admin();
      await admin.connect();
      t.after(() => admin.disconnect());
      const topic = `contract-admin-${randomSuffix()}`;
      t.after(() => admin.deleteTopics({ topics: [topic] }).catch(() => undefined));
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '1234567' }] }], waitForLeaders: true }), true);
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }), false);
      assert.ok((await admin.listTopics()).includes(topic));
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      assert.deepEqual(meta.topics.map((m) => [m.name, m.partitions.map((p) => p.partitionId).sort()]), [[topic, [0, 1]]]);
      assert.ok(meta.topics[0]!.partitions.every((p) => p.leader >= 0 && p.replicas.length >= 1 && p.isr.length >= 1));
      const [configs] = await admin.describeTopicConfigs([topic]);
      assert.equal(configs!.topic, topic);
      const retention = configs!.entries.find((e) => e.configName === 'retention.ms')!;
      assert.deepEqual([retention.configValue, retention.isTopicConfig], ['1234567', true]);
      const cleanup = configs!.entries.find((e) => e.configName === 'cleanup.policy')!;
      assert.equal(cleanup.isTopicConfig, false);

      const producer = kafka.producer();
      await producer.connect();
      t.after(() => producer.disconnect());
      await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `r${i}`, partition: 0 })) });
      const offsets = async () => (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
      assert.deepEqual(await offsets(), [{ partition: 0, low: '0', high: '5' }, { partition: 1, low: '0', high: '0' }]);
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] });
      assert.deepEqual((await offsets())[0], { partition: 0, low: '3', high: '5' });

      const cluster = await admin.describeCluster();
      assert.ok(cluster.clusterId.length > 0);
      const port = Number(process.env.KAFKA_BROKERS!.split(',')[0]!.split(':')[1]);
      assert.ok(cluster.brokers.some((b) => b.port === port), `brokers ${JSON.stringify(cluster.brokers)}`);

      const missing = `contract-missing-${randomSuffix()}`;
      await assert.rejects(admin.fetchTopicMetadata({ topics: [missing] }), (e: { type?: string }) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION');
      await admin.deleteTopics({ topics: [topic] });
    });

    it('an unreachable broker classifies as KafkaUnavailableError', T, async () => {
      const down = createKafkaClient(kafkaConnectionSchema.parse({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 1000, client }));
      const admin = down.admin({ retries: 0 });
      const err = await admin.connect().then(() => undefined, (e: unknown) => e);
      await admin.disconnect().catch(() => undefined);
      assert.ok(err, 'connect failed');
      const typed = down.classify(err);
      assert.ok(typed instanceof KafkaUnavailableError, `classified as ${(typed as Error)?.name}: ${(typed as Error)?.message}`);
      assert.match(typed.message, /cannot reach Kafka at 127\.0\.0\.1:1: ECONNREFUSED/);
    });
  });
}
