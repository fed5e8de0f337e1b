import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLoader, HEADER } from '../../src/index.js';
import { loadSchema } from '../../src/schema/index.js';
import { freshTopic, brokers, kafka, randomSuffix, readAll } from '../support/kafka.js';
import { untilValue } from '../support/wait.js';
import { capturingLogger, tempDir } from '../support/loader.js';
import { assertFilesConsistent, assertRowMatches, filesWithOffsets, LAKE_PROTO_DIR, lakeEvent, lakeSchema, publishLake, readWithDuckDb, readWithPyarrow, registryOf } from '../support/lake.js';

const root = resolve(import.meta.dirname, '../..');
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin/multidispatch.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, KAFKA_BROKERS: brokers().join(',') } });


async function duck(sql: string): Promise<Array<Record<string, unknown>>> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

describe('the lake on the local file system', () => {
  it('20,000 events of three types over three partitions: read back by DuckDB and pyarrow, every field as published, partitions as named', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const dir = tempDir(t, 'md-lake-');
    const lake = join(dir, 'lake');
    const schema = await lakeSchema();
    const registry = registryOf(schema);
    const sent = await publishLake(schema, topic, Array.from({ length: 20_000 }, (_, i) => lakeEvent(i)));
    assert.equal(sent.length, 20_000);
    const { logger } = capturingLogger();
    const loader = createLoader(
      { kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, warehouse: `lake:${lake}`, batchRecords: 4000, topicRenames: { 'lake.v1': topic }, dlqTopic: `${topic}.dlq` },
      { logger },
    );
    const stats = await loader.runOnce();
    assert.equal(stats.rowsLoaded, 20_000);
    assert.equal(stats.deadLettered, 0);

    // Layout: topic=/event_type=/date=/hour=/part-*.parquet, and nothing else outside _multidispatch/.
    const top = readdirSync(lake).sort();
    assert.deepEqual(top, ['_multidispatch', `topic=${topic}`]);
    assert.deepEqual(readdirSync(join(lake, `topic=${topic}`)).sort(), ['event_type=lake.v1.Alert', 'event_type=lake.v1.Reading', 'event_type=lake.v1.Visit']);
    assert.deepEqual(readdirSync(join(lake, `topic=${topic}`, 'event_type=lake.v1.Visit')), ['date=2026-12-04']);
    assert.deepEqual(readdirSync(join(lake, `topic=${topic}`, 'event_type=lake.v1.Visit', 'date=2026-12-04')).sort(), ['hour=08', 'hour=09', 'hour=10', 'hour=11']);

    const byId = new Map(sent.map((s) => [s.receipt.eventId, s]));
    // DuckDB: one union-by-name read of the whole lake.
    const duck = await readWithDuckDb(lake);
    assert.equal(duck.length, 20_000);
    assert.equal(new Set(duck.map((r) => r._event_id)).size, 20_000, 'DuckDB: every event id once');
    for (const row of duck) {
      const s = byId.get(String(row._event_id));
      assert.ok(s, `DuckDB: row ${String(row._event_id)} was published`);
      assert.equal(row.topic, topic);
      assert.equal(row.event_type, s.type);
      assertRowMatches(registry, s, row, 'DuckDB');
    }
    // pyarrow, an independent reader.
    const arrow = readWithPyarrow(lake);
    assert.equal(arrow.rows.length, 20_000);
    assert.equal(new Set(arrow.rows.map((r) => r._event_id)).size, 20_000, 'pyarrow: every event id once');
    for (const row of arrow.rows) {
      const s = byId.get(String(row._event_id))!;
      assert.ok(s);
      assert.equal(row.event_type, s.type);
      assertRowMatches(registry, s, row, 'pyarrow');
    }
    // Files: zstd, named by their partition's offset range, no overlap.
    assert.ok(arrow.files.length >= 3 * 3 * 4, `at least one file per type, partition and hour (${arrow.files.length})`);
    for (const f of arrow.files) assert.equal(f.compression, 'ZSTD', `${f.file} compression`);
    assert.equal(arrow.files.reduce((n, f) => n + f.rows, 0), 20_000);
    assertFilesConsistent(await filesWithOffsets(lake));

    // Typed columns as Parquet declares them (not inferred): int64 exact, timestamps with UTC, structs, lists, maps.
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    t.after(() => {
      c.closeSync();
      inst.closeSync();
    });
    const schemaRows = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${lake}/topic=${topic}/event_type=lake.v1.Reading/**/*.parquet')`)).getRowObjectsJS();
    const typeOf = Object.fromEntries(schemaRows.map((r) => [String(r.column_name), String(r.column_type)]));
    assert.equal(typeOf.big, 'BIGINT');
    assert.equal(typeOf.ubig, 'UBIGINT');
    assert.equal(typeOf.blob, 'BLOB');
    assert.equal(typeOf.at, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(typeOf.level, 'VARCHAR');
    assert.match(typeOf.where!, /^STRUCT\(lat DOUBLE, lon DOUBLE, "?label"? VARCHAR\)$/);
    assert.match(typeOf.lines!, /^STRUCT\(.*\)\[\]$/);
    assert.equal(typeOf.totals, 'MAP(VARCHAR, BIGINT)');
    assert.equal(typeOf._offset, 'BIGINT');
    assert.equal(typeOf._headers, 'MAP(VARCHAR, VARCHAR)');
    // The loader's second run finds everything loaded: positions come from the lake's commit markers.
    const again = await createLoader({ kafka: { brokers: brokers() }, schema, topics: [topic], group: `g2-${topic}`, warehouse: `lake:${lake}`, topicRenames: { 'lake.v1': topic }, dlqTopic: `${topic}.dlq` }, { logger }).runOnce();
    assert.equal(again.rowsLoaded, 0);
  });

  it('a new field published mid-run (catalogue mode): new files have the column, the union-by-name query returns old rows with NULL', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const catalogue = `catalogue-${randomSuffix()}`;
    t.after(async () => {
      const admin = kafka('multidispatch-test-admin').admin();
      await admin.connect();
      const have = new Set(await admin.listTopics());
      const gone = [catalogue, `${topic}.dlq`].filter((x) => have.has(x));
      if (gone.length) await admin.deleteTopics({ topics: gone });
      await admin.disconnect();
    });
    const v1Text = readFileSync(join(LAKE_PROTO_DIR, 'lake.proto'), 'utf8');
    const v2Dir = await mkdtemp(join(tmpdir(), 'md-lake-v2-'));
    t.after(() => rm(v2Dir, { recursive: true, force: true }));
    await writeFile(join(v2Dir, 'lake.proto'), v1Text.replace('  google.protobuf.Timestamp visited_at = 4', '  // Where the visitor came from.\n  string referrer = 5;\n  google.protobuf.Timestamp visited_at = 4'));
    const v1 = await lakeSchema();
    const v2 = await loadSchema(v2Dir);
    const push = (dir: string) => {
      const r = cli(['catalogue', 'push', '--proto', dir, '--catalogue-topic', catalogue]);
      assert.equal(r.status, 0, r.stderr);
    };
    push(LAKE_PROTO_DIR);
    const visit = (i: number, extra: Record<string, unknown> = {}): [string, Record<string, unknown>] => ['lake.v1.Visit', { userId: `u-${i}`, page: '/', durationMs: i, visitedAt: new Date(Date.UTC(2026, 11, 4, 9, 0, i % 60)), ...extra }];
    await publishLake(v1, topic, Array.from({ length: 300 }, (_, i) => visit(i)));
    const lake = join(tempDir(t, 'md-lake-evo-'), 'lake');
    const { logger } = capturingLogger();
    const loader = createLoader(
      { kafka: { brokers: brokers() }, catalogue: { topic: catalogue, waitMs: 5000 }, topics: [topic], group: `g-${topic}`, warehouse: `lake:${lake}`, flushMs: 200, batchRecords: 1000, topicRenames: { 'lake.v1': topic }, dlqTopic: `${topic}.dlq` },
      { logger },
    );
    const running = loader.run();
    t.after(() => loader.stop());
    const glob = `${lake}/**/*.parquet`;
    const count = async () => Number((await duck(`SELECT count(*) AS n FROM read_parquet('${glob}', union_by_name = true)`))[0]!.n);
    await untilValue('300 v1 rows', async () => ((await count()) === 300 ? true : undefined));

    push(v2Dir);
    await publishLake(v2, topic, Array.from({ length: 200 }, (_, i) => visit(1000 + i, { referrer: `ref-${i} ✓` })));
    await untilValue('500 rows', async () => ((await count()) === 500 ? true : undefined));
    await loader.stop();
    await running;

    const files = await duck(`SELECT file_name AS f, list(name) AS cols FROM parquet_schema('${glob}') GROUP BY file_name`);
    const withColumn = files.filter((f) => (f.cols as string[]).includes('referrer'));
    assert.ok(withColumn.length > 0 && withColumn.length < files.length, `some files (the new ones) have the column: ${withColumn.length} of ${files.length}`);
    const rows = await duck(`SELECT userId AS u, referrer AS r FROM read_parquet('${glob}', hive_partitioning = true, union_by_name = true) WHERE event_type = 'lake.v1.Visit'`);
    assert.equal(rows.length, 500);
    assert.equal(rows.filter((r) => r.r === null).length, 300, 'old rows: NULL');
    assert.equal(rows.find((r) => r.u === 'u-1007')!.r, 'ref-7 ✓');
    assert.equal(rows.find((r) => r.u === 'u-7')!.r, null);
  });

  it('poison records go to the dead-letter topic as with the other targets; every good record is in the lake', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const dlq = await freshTopic(t, { partitions: 1, prefix: 'dlq' });
    const schema = await lakeSchema();
    const registry = registryOf(schema);
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const good = (i: number) => {
      const [type, e] = lakeEvent(i * 3 + 1);
      return { key: `k${i}`, value: Buffer.from(registry.encode(type, e).bytes), headers: { [HEADER.eventType]: type, [HEADER.eventId]: `id-good-${i}`, [HEADER.occurredAt]: '2026-12-04T09:00:00.000Z' } };
    };
    await producer.send({
      topic,
      acks: -1,
      messages: [
        good(1),
        { key: 'no-type', value: Buffer.from('abc'), headers: { [HEADER.eventId]: 'id-no-type' } },
        { key: 'unknown', value: Buffer.from([1, 2, 3]), headers: { [HEADER.eventType]: 'lake.v1.NoSuchEvent', [HEADER.eventId]: 'id-unknown' } },
        { key: 'corrupt', value: Buffer.from([0x0a, 0x05, 0x41]), headers: { [HEADER.eventType]: 'lake.v1.Visit', [HEADER.eventId]: 'id-corrupt' } },
        { key: 'path', value: Buffer.from([1]), headers: { [HEADER.eventType]: '../../escape', [HEADER.eventId]: 'id-path' } },
        good(2),
      ],
    });
    await producer.disconnect();
    const lake = join(tempDir(t, 'md-lake-dlq-'), 'lake');
    const stats = await createLoader({ kafka: { brokers: brokers() }, schema, topics: [topic], group: `g-${topic}`, warehouse: `lake:${lake}`, dlqTopic: dlq }, { logger: capturingLogger().logger }).runOnce();
    assert.equal(stats.rowsLoaded, 2);
    assert.equal(stats.deadLettered, 4);
    const dead = await readAll(dlq, { count: 4 });
    assert.deepEqual(dead.map((m) => m.headers['md-dlq-error-class']).sort(), ['decode-failed', 'missing-type-header', 'unknown-event-type', 'unknown-event-type']);
    const rows = await readWithDuckDb(lake);
    assert.deepEqual(rows.map((r) => r._event_id).sort(), ['id-good-1', 'id-good-2']);
    assert.deepEqual(readdirSync(lake).sort(), ['_multidispatch', `topic=${topic}`], 'nothing written outside the layout');
  });
});
