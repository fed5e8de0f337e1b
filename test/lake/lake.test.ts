import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLoader } from '../../src/index.js';
import { freshTopic, brokers } from '../support/kafka.js';
import { capturingLogger, tempDir } from '../support/loader.js';
import { assertFilesConsistent, assertRowMatches, filesWithOffsets, lakeEvent, lakeSchema, publishLake, readWithDuckDb, readWithPyarrow, registryOf } from '../support/lake.js';

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
});
