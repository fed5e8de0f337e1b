/**
 * The loader with the Snowflake adapter: real Kafka broker → loader → real snowflake-sdk → a local
 * Snowflake-protocol server (fakesnow, test/support/fakesnow.ts). The same loader code path as production.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLoader } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { SnowflakeWarehouse } from '../../src/warehouse/snowflake/warehouse.js';
import { startFakesnow, type FakesnowServer } from '../support/fakesnow.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { capturingLogger, publishMixed } from '../support/loader.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tableOf = (topic: string) => topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

let server: FakesnowServer;
let dbPath: string;

before(async () => {
  dbPath = mkdtempSync(join(tmpdir(), 'md-fakesnow-loader-'));
  server = await startFakesnow({ dbPath });
});
after(async () => {
  await server?.stop();
  rmSync(dbPath, { recursive: true, force: true });
});

describe('loader into Snowflake (snowflake-sdk against a local Snowflake-protocol server)', () => {
  async function rowsIn(topic: string): Promise<{ rows: number; positions: number; ids: number }> {
    const w = new SnowflakeWarehouse(server.connectionOptions);
    try {
      await w.connect();
      await w.ensureTable(tableOf(topic));
      const [r] = await w.query(
        `SELECT COUNT(*) AS N, COUNT(DISTINCT RECORD_METADATA:"partition"::VARCHAR || ':' || RECORD_METADATA:"offset"::VARCHAR) AS P,
                COUNT(DISTINCT RECORD_METADATA:"event_id"::VARCHAR) AS I FROM "${tableOf(topic)}"`,
      );
      return { rows: Number(r!.N), positions: Number(r!.P), ids: Number(r!.I) };
    } finally {
      await w.close();
    }
  }

  it('loads N events as exactly N rows, with typed views', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const N = 900;
    const sent = await publishMixed(topic, N);
    const { logger } = capturingLogger();
    const stats = await createLoader(
      {
        kafka: { brokers: brokers() }, schema, topics: [topic], topicRenames: { 'orders.v1': topic }, group: `g-${topic}`,
        warehouse: { type: 'snowflake', ...server.connectionOptions }, batchRecords: 400, dlqTopic: `${topic}.dlq`,
      },
      { logger },
    ).runOnce();
    assert.equal(stats.rowsLoaded, N);
    assert.deepEqual(await rowsIn(topic), { rows: N, positions: N, ids: N });

    const w = new SnowflakeWarehouse(server.connectionOptions);
    await w.connect();
    t.after(() => w.close());
    const pf = sent.find((s) => s.type === 'orders.v1.PaymentFailed')!;
    const [v] = await w.query(`SELECT USER_ID, MARKET, PLATFORM, AMOUNT_MINOR, RETRYABLE, KAFKA_OFFSET FROM "PAYMENT_FAILED" WHERE EVENT_ID = '${pf.receipt.eventId}'`);
    const e = pf.event as { context: { userId: string }; platform: string; amount: { amountMinor: number }; retryable: boolean };
    assert.equal(v!.USER_ID, e.context.userId);
    assert.equal(v!.MARKET, 'GB');
    assert.equal(v!.PLATFORM, e.platform);
    assert.equal(String(v!.AMOUNT_MINOR), String(e.amount.amountMinor));
    assert.equal(v!.RETRYABLE, e.retryable);
    assert.equal(String(v!.KAFKA_OFFSET), pf.receipt.offset);
    const [placed] = await w.query(`SELECT AMOUNT_MINOR::VARCHAR AS A FROM "ORDER_PLACED" LIMIT 1`);
    assert.equal(placed!.A, '9007199254740993', 'int64 beyond 2^53 is exact in Snowflake too');
  });

  it('the warehouse stopped mid-load and started again: exactly N rows, and the loader said what it was waiting for', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const N = 3_000;
    await publishMixed(topic, N);
    const { logger, lines } = capturingLogger();
    const loader = createLoader(
      {
        kafka: { brokers: brokers() }, schema, topics: [topic], topicRenames: { 'orders.v1': topic }, group: `g-${topic}`,
        warehouse: { type: 'snowflake', ...server.connectionOptions, statementTimeoutMs: 10_000 }, batchRecords: 250, flushMs: 100,
        retryInitialMs: 200, retryMaxMs: 1000, dlqTopic: `${topic}.dlq`, views: false,
      },
      { logger },
    );
    const done = loader.runOnce();
    // Stop the server once a few batches are in, keep it down, then start it again.
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && loader.stats().batches < 2) await sleep(20);
    assert.ok(loader.stats().batches >= 2, 'the load was under way before the stop');
    await server.stop();
    const stoppedAt = loader.stats().rowsLoaded;
    while (Date.now() < deadline && !lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('waiting for the warehouse'))) await sleep(50);
    await sleep(1500);
    assert.equal(loader.stats().rowsLoaded, stoppedAt, 'nothing is committed while the warehouse is down');
    await server.restart();
    const stats = await done;
    assert.equal(stats.rowsLoaded, N);
    assert.ok(stoppedAt < N, `the stop came before the end of the load (${stoppedAt} of ${N})`);
    const waiting = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('waiting for the warehouse to write a batch'));
    assert.ok(waiting, `a log line says what it waits for: ${JSON.stringify(lines.filter((l) => (l.level as number) >= 40).slice(0, 3))}`);
    assert.match(String(waiting.msg), /nothing is committed and no offset moves until it succeeds/);
    assert.match(String(waiting.warehouse), /^snowflake:/);
    assert.ok(lines.some((l) => l.msg === 'warehouse is back'));
    assert.ok(stats.warehouseRetries > 0);
    assert.deepEqual(await rowsIn(topic), { rows: N, positions: N, ids: N });
  });
});
