/**
 * The loader with the Snowflake adapter: real Kafka broker → loader → real snowflake-sdk → a local
 * Snowflake-protocol server (fakesnow, test/support/fakesnow.ts). The same loader code path as production.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createLoader } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { SnowflakeWarehouse } from '../../src/warehouse/snowflake/warehouse.js';
import { startFakesnow, type FakesnowServer } from '../support/fakesnow.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { capturingLogger, publishMixed } from '../support/loader.js';

const root = resolve(import.meta.dirname, '../..');
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

  // Opt-in: against fakesnow a loader SIGKILLed inside a transaction leaves that transaction open on the server
  // forever (fakesnow never expires sessions), so the survivor cannot write that partition (it backs off and
  // retries; see docs/loader.md). Killed between transactions, the test passes. Run with MD_TEST_SNOWFLAKE_KILL=1.
  it('two loader processes in one group, one SIGKILLed mid-load (rebalance after its session expires): exactly N rows', {
    skip: process.env.MD_TEST_SNOWFLAKE_KILL ? false : 'opt-in (MD_TEST_SNOWFLAKE_KILL=1): a kill inside a transaction leaves it open on fakesnow, which never expires sessions',
  }, async (t) => {
    const topic = await freshTopic(t, { partitions: 4 });
    const o = server.connectionOptions as unknown as Record<string, string>;
    const env = {
      ...process.env, KAFKA_BROKERS: brokers().join(','), SNOWFLAKE_ACCOUNT: o.account!, SNOWFLAKE_USER: o.username!, SNOWFLAKE_PASSWORD: o.password!,
      SNOWFLAKE_DATABASE: o.database!, SNOWFLAKE_SCHEMA: o.schema!, SNOWFLAKE_ACCESS_URL: o.accessUrl!,
    };
    const start = (name: string) => {
      const child = spawn(process.execPath, [join(root, 'bin/multidispatch.js'), 'load', '--topic', topic, '--topic-rename', `orders.v1=${topic}`, '--warehouse', 'snowflake',
        '--group', `g-${topic}`, '--batch-records', '150', '--flush-ms', '100', '--session-timeout-ms', '6000', '--no-views', '--dlq-topic', `${topic}.dlq`,
        '--log-level', 'debug', '--proto', 'proto'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
      const state = { name, child, assigned: [] as string[], commits: 0, log: '' };
      child.stderr.on('data', (d: Buffer) => {
        state.log = (state.log + String(d)).slice(-20_000);
        if (process.env.MD_DEBUG_LOG_DIR) appendFileSync(join(process.env.MD_DEBUG_LOG_DIR, `${name}.log`), d);
        for (const line of String(d).split('\n')) {
          if (line.includes('"batch committed"')) state.commits++;
          if (line.includes('"partitions assigned"')) {
            try {
              state.assigned = (JSON.parse(line) as { partitions: string[] }).partitions;
            } catch {
              /* partial line */
            }
          }
        }
      });
      return state;
    };
    const a = start('A');
    const b = start('B');
    t.after(() => {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    });
    let deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !(a.assigned.length === 2 && b.assigned.length === 2)) await sleep(100);
    assert.deepEqual([a.assigned.length, b.assigned.length], [2, 2], `both got two partitions:\nA: ${a.log.slice(-1500)}\nB: ${b.log.slice(-1500)}`);
    const N = 4_000;
    await publishMixed(topic, N);
    deadline = Date.now() + 90_000;
    while (Date.now() < deadline && (a.commits < 2 || b.commits < 2)) await sleep(20);
    assert.ok(a.commits >= 2 && b.commits >= 2, `both committed batches (A ${a.commits}, B ${b.commits})`);
    // A random moment after a commit: between transactions or inside the next one.
    await sleep(Math.floor(Math.random() * 120));
    a.child.kill('SIGKILL');
    const killedAt = await rowsIn(topic);
    assert.ok(killedAt.rows < N, `A was killed before the load was complete (${killedAt.rows} of ${N})`);
    deadline = Date.now() + 150_000;
    let c = killedAt;
    while (Date.now() < deadline && c.rows < N) {
      await sleep(500);
      c = await rowsIn(topic);
    }
    await sleep(2000); // a duplicate, if any, would land now
    c = await rowsIn(topic);
    assert.deepEqual(c, { rows: N, positions: N, ids: N }, `B's log:\n${b.log.split('\n').filter((l) => !l.includes('"batch committed"')).slice(-25).join('\n')}`);
    assert.equal(b.assigned.length, 4, 'B took over all four partitions');
    const exited = new Promise((res) => b.child.on('exit', res));
    b.child.kill('SIGTERM');
    await exited;
  });
});
