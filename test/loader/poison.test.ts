import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { createLoader, EXIT_CODES_HELP, HEADER, IdentifierError, OptionsError, PoisonRecordError } from '../../src/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { quoteIdent, tableNameForTopic, viewSpecFor } from '../../src/warehouse/naming.js';
import { schema } from '../../src/generated/examples.js';
import { DuckDbWarehouse } from '../../src/warehouse/duckdb/warehouse.js';
import { brokers, freshTopic, kafka, readAll } from '../support/kafka.js';
import { paymentFailed } from '../support/events.js';
import { capturingLogger, tempDir } from '../support/loader.js';

const registry = new EventRegistry(schema);
const root = resolve(import.meta.dirname, '../..');
const tableOf = (topic: string) => topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
const HOSTILE_TYPE = `x'); DROP TABLE "MULTIDISPATCH_OFFSETS"; --`;

/** Writes good and bad records in this order to partition 0 of a 1-partition topic; returns their offsets. */
async function produceMixed(topic: string): Promise<{ good: number; offsets: Record<string, string> }> {
  const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const good = (i: number) => {
    const e = paymentFailed({ orderId: `good-${i}` });
    const enc = registry.encode('orders.v1.PaymentFailed', e);
    return { key: e.orderId, value: Buffer.from(enc.bytes), headers: { [HEADER.eventType]: 'orders.v1.PaymentFailed', [HEADER.eventId]: `id-good-${i}` } };
  };
  const records = [
    good(1),
    good(2),
    { key: 'no-type', value: Buffer.from('abc'), headers: { [HEADER.eventId]: 'id-no-type' } },
    good(3),
    { key: 'unknown', value: Buffer.from([1, 2, 3]), headers: { [HEADER.eventType]: 'orders.v1.NoSuchEvent', [HEADER.eventId]: 'id-unknown' } },
    // Field 1 (order_id, length-delimited) claims 5 bytes but 1 follows: protobuf decoding must fail.
    { key: 'corrupt', value: Buffer.from([0x0a, 0x05, 0x41]), headers: { [HEADER.eventType]: 'orders.v1.PaymentFailed', [HEADER.eventId]: 'id-corrupt' } },
    { key: 'tombstone', value: null, headers: {} },
    { key: 'hostile', value: Buffer.from([1]), headers: { [HEADER.eventType]: HOSTILE_TYPE, [HEADER.eventId]: 'id-hostile' } },
    good(4),
  ];
  const [meta] = await producer.send({ topic, acks: -1, messages: records });
  await producer.disconnect();
  const base = BigInt(meta!.baseOffset!);
  const offsets: Record<string, string> = {};
  records.forEach((r, i) => (offsets[r.key] = String(base + BigInt(i))));
  return { good: 4, offsets };
}

describe('loader: poison records, dead-letter topic, hostile names', () => {
  it("errorsTolerance 'all': undecodable records go to the DLQ with reasons, tombstones are skipped, every good record is loaded", async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const dlq = await freshTopic(t, { partitions: 1, prefix: 'dlq' });
    const db = join(tempDir(t), 'events.duckdb');
    const { offsets } = await produceMixed(topic);
    const { logger, lines } = capturingLogger();
    const stats = await createLoader(
      { kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, warehouse: `duckdb:${db}`, dlqTopic: dlq },
      { logger },
    ).runOnce();
    assert.equal(stats.rowsLoaded, 4);
    assert.equal(stats.deadLettered, 4);
    assert.equal(stats.tombstones, 1);

    const w = new DuckDbWarehouse({ path: db });
    await w.connect();
    t.after(() => w.close());
    const ids = (await w.query(`SELECT RECORD_METADATA->>'$.event_id' AS id FROM "${tableOf(topic)}" ORDER BY 1`)).map((r) => r.id);
    assert.deepEqual(ids, ['id-good-1', 'id-good-2', 'id-good-3', 'id-good-4']);
    const [off] = await w.query(`SELECT NEXT_OFFSET AS n FROM "MULTIDISPATCH_OFFSETS" WHERE TOPIC = '${topic}'`);
    assert.equal(String(off!.n), String(BigInt(offsets['good-4']!) + 1n), 'the offset moved past every record');
    assert.equal((await w.query(`SELECT count(*) AS n FROM "MULTIDISPATCH_OFFSETS"`))[0]!.n, 1n, 'the offsets table survived the hostile event type');

    const dead = await readAll(dlq, { count: 4, settleMs: 500 });
    assert.equal(dead.length, 4);
    const byKey = new Map(dead.map((d) => [d.key, d]));
    const expectReason = (key: string, cls: string, reason: RegExp) => {
      const d = byKey.get(key);
      assert.ok(d, `${key} is in the DLQ`);
      assert.equal(d.headers['md-dlq-error-class'], cls);
      assert.match(d.headers['md-dlq-reason']!, reason);
      assert.equal(d.headers['md-dlq-topic'], topic);
      assert.equal(d.headers['md-dlq-partition'], '0');
      assert.equal(d.headers['md-dlq-offset'], offsets[key]);
    };
    expectReason('no-type', 'missing-type-header', /missing header md-event-type/);
    expectReason('unknown', 'unknown-event-type', /unknown event type "orders\.v1\.NoSuchEvent"/);
    expectReason('corrupt', 'decode-failed', /cannot decode the value as orders\.v1\.PaymentFailed/);
    expectReason('hostile', 'unknown-event-type', /unknown event type/);
    assert.deepEqual(byKey.get('corrupt')!.value, Buffer.from([0x0a, 0x05, 0x41]), 'the original bytes are kept');
    assert.ok(lines.some((l) => l.msg === 'record sent to the dead-letter topic' && l.offset === offsets['corrupt']), 'each dead-lettered record is logged');

    // `load --once` prints its summary, then exits 5 naming the count and the dead-letter topic: a cron job notices.
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/multidispatch.js'), 'load', '--topic', topic, '--warehouse', `duckdb:${join(tempDir(t), 'cli.duckdb')}`, '--group', `cli-${topic}`, '--dlq-topic', dlq, '--once', '--log-level', 'error'],
      { cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 5, `exit ${r.status} (signal ${r.signal}): ${r.stderr}`);
    assert.match(r.stdout, /^loaded 4 row\(s\) in \d+ batch\(es\) into .*cli\.duckdb.*; 4 to the dead-letter topic, 1 tombstone\(s\) skipped\n$/);
    assert.deepEqual(
      r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{')),
      [`multidispatch: 4 record(s) could not be loaded and went to the dead-letter topic '${dlq}'`],
    );
  });

  it("errorsTolerance 'none': stops with an error naming topic, partition and offset; rows before it are loaded and no offset moves past it", async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const db = join(tempDir(t), 'events.duckdb');
    const { offsets } = await produceMixed(topic);
    const { logger } = capturingLogger();
    const loader = createLoader(
      { kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, warehouse: `duckdb:${db}`, errorsTolerance: 'none' },
      { logger },
    );
    await assert.rejects(loader.runOnce(), (err: unknown) => {
      assert.ok(err instanceof PoisonRecordError);
      assert.equal(err.topic, topic);
      assert.equal(err.partition, 0);
      assert.equal(err.offset, offsets['no-type']);
      assert.match(err.message, new RegExp(`${topic}\\[0\\]@${offsets['no-type']}.*missing header md-event-type`));
      return true;
    });
    const w = new DuckDbWarehouse({ path: db });
    await w.connect();
    assert.equal((await w.query(`SELECT count(*) AS n FROM "${tableOf(topic)}"`))[0]!.n, 2n, 'the two good records before it are loaded');
    const [off] = await w.query(`SELECT NEXT_OFFSET AS n FROM "MULTIDISPATCH_OFFSETS" WHERE TOPIC = '${topic}'`);
    assert.equal(String(off!.n), offsets['no-type'], 'the stored offset is the bad record itself');
    await w.close(); // one process at a time may open a DuckDB file

    // The CLI says the same and exits non-zero (5).
    const r = spawnSync(process.execPath, [join(root, 'bin/multidispatch.js'), 'load', '--topic', topic, '--warehouse', `duckdb:${db}`, '--group', `g-${topic}`, '--once', '--errors-tolerance', 'none', '--log-level', 'error'], {
      cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, encoding: 'utf8', timeout: 120_000,
    });
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stderr, new RegExp(`record ${topic}\\[0\\]@${offsets['no-type']} cannot be loaded: missing header md-event-type`));
  });

  it('names that could inject SQL are refused before any SQL runs; derived names are safe', () => {
    assert.equal(tableNameForTopic('orders.v1'), 'ORDERS_V1');
    assert.equal(tableNameForTopic('payments-eu.v2'), 'PAYMENTS_EU_V2');
    assert.equal(tableNameForTopic('1st'), 'T_1ST');
    assert.throws(() => tableNameForTopic(`orders"; DROP TABLE x; --`), IdentifierError);
    assert.throws(() => quoteIdent(`X"; DROP TABLE Y; --`), IdentifierError);
    assert.throws(() => quoteIdent('lower'), IdentifierError);
    assert.equal(quoteIdent('ORDERS_V1'), '"ORDERS_V1"');
    assert.throws(
      () => createLoader({ kafka: { brokers: ['127.0.0.1:1'] }, schema, topics: ['orders.v1'], tables: { 'orders.v1': `X"; DROP TABLE Y; --` } }),
      (err: unknown) => err instanceof IdentifierError && /tables\.orders\.v1/.test(err.message),
    );
    assert.throws(
      () => createLoader({ kafka: { brokers: ['127.0.0.1:1'] }, schema, topics: [`orders'; DROP`] }),
      (err: unknown) => err instanceof OptionsError && err.optionPath === 'loader.topics[0]',
    );
    const spec = viewSpecFor(registry, 'orders.v1.PaymentFailed', 'ORDERS_V1');
    assert.equal(spec.view, 'PAYMENT_FAILED');
    assert.deepEqual(
      spec.columns.map((c) => `${c.name}:${c.type}`),
      ['EVENT_ID:string', 'OCCURRED_AT:timestamp', 'RECORD_KEY:string', 'KAFKA_PARTITION:int32', 'KAFKA_OFFSET:int64', 'ORDER_ID:string', 'USER_ID:string', 'SESSION_ID:string',
        'DEVICE_ID:string', 'APP_VERSION:string', 'MARKET:string', 'PLATFORM:enum', 'METHOD:enum', 'AMOUNT_MINOR:int64', 'CURRENCY:string', 'ERROR_CODE:string', 'RETRYABLE:bool',
        'ATTEMPT:int32', 'FAILED_AT:timestamp'],
    );
  });

  it('bad options give a clear error naming the option and exit 2; an unknown topic names the topic', (t) => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(root, 'bin/multidispatch.js'), 'load', ...args], { cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, encoding: 'utf8', timeout: 60_000 });
    let r = run('--topic', 'orders.v1', '--batch-records', 'lots');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--batch-records must be a positive integer, got 'lots'/);
    r = run();
    assert.equal(r.status, 2);
    assert.match(r.stderr, /nothing to load: give --topic/);
    r = run('--topic', 'orders.v1', '--warehouse', 'postgres://x');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /loader\.warehouse/);
    const db = join(tempDir(t), 'x.duckdb');
    r = run('--topic', 'no-such-topic-4f1c', '--warehouse', `duckdb:${db}`, '--once');
    // 2, not merely non-zero: a run killed by the timeout (status null) must not pass (it hung here once).
    assert.equal(r.status, 2, `exit ${r.status} (signal ${r.signal}): ${r.stderr}`);
    assert.match(r.stderr, /topic no-such-topic-4f1c not found on the cluster/);
    r = run('--help');
    assert.equal(r.status, 0);
    for (const flag of ['--topic', '--warehouse', '--group', '--batch-records', '--flush-ms', '--errors-tolerance', '--dlq-topic', '--once', '--config', 'SNOWFLAKE_PRIVATE_KEY_PATH']) {
      assert.ok(r.stdout.includes(flag), `--help documents ${flag}`);
    }
    assert.ok(r.stdout.includes(EXIT_CODES_HELP), '--help ends with the shared exit-status table');
  });
});
