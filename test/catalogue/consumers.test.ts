/**
 * Consumers reading schemas from the event catalogue, against the suite's broker, with no .proto on disk:
 * the loader follows the catalogue while it runs (a new field and a new event type pushed mid-run are loaded without
 * a restart, with a new view column and a new view; old-version records keep decoding), a record whose version was
 * never pushed waits, then goes to the DLQ with its reason; `load --catalogue --once` and `tail --catalogue` from a
 * folder without .proto files decode field for field.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createLoader, createPublisher, loadSchema, type EventSchema } from '../../src/index.js';
import { decodeMetric } from '../../src/derive/outputs.js';
import { EventRegistry } from '../../src/schema/registry.js';
import type { DuckDbWarehouse } from '../../src/warehouse/duckdb/warehouse.js';
import { readFromStart } from '../../src/kafka/topic-reader.js';
import { brokers, freshTopic, kafka, kafkaClient, randomSuffix, readAll } from '../support/kafka.js';
import { untilValue } from '../support/wait.js';
import { capturingLogger, tempDir } from '../support/loader.js';

const BIN = resolve('bin/multidispatch.js');
const cli = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [BIN, ...args, '--brokers', brokers().join(',')], { encoding: 'utf8', timeout: 120_000, cwd, env: { ...process.env, MULTIDISPATCH_NO_EXIT_GUARD: '1' } });

const V1 = `syntax = "proto3";
package cat.v1;
import "google/protobuf/timestamp.proto";
import "multidispatch/options.proto";

// An order was placed.
message OrderPlaced {
  option (multidispatch.event) = { topic: "cat.orders" key_field: "order_id" };
  // The order's id: "quoted", */ and -- in a comment.
  string order_id = 1;
  int64 total_minor = 2;
  google.protobuf.Timestamp placed_at = 3 [(multidispatch.field).event_time = true];
}
`;
// v2: a new field of OrderPlaced and a new event type on the same topic.
const V2 = V1.replace('  google.protobuf.Timestamp placed_at = 3', '  // Coupon code, if any.\n  string coupon = 4;\n  google.protobuf.Timestamp placed_at = 3') +
  `
// Money went back.
message Refunded {
  option (multidispatch.event) = { topic: "cat.orders" key_field: "order_id" };
  string order_id = 1;
  int64 amount_minor = 2;
}
`;
// v3: never pushed.
const V3 = V2.replace('  string coupon = 4;', '  string coupon = 4;\n  string channel = 5;');

async function schemaOf(t: TestContext, text: string): Promise<{ dir: string; schema: EventSchema }> {
  const dir = await mkdtemp(join(tmpdir(), 'md-cat-consumer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cat.proto'), text);
  return { dir, schema: await loadSchema(dir) };
}

async function publish(schema: EventSchema, topic: string, events: Array<[string, Record<string, unknown>]>): Promise<void> {
  const publisher = createPublisher({ schema, producer: 'catalogue-test', kafka: { brokers: brokers() }, statsd: false, topics: { 'cat.orders': topic } });
  try {
    await Promise.all(events.map(([type, e]) => publisher.publish(type as never, e as never)));
    await publisher.flush();
  } finally {
    await publisher.close();
  }
}


const placed = (i: number, extra: Record<string, unknown> = {}) => ({ orderId: `o-${i}`, totalMinor: i === 0 ? '-9223372036854775808' : String(1000 + i), placedAt: new Date(Date.UTC(2026, 11, 4, 10, 0, i)), ...extra });

describe('consumers on the event catalogue', () => {
  it('the loader follows the catalogue: new field and new type pushed mid-run load without a restart; unknown versions go to the DLQ', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const catalogue = `catalogue-${randomSuffix()}`;
    const dlq = `${topic}.dlq`;
    t.after(async () => {
      const admin = kafka('multidispatch-test-admin').admin();
      await admin.connect();
      const have = new Set(await admin.listTopics());
      const gone = [catalogue, dlq].filter((x) => have.has(x));
      if (gone.length) await admin.deleteTopics({ topics: gone });
      await admin.disconnect();
    });
    const v1 = await schemaOf(t, V1);
    const v2 = await schemaOf(t, V2);
    const v3 = await schemaOf(t, V3);
    const work = tempDir(t);
    assert.equal(cli(['catalogue', 'push', '--proto', v1.dir, '--catalogue-topic', catalogue], work).status, 0);

    await publish(v1.schema, topic, Array.from({ length: 30 }, (_, i) => ['cat.v1.OrderPlaced', placed(i)]));
    const { logger, lines } = capturingLogger();
    const loader = createLoader(
      { kafka: { brokers: brokers() }, catalogue: { topic: catalogue, waitMs: 2000 }, topics: [topic], group: `g-${topic}`, warehouse: `duckdb:${join(work, 'live.duckdb')}`, flushMs: 200, dlqTopic: dlq, topicRenames: { 'cat.orders': topic } },
      { logger },
    );
    const running = loader.run();
    t.after(() => loader.stop());
    const w = () => loader.warehouseHandle as DuckDbWarehouse;
    const table = topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    const count = async (sql: string) => Number((await w().query(sql))[0]!.N);
    await untilValue('30 v1 rows', async () => ((await count(`SELECT count(*) AS N FROM "${table}"`)) === 30 ? true : undefined));

    // Push v2 while the loader runs, then publish with it (and a few more with v1).
    assert.equal(cli(['catalogue', 'push', '--proto', v2.dir, '--catalogue-topic', catalogue], work).status, 0);
    await publish(v2.schema, topic, [
      ...Array.from({ length: 20 }, (_, i): [string, Record<string, unknown>] => ['cat.v1.OrderPlaced', placed(100 + i, { coupon: `C-${i} "ünï"` })]),
      ...Array.from({ length: 10 }, (_, i): [string, Record<string, unknown>] => ['cat.v1.Refunded', { orderId: `o-${i}`, amountMinor: String(i * 10) }]),
    ]);
    await publish(v1.schema, topic, Array.from({ length: 5 }, (_, i) => ['cat.v1.OrderPlaced', placed(200 + i)]));
    await untilValue('65 rows', async () => ((await count(`SELECT count(*) AS N FROM "${table}"`)) === 65 ? true : undefined));

    // The view gained the column and the new type got its view, without a restart; old-version rows have NULL there.
    await untilValue('the COUPON column', async () => ((await w().query(`SELECT column_name FROM duckdb_columns() WHERE table_name = 'ORDER_PLACED' AND column_name = 'COUPON'`)).length === 1 ? true : undefined));
    const coupons = await w().query(`SELECT ORDER_ID, COUPON, TOTAL_MINOR FROM "ORDER_PLACED" ORDER BY ORDER_ID`);
    assert.equal(coupons.length, 55);
    assert.equal(coupons.find((r) => r.ORDER_ID === 'o-103')!.COUPON, 'C-3 "ünï"');
    assert.equal(coupons.find((r) => r.ORDER_ID === 'o-203')!.COUPON, null, 'a v1 record published after v2 decodes with v1');
    assert.equal(String(coupons.find((r) => r.ORDER_ID === 'o-0')!.TOTAL_MINOR), '-9223372036854775808');
    assert.equal(await count(`SELECT count(*) AS N FROM "REFUNDED"`), 10);
    const [doc] = await w().query(`SELECT comment AS C FROM duckdb_columns() WHERE table_name = 'ORDER_PLACED' AND column_name = 'COUPON'`);
    assert.equal(doc!.C, 'Coupon code, if any.');
    const [idDoc] = await w().query(`SELECT comment AS C FROM duckdb_columns() WHERE table_name = 'ORDER_PLACED' AND column_name = 'ORDER_ID'`);
    assert.equal(idDoc!.C, `The order's id: "quoted", */ and -- in a comment.`);

    // A version never pushed: it waits (2 s here), then goes to the DLQ with its reason; loading goes on.
    const v3registry = new EventRegistry(v3.schema);
    await publish(v3.schema, topic, [['cat.v1.OrderPlaced', placed(300, { coupon: 'x', channel: 'web' })]]);
    await publish(v2.schema, topic, [['cat.v1.Refunded', { orderId: 'o-after', amountMinor: '1' }]]);
    const [dead] = await readAll(dlq, { count: 1, timeoutMs: 60_000 });
    assert.match(dead!.headers['md-dlq-reason']!, new RegExp(`schema version ${v3registry.lookup('cat.v1.OrderPlaced').fingerprint} of "cat.v1.OrderPlaced" is not in catalogue ${catalogue}`));
    assert.equal(dead!.headers['md-dlq-error-class'], 'unknown-schema-version');
    await untilValue('the record after it', async () => ((await count(`SELECT count(*) AS N FROM "REFUNDED"`)) === 11 ? true : undefined));
    assert.ok(lines.some((l) => l.msg === 'waiting for schema versions to reach the catalogue'), 'the wait was logged');
    assert.ok(lines.some((l) => l.msg === 'typed view updated from the catalogue'), 'the view update was logged');

    await loader.stop();
    await running;

    // From a folder with no .proto files: load --once and tail, with the catalogue only.
    const once = cli(['load', '--topic', topic, '--catalogue', catalogue, '--catalogue-wait-ms', '1000', '--once', '--warehouse', `duckdb:${join(work, 'once.duckdb')}`, '--group', `once-${topic}`, '--topic-rename', `cat.orders=${topic}`, '--dlq-topic', dlq, '--no-progress', '--log-level', 'warn'], work);
    assert.equal(once.status, 5, `load --once exits 5 when it dead-lettered the v3 record\n${once.stderr}`);
    assert.match(once.stdout, /loaded 66 row\(s\) .*; 1 to the dead-letter topic/);
    const tail = cli(['tail', '--topic', topic, '--catalogue', catalogue, '--from-beginning', '--max', '67'], work);
    assert.equal(tail.status, 0, tail.stderr);
    const printed = tail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; event?: Record<string, unknown>; error?: string });
    assert.equal(printed.length, 67);
    const o103 = printed.find((p) => p.event?.orderId === 'o-103')!;
    assert.deepEqual(o103.event, { orderId: 'o-103', totalMinor: '1103', coupon: 'C-3 "ünï"', placedAt: '2026-12-04T10:01:43.000Z' });
    const o203 = printed.find((p) => p.event?.orderId === 'o-203')!;
    assert.deepEqual(o203.event, { orderId: 'o-203', totalMinor: '1203', placedAt: '2026-12-04T10:03:23.000Z' }, 'decoded with v1: no coupon field');
    const unknown = printed.filter((p) => p.error);
    assert.equal(unknown.length, 1);
    assert.match(unknown[0]!.error!, /at schema version [0-9a-f]{16} is not in catalogue/);
  });

  it('derive resolves its definitions against the catalogue (no .proto on disk) and counts records of every version', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const catalogue = `catalogue-${randomSuffix()}`;
    const metricsTopic = `${topic}.metrics`;
    const group = `derive-${topic}`;
    t.after(async () => {
      const admin = kafka('multidispatch-test-admin').admin();
      await admin.connect();
      const have = await admin.listTopics();
      const gone = have.filter((x) => x === catalogue || x === metricsTopic || x.startsWith(group));
      if (gone.length) await admin.deleteTopics({ topics: gone });
      await admin.disconnect();
    });
    const v1 = await schemaOf(t, V1);
    const v2 = await schemaOf(t, V2);
    const work = tempDir(t);
    assert.equal(cli(['catalogue', 'push', '--proto', v1.dir, '--catalogue-topic', catalogue], work).status, 0);
    // Event times now: derive's stream time follows the wall clock once its input is idle (--idle-ms).
    await publish(v1.schema, topic, Array.from({ length: 7 }, (_, i) => ['cat.v1.OrderPlaced', placed(i, { placedAt: new Date() })]));
    assert.equal(cli(['catalogue', 'push', '--proto', v2.dir, '--catalogue-topic', catalogue], work).status, 0);
    await publish(v2.schema, topic, Array.from({ length: 5 }, (_, i) => ['cat.v1.OrderPlaced', placed(50 + i, { coupon: i % 2 ? 'A' : 'B', placedAt: new Date() })]));
    // Plain objects: the definitions module needs no import, so it runs from a folder outside the project.
    const defs = join(work, 'metrics.mjs');
    await writeFile(defs, `export default [{ name: 'placed_by_coupon', from: 'cat.v1.OrderPlaced', groupBy: ['coupon'], window: { kind: 'tumbling', sizeMs: 10000, graceMs: 0 } }];\n`);
    const child = spawn(process.execPath, [BIN, 'derive', '--definitions', defs, '--catalogue', catalogue, '--topic-rename', `cat.orders=${topic}`, '--group', group, '--metrics-topic', metricsTopic, '--idle-ms', '4000', '--log-level', process.env.CAT_DEBUG ? 'debug' : 'warn', '--brokers', brokers().join(',')], { cwd: work, env: { ...process.env, MULTIDISPATCH_NO_EXIT_GUARD: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    t.after(() => child.kill('SIGKILL'));
    // Final values per 10-second window, summed per coupon: 7 v1 records (coupon "") and 5 v2 records (A or B).
    const finals = new Map<string, number>();
    const perCoupon = () => {
      const out: Record<string, number> = {};
      for (const [k, v] of finals) out[k.split('|')[0]!] = (out[k.split('|')[0]!] ?? 0) + v;
      return out;
    };
    await untilValue('final metric values', async () => {
      // The metrics topic is written in transactions: read it to its end with the reader that counts markers.
      const admin = kafka('multidispatch-test-admin').admin();
      await admin.connect();
      const exists = (await admin.listTopics()).includes(metricsTopic);
      await admin.disconnect();
      if (!exists) return undefined;
      const read = await readFromStart(kafkaClient(), { topics: [metricsTopic], group: 'catalogue-test-reader', follow: false }, (batch) => {
        for (const m of batch.messages) {
          const v = decodeMetric(m.value!);
          if (v.final) finals.set(`${v.dimensions.coupon ?? '?'}|${v.windowStart}`, v.value);
        }
      });
      try {
        await read.caughtUp;
      } finally {
        await read.consumer?.disconnect();
      }
      const sums = perCoupon();
      return sums[''] === 7 && (sums.A ?? 0) + (sums.B ?? 0) === 5 ? true : undefined;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; derive said: ${stderr}`);
    });
    assert.deepEqual(perCoupon(), { '': 7, A: 2, B: 3 });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });
});
