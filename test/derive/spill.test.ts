/**
 * State larger than memory: with a local store attached, an engine keeps its tumbling/hopping windows on disk
 * (LMDB) and only a bounded cache in memory. Fed the same events as an engine that keeps everything in memory,
 * committing (changes → local write → saved) every 100 events with a cache of 20 windows per metric, it emits
 * exactly the same values and alerts, holds the same live keys, and a new engine attached to the same store
 * mid-stream (a restart) continues exactly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { MetricEngine, type EngineEvent, type EngineOutput } from '../../src/derive/engine.js';
import { LmdbTaskStore } from '../../src/derive/local-store.js';
import { windowKey } from '../../src/derive/store.js';
import { hopping, sliding, tumbling } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/** Payments over 20 minutes, some out of order: thousands of (market, user) groups. */
function payments(n: number): EngineEvent[] {
  const r = rng(11);
  const out: EngineEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = T0 + Math.floor((i / n) * 20 * MIN) - Math.floor(r() * 90_000);
    const market = ['GB', 'FR', 'AE'][Math.floor(r() * 3)]!;
    out.push({
      type: r() < 0.4 ? 'orders.v1.PaymentFailed' : 'orders.v1.PaymentSucceeded',
      event: { orderId: `o${i}`, market, platform: 'ANDROID', context: { userId: `user-${Math.floor(r() * 1500)}` }, amount: { amountMinor: String(100 + Math.floor(r() * 5000)), currency: 'GBP' } },
      occurredAt: t,
      partition: i % 2,
    });
  }
  return out;
}

const defs = () =>
  defineMetrics(schema, [
    { name: 'failures_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market', 'context.user_id'], window: tumbling('5m', { grace: '1m' }), alert: { atLeast: 2 } },
    { name: 'users_hop', from: 'orders.v1.PaymentFailed', groupBy: ['context.user_id'], window: hopping('10m', '5m', { grace: '1m' }), aggregate: { kind: 'countDistinct', field: 'market' } },
    { name: 'amount_p95', from: 'orders.v1.PaymentSucceeded', groupBy: ['market', 'context.user_id'], window: tumbling('5m'), aggregate: { kind: 'percentile', field: 'amount.amount_minor', quantiles: [0.5, 0.95] } },
    { name: 'failures_sliding', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: sliding('30s', { grace: '10s' }) },
  ]);

describe('spilled window state (local store, bounded cache)', () => {
  it('gives exactly the values of an in-memory engine, with at most the cache size in memory, and resumes from the store', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'md-spill-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const store = LmdbTaskStore.open(dir, 'g');
    t.after(() => store.close());
    const input = payments(12_000);
    const CACHE = 20;

    const memory = new MetricEngine(defs(), { idleMs: 0 });
    let spilled = new MetricEngine(defs(), { idleMs: 0 });
    for (const p of [0, 1]) spilled.attach(p, store.source(`agg-${p}`), CACHE);
    let offset = 0;
    const commit = () => {
      for (const p of [0, 1]) {
        store.writeSync(`agg-${p}`, spilled.changes(p), String(++offset));
        spilled.saved(p);
        memory.changes(p);
      }
    };
    const got: EngineOutput[] = [];
    const want: EngineOutput[] = [];
    let maxCached = 0;
    let misses = 0;
    const cut = 7_777;
    for (const [i, e] of input.entries()) {
      want.push(memory.process(e, i));
      got.push(spilled.process(e, i));
      if (i % 100 !== 99 && i !== cut) continue;
      commit();
      for (const p of [0, 1]) {
        maxCached = Math.max(maxCached, spilled.cacheStats(p).cached);
        assert.equal(spilled.stateKeys(p), memory.stateKeys(p), `live keys of partition ${p} after event ${i}`);
      }
      if (i === 5_000) {
        // The spilled state, read back through the cache and the store, is the in-memory state key for key.
        for (const p of [0, 1]) assert.deepEqual(new Map(spilled.snapshot(p)), new Map(memory.snapshot(p)));
      }
      if (i === cut) {
        // A restart: a new engine attached to the same store (everything committed) continues exactly.
        for (const p of [0, 1]) misses += spilled.cacheStats(p).misses;
        spilled = new MetricEngine(defs(), { idleMs: 0 });
        for (const p of [0, 1]) spilled.attach(p, store.source(`agg-${p}`), CACHE);
        for (const p of [0, 1]) assert.equal(spilled.stateKeys(p), memory.stateKeys(p), 'live keys after the restart');
        assert.ok(spilled.cacheStats(0).cached <= 3, `nothing but sliding groups in memory after attach (${spilled.cacheStats(0).cached})`);
      }
    }
    want.push(memory.flushAll());
    got.push(spilled.flushAll());
    for (const p of [0, 1]) misses += spilled.cacheStats(p).misses;

    const values = (os: EngineOutput[]) => os.flatMap((o) => o.values);
    const alerts = (os: EngineOutput[]) => os.flatMap((o) => o.alerts);
    assert.ok(values(want).length > 10_000, `a workload with many windows (${values(want).length} values)`);
    assert.ok(alerts(want).length > 0, 'and alerts');
    assert.deepEqual(values(got), values(want));
    assert.deepEqual(alerts(got), alerts(want));
    assert.deepEqual(spilled.lateDropped(), memory.lateDropped());
    // 3 spilled metrics × the cache, plus at most 3 sliding groups: never the thousands of live windows.
    assert.ok(maxCached <= 3 * CACHE + 3, `at most ${3 * CACHE + 3} windows in memory after a commit, saw ${maxCached}`);
    assert.ok(misses > 1000, `windows were read back from disk (${misses} misses)`);
    t.diagnostic(`${values(want).length} values, ${alerts(want).length} alerts; at most ${maxCached} windows in memory after a commit; ${misses} read back from disk`);
  });

  it('window keys sort by start, so the store finds the windows that can close by a range scan', () => {
    const keys = [windowKey('["b"]', 1_800_000_000_000), windowKey('["a"]', 1_799_999_700_000), windowKey('["a"]', 1_800_000_300_000)];
    assert.deepEqual([...keys].sort(), [keys[1], keys[0], keys[2]]);
    const engine = new MetricEngine(defineMetrics(schema, [{ name: 'n', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m') }]), { idleMs: 0 });
    assert.throws(() => engine.restore(0, [['w|n|["GB"]\u00001800000000000', Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0, 0)]]), /layout of an earlier version.*new --group/);
  });
});
