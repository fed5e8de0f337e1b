import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLoader, HEADER } from '../../src/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { schema } from '../../src/generated/examples.js';
import { DuckDbWarehouse } from '../../src/warehouse/duckdb/warehouse.js';
import { brokers, freshTopic, kafka } from '../support/kafka.js';
import { capturingLogger, publishMixed, tempDir } from '../support/loader.js';

const registry = new EventRegistry(schema);

async function openDuck(path: string): Promise<DuckDbWarehouse> {
  const w = new DuckDbWarehouse({ path });
  await w.connect();
  return w;
}

describe('loader into DuckDB against a real Kafka broker', () => {
  it('loads N published events (3 types, 3 partitions) as exactly N rows with correct metadata, content and typed views', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const dir = tempDir(t);
    const db = join(dir, 'events.duckdb');
    const sent = await publishMixed(topic, 600);
    const { logger } = capturingLogger();
    const stats = await createLoader(
      { kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, warehouse: `duckdb:${db}`, batchRecords: 250, topicRenames: { 'orders.v1': topic }, dlqTopic: `${topic}.dlq` },
      { logger },
    ).runOnce();
    assert.equal(stats.rowsLoaded, 600);
    assert.equal(stats.deadLettered, 0);

    const w = await openDuck(db);
    t.after(() => w.close());
    const table = topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    const rows = await w.query(
      `SELECT RECORD_METADATA::VARCHAR AS m, RECORD_CONTENT::VARCHAR AS c FROM "${table}" ORDER BY RECORD_METADATA->>'$.event_id'`,
    );
    assert.equal(rows.length, 600);
    const byId = new Map(rows.map((r) => [JSON.parse(String(r.m)).event_id as string, { m: JSON.parse(String(r.m)), c: JSON.parse(String(r.c)) }]));
    assert.equal(byId.size, 600, 'every event id once');
    for (const s of sent) {
      const row = byId.get(s.receipt.eventId);
      assert.ok(row, `event ${s.receipt.eventId} loaded`);
      assert.equal(row.m.topic, topic);
      assert.equal(row.m.partition, s.receipt.partition);
      assert.equal(String(row.m.offset), s.receipt.offset);
      assert.equal(row.m.event_type, s.type);
      assert.equal(row.m.key, s.event.orderId);
      assert.equal(row.m.occurred_at, s.receipt.occurredAt.toISOString());
      assert.equal(row.m.producer, 'loader-test');
      assert.equal(row.m.schema_fingerprint, registry.lookup(s.type).fingerprint);
      assert.equal(row.m.headers[HEADER.eventId], s.receipt.eventId);
      assert.equal(typeof row.m.CreateTime, 'number');
      assert.ok(!Number.isNaN(Date.parse(row.m.load_time)));
      // Content: the event as published, in protobuf JSON (int64 as strings, enums as names, timestamps ISO).
      const encoded = registry.encode(s.type, s.event);
      assert.deepEqual(row.c, registry.decode(s.type, encoded.bytes));
    }
    const dupes = await w.query(
      `SELECT RECORD_METADATA->>'$.partition' p, RECORD_METADATA->>'$.offset' o, count(*) n FROM "${table}" GROUP BY ALL HAVING count(*) > 1`,
    );
    assert.deepEqual(dupes, []);

    // Typed views with typed values.
    const pf = sent.filter((s) => s.type === 'orders.v1.PaymentFailed');
    const viewRows = await w.query(`SELECT * FROM "PAYMENT_FAILED"`);
    assert.equal(viewRows.length, pf.length);
    const v = viewRows.find((r) => r.EVENT_ID === pf[0]!.receipt.eventId)!;
    const e = pf[0]!.event as unknown as ReturnType<typeof import('../support/events.js').paymentFailed>;
    assert.equal(v.ORDER_ID, e.orderId);
    assert.equal(v.USER_ID, e.context!.userId);
    assert.equal(v.MARKET, 'GB');
    assert.equal(v.PLATFORM, e.platform);
    assert.equal(v.RETRYABLE, e.retryable);
    assert.equal(v.AMOUNT_MINOR, BigInt(e.amount!.amountMinor as number));
    assert.equal(v.ATTEMPT, 1);
    assert.equal(v.KAFKA_PARTITION, pf[0]!.receipt.partition);
    assert.equal(String(v.KAFKA_OFFSET), pf[0]!.receipt.offset);
    assert.ok(v.FAILED_AT instanceof Date);
    assert.equal((v.FAILED_AT as Date).toISOString(), (e.failedAt as Date).toISOString());
    assert.ok(v.OCCURRED_AT instanceof Date);
    const placed = await w.query(`SELECT TOTAL_AMOUNT_MINOR AS a, ITEM_COUNT, APP_VERSION FROM "ORDER_PLACED" LIMIT 1`).catch(() => null);
    const placedCols = placed ?? (await w.query(`SELECT AMOUNT_MINOR AS a, ITEM_COUNT, APP_VERSION FROM "ORDER_PLACED" LIMIT 1`));
    assert.equal(placedCols[0]!.a, 9007199254740993n, 'int64 beyond 2^53 is exact');
    assert.equal(placedCols[0]!.APP_VERSION, '5.12.0');
    const rej = await w.query(`SELECT REASON, AGGREGATOR FROM "ORDER_REJECTED" LIMIT 1`);
    assert.deepEqual(rej[0], { REASON: 'TOO_BUSY', AGGREGATOR: 'talabat' });
  });

  it('a second run loads only what is new, and nothing twice', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const db = join(tempDir(t), 'events.duckdb');
    const opts = { kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, warehouse: `duckdb:${db}`, dlqTopic: `${topic}.dlq` };
    const { logger } = capturingLogger();
    await publishMixed(topic, 120);
    assert.equal((await createLoader(opts, { logger }).runOnce()).rowsLoaded, 120);
    assert.equal((await createLoader(opts, { logger }).runOnce()).rowsLoaded, 0, 'nothing new: nothing loaded');
    await publishMixed(topic, 45);
    assert.equal((await createLoader(opts, { logger }).runOnce()).rowsLoaded, 45);
    const w = await openDuck(db);
    t.after(() => w.close());
    const table = topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    const [r] = await w.query(`SELECT count(*) AS n, count(DISTINCT RECORD_METADATA->>'$.event_id') AS ids FROM "${table}"`);
    assert.equal(r!.n, 165n);
    assert.equal(r!.ids, 165n);
    const offsets = await w.query(`SELECT "PARTITION" p, NEXT_OFFSET n FROM "MULTIDISPATCH_OFFSETS" WHERE TOPIC = '${topic}' ORDER BY 1`);
    const admin = kafka().admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    assert.deepEqual(
      offsets.map((o) => [o.p, String(o.n)]),
      ends.sort((a, b) => a.partition - b.partition).map((e) => [e.partition, e.high]),
      'stored offsets equal the end offsets',
    );
  });
});
