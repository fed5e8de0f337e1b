/**
 * The lake's commit protocol, step by step, without Kafka: a writer that stops between its files and its commit
 * marker, two writers racing from the same offset, a write retried after the store failed. Real files, real DuckDB.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OffsetConflictError, WarehouseUnavailableError } from '../../src/errors.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { viewSpecFor } from '../../src/warehouse/naming.js';
import { commitKey, pendingPrefix } from '../../src/warehouse/lake/layout.js';
import { FsLakeStore } from '../../src/warehouse/lake/store.js';
import { LakeWarehouse } from '../../src/warehouse/lake/warehouse.js';
import type { BatchWrite } from '../../src/warehouse/types.js';
import { tempDir } from '../support/loader.js';
import { lakeSchema } from '../support/lake.js';

const TOPIC = 'lake.proto';

/** A store that fails on purpose at one step. */
class FailingStore extends FsLakeStore {
  failCommit = false;
  failPublishOnce = false;
  override async putText(key: string, body: string, opts?: { exclusive?: boolean }): Promise<boolean> {
    if (this.failCommit && key.includes('/commits/')) throw new Error('simulated crash before the commit marker');
    return super.putText(key, body, opts);
  }
  override async publish(staged: string, key: string): Promise<void> {
    if (this.failPublishOnce) {
      this.failPublishOnce = false;
      throw new WarehouseUnavailableError(this.description, 'simulated outage');
    }
    return super.publish(staged, key);
  }
}

async function open(root: string, store = new FailingStore(root)): Promise<{ w: LakeWarehouse; store: FailingStore }> {
  const w = new LakeWarehouse({ store });
  await w.connect();
  const registry = new EventRegistry(await lakeSchema());
  await w.ensureView(viewSpecFor(registry, 'lake.v1.Visit', 'T'));
  return { w, store };
}

/** A batch of Visit rows at offsets first..last of partition 0 (occurred-at in two hours). */
function batch(w: LakeWarehouse, first: number, last: number, expected: string | null): BatchWrite {
  const buffer = w.createRowBuffer();
  for (let o = first; o <= last; o++) {
    const occurredAt = new Date(Date.UTC(2026, 11, 4, 10 + (o % 2), 0, o % 60)).toISOString();
    const metadata = JSON.stringify({ topic: TOPIC, partition: 0, offset: o, CreateTime: Date.now(), key: `u${o}`, headers: { 'md-event-id': `id-${o}` }, event_type: 'lake.v1.Visit', event_id: `id-${o}`, occurred_at: occurredAt, producer: 'p', schema_fingerprint: 'f', load_time: occurredAt });
    const content = JSON.stringify({ userId: `u${o}`, page: '/x', durationMs: o, visitedAt: occurredAt });
    buffer.add(metadata, content, { topic: TOPIC, eventType: 'lake.v1.Visit', partition: 0, offset: String(o), occurredAt, timestamp: '0' });
  }
  return { group: 'g', tables: [{ table: 'T', buffer, rows: [] }], offsets: [{ topic: TOPIC, partition: 0, expected, next: String(last + 1), first: String(first) }] };
}

function dataFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else if (!r.startsWith('_multidispatch')) out.push(r);
    }
  };
  walk(root, '');
  return out.sort();
}

describe('lake commit protocol', () => {
  it('a writer that stops between its files and its commit marker: the next owner removes the files, the position stays', async (t) => {
    const root = join(tempDir(t, 'md-lake-proto-'), 'lake');
    const a = await open(root);
    t.after(() => a.w.close());
    await a.w.writeBatch(batch(a.w, 0, 99, null));
    a.store.failCommit = true;
    await assert.rejects(a.w.writeBatch(batch(a.w, 100, 199, '100')), /simulated crash/);
    // What the crash left: the second batch's files (visible, whole) and its intent, no marker.
    assert.deepEqual(dataFiles(root).filter((f) => f.includes('part-0-100-199')).length, 2);
    assert.equal(readdirSync(join(root, pendingPrefix(TOPIC), 'partition=0')).length, 1);
    // A stale temporary file of a writer that died while writing a file.
    const tmpDir = join(root, `topic=${TOPIC}`, 'event_type=lake.v1.Visit', 'date=2026-12-04', 'hour=10');
    const pendingName = readdirSync(join(root, pendingPrefix(TOPIC), 'partition=0'))[0]!;
    const deadWriter = /-([a-f0-9]+)\.json$/.exec(pendingName)![1]!;
    writeFileSync(join(tmpDir, `.part-0-100-199.parquet.${deadWriter}.tmp`), 'half a file');

    const b = await open(root);
    t.after(() => b.w.close());
    // Not owned: positions only, nothing removed.
    assert.deepEqual([...(await b.w.readOffsets('g', [TOPIC]))], [[`${TOPIC}\u00000`, '100']]);
    assert.equal(dataFiles(root).filter((f) => f.includes('part-0-100-199')).length, 3);
    // Owned: the unfinished batch's files, its temporary file and its intent are gone.
    assert.deepEqual([...(await b.w.readOffsets('g', [TOPIC], [{ topic: TOPIC, partition: 0 }]))], [[`${TOPIC}\u00000`, '100']]);
    assert.deepEqual(dataFiles(root).filter((f) => f.includes('part-0-100-')), []);
    assert.deepEqual(readdirSync(join(root, pendingPrefix(TOPIC), 'partition=0')), []);
    assert.equal(b.w.stats().cleanedFiles, 2, "the batch's two files (and its temporary file)");
    // The next batch from 100 commits, with other batch boundaries.
    await b.w.writeBatch(batch(b.w, 100, 149, '100'));
    assert.deepEqual([...(await b.w.readOffsets('g', [TOPIC], [{ topic: TOPIC, partition: 0 }]))], [[`${TOPIC}\u00000`, '150']]);
    assert.deepEqual(dataFiles(root).filter((f) => f.endsWith('.parquet')).map((f) => f.split('/').pop()).sort(), ['part-0-0-99.parquet', 'part-0-0-99.parquet', 'part-0-100-149.parquet', 'part-0-100-149.parquet']);
  });

  it('two writers from the same offset: one commit marker wins, the loser gets OffsetConflictError and its files disappear', async (t) => {
    const root = join(tempDir(t, 'md-lake-proto-'), 'lake');
    const a = await open(root);
    const b = await open(root);
    t.after(async () => {
      await a.w.close();
      await b.w.close();
    });
    await a.w.writeBatch(batch(a.w, 0, 59, null));
    const err = await b.w.writeBatch(batch(b.w, 0, 79, null)).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof OffsetConflictError, `conflict, got ${String(err)}`);
    assert.deepEqual(err.partitions, [{ topic: TOPIC, partition: 0, expected: null, found: '60' }]);
    assert.deepEqual(dataFiles(root).map((f) => f.split('/').pop()).sort(), ['part-0-0-59.parquet', 'part-0-0-59.parquet']);
    assert.ok(existsSync(join(root, commitKey(TOPIC, 0, '0'))));
    // The loser, re-positioned from the markers, goes on from 60.
    assert.equal((await b.w.readOffsets('g', [TOPIC], [{ topic: TOPIC, partition: 0 }])).get(`${TOPIC}\u00000`), '60');
    await b.w.writeBatch(batch(b.w, 60, 79, '60'));
    assert.equal((await a.w.readOffsets('g', [TOPIC])).get(`${TOPIC}\u00000`), '80');
  });

  it('a write retried after the store failed mid-batch publishes each file once and commits once', async (t) => {
    const root = join(tempDir(t, 'md-lake-proto-'), 'lake');
    const a = await open(root);
    t.after(() => a.w.close());
    const b1 = batch(a.w, 0, 99, null);
    a.store.failPublishOnce = true;
    await assert.rejects(a.w.writeBatch(b1), WarehouseUnavailableError);
    await a.w.writeBatch(b1); // the loader retries the same batch
    assert.equal(a.w.stats().files, 2);
    assert.equal(a.w.stats().rows, 100);
    assert.deepEqual(readdirSync(join(root, pendingPrefix(TOPIC), 'partition=0')), []);
    assert.equal((await a.w.readOffsets('g', [TOPIC])).get(`${TOPIC}\u00000`), '100');
    const rows = await a.w.query(`SELECT count(*) AS n, count(DISTINCT _offset) AS d FROM read_parquet('${root}/**/*.parquet')`);
    assert.deepEqual(rows, [{ n: 100n, d: 100n }]);
  });

  it('refuses a key that leaves the lake directory, and a stale position as a conflict', async (t) => {
    const root = join(tempDir(t, 'md-lake-proto-'), 'lake');
    mkdirSync(root, { recursive: true });
    const store = new FsLakeStore(root);
    await assert.rejects(store.putText('../outside.json', '{}'), /leaves the lake directory/);
    const a = await open(root);
    t.after(() => a.w.close());
    await a.w.writeBatch(batch(a.w, 0, 9, null));
    await assert.rejects(a.w.writeBatch(batch(a.w, 5, 9, '5')), OffsetConflictError);
  });
});
