/**
 * derive at a real user's cardinality, on a real broker: 200,000 OrderPlaced events over 30 minutes from 20,000
 * restaurants and 50,000 users on 3 partitions; a count per restaurant per 5-minute window and distinct users per
 * restaurant per 10-minute hopping window. Every final value once, equal to a count by hand (distinct counts
 * within the stated bound, percentiles of the order value within 1% of the exact ones), and the changelog holds one record per changed key, bounded by one key's state, with
 * a tombstone for every closed window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { decodeMetric } from '../../src/derive/outputs.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { hopping, tumbling } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';
import { publishAll } from '../../benchmarks/lib/prefill.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger } from '../support/loader.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 18, 0, 0);
const N = 200_000;
const RESTAURANTS = 20_000;
const USERS = 50_000;

interface Placed {
  orderId: string;
  restaurantId: string;
  userId: string;
  /** Order value in minor units: long-tailed, from 5.00 to ~1,000.00. */
  amount: number;
  t: number;
}

/** In event-time order except for a jitter of up to 20 s (within the 30 s grace); restaurants skewed (popular ones order more). */
function workload(): Placed[] {
  const r = rng(2026);
  return Array.from({ length: N }, (_, i) => ({
    orderId: `o-${i}`,
    restaurantId: `r-${Math.floor(r() ** 1.5 * RESTAURANTS)}`,
    userId: `u-${Math.floor(r() * USERS)}`,
    amount: 500 + Math.floor(r() ** 3 * 100_000),
    t: T0 + Math.floor((i / N) * 30 * MIN) + Math.floor(r() * 20_000),
  }));
}

describe('derive at production cardinality (real broker)', () => {
  it('200,000 events, 20,000 restaurants: exact counts, distinct users within the bound, changelog per key', { timeout: 600_000 }, async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
    const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });
    const t0 = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s (consumed ${runner?.stats.consumed ?? 0}, produced ${runner?.stats.produced ?? 0})`);
    let runner: DeriveRunner | undefined;
    const events = workload();
    const publisher = createPublisher({ schema, producer: 'derive-scale', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    const published = await publishAll(publisher, events.length, 20_000, (i) => {
      const e = events[i]!;
      return publisher.publish('orders.v1.OrderPlaced', {
        orderId: e.orderId, context: { userId: e.userId, sessionId: 's', deviceId: 'd' }, restaurantId: e.restaurantId, market: 'GB', platform: 'IOS',
        total: { amountMinor: e.amount, currency: 'GBP' }, itemCount: 2, placedAt: new Date(e.t),
      });
    });
    assert.equal(published.errors, 0, published.firstError);
    // Stream time reaches the end of the last hopping window (35 min + grace) only with newer input, or after as
    // much wall-clock time: events of a type no metric reads, 30 minutes later, in every partition (30 keys).
    const ticker = createPublisher({ schema, producer: 'derive-scale', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    for (let i = 0; i < 30; i++) {
      await ticker.publish('orders.v1.OrderDelivered', { orderId: `tick-${i}`, context: { userId: 'u', sessionId: 's', deviceId: 'd' }, riderId: 'r', market: 'GB', platform: 'IOS', durationMinutes: 20, deliveredAt: new Date(T0 + 60 * MIN) });
    }
    await ticker.close();
    phase('published');

    const metrics = defineMetrics(schema, [
      { name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: tumbling('5m', { grace: '30s' }) },
      { name: 'users_10m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: hopping('10m', '5m', { grace: '30s' }), aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError: 0.02 } },
      { name: 'order_value', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }), aggregate: { kind: 'percentile', field: 'total.amount_minor', quantiles: [0.5, 0.95, 0.99], relativeAccuracy: 0.01 } },
    ]);
    const { logger } = capturingLogger();
    const group = `derive-scale-${topic}`;
    runner = new DeriveRunner({ kafka: { brokers: brokers() }, schema, metrics, group, topics: [topic], metricsTopic, alertsTopic, idleMs: 3000, commitIntervalMs: 1000, logger });
    t.after(() => runner!.stop());
    await runner.start();
    const progress = setInterval(() => phase('running'), 10_000);
    t.after(() => clearInterval(progress));

    // By hand: the count per (restaurant, 5-minute window) and the distinct users per (restaurant, 10-minute window).
    const counts = new Map<string, number>();
    const users = new Map<string, Set<string>>();
    for (const e of events) {
      const c = `${e.restaurantId}|${Math.floor(e.t / (5 * MIN)) * 5 * MIN}`;
      counts.set(c, (counts.get(c) ?? 0) + 1);
      const last = Math.floor(e.t / (5 * MIN)) * 5 * MIN;
      for (const start of [last - 5 * MIN, last]) {
        const k = `${e.restaurantId}|${start}`;
        let s = users.get(k);
        if (!s) users.set(k, (s = new Set()));
        s.add(e.userId);
      }
    }
    assert.ok(counts.size > 50_000, `${counts.size} (restaurant, window) counts`);
    const amounts = new Map<number, number[]>();
    for (const e of events) {
      const start = Math.floor(e.t / (5 * MIN)) * 5 * MIN;
      let list = amounts.get(start);
      if (!list) amounts.set(start, (list = []));
      list.push(e.amount);
    }
    const QUANTILES = ['0.5', '0.95', '0.99'];

    const windows = counts.size + users.size + amounts.size * QUANTILES.length;
    const records = await readAll(metricsTopic, { count: windows, timeoutMs: 420_000, settleMs: 3000 });
    const got = { orders_5m: new Map<string, number>(), users_10m: new Map<string, number>(), order_value: new Map<string, number>() };
    for (const r of records) {
      const m = decodeMetric(r.value!);
      assert.ok(m.final, 'final values only');
      const byKey = got[m.name as keyof typeof got];
      const k = m.name === 'order_value' ? `${m.dimensions.quantile}|${m.windowStart}` : `${m.dimensions.restaurant_id}|${m.windowStart}`;
      assert.ok(!byKey.has(k), `${m.name} ${k} emitted twice`);
      byKey.set(k, m.value);
    }
    assert.equal(records.length, windows, 'every value once, nothing more');
    assert.deepEqual(got.orders_5m, counts);
    const sigma = 1.04 / Math.sqrt(4096);
    let exact = 0;
    for (const [k, s] of users) {
      const v = got.users_10m.get(k);
      assert.ok(v !== undefined, `users_10m ${k} missing`);
      assert.ok(Math.abs(v - s.size) <= Math.max(1, 3 * sigma * s.size), `users_10m ${k}: ${v} for ${s.size} distinct`);
      if (v === s.size) exact++;
    }
    // Sparse sketches (≤ 1,024 users) are exact up to 32-bit hash collisions.
    assert.ok(exact >= users.size - 2, `${exact} of ${users.size} distinct counts exact`);
    assert.equal(runner.stats.lateDropped, 0);
    // Percentiles: within 1% of the exact value at rank q·(n − 1) of the window's order values.
    for (const [start, list] of amounts) {
      const sorted = [...list].sort((a, b) => a - b);
      for (const q of QUANTILES) {
        const exactValue = sorted[Math.floor(Number(q) * (sorted.length - 1))]!;
        const v = got.order_value.get(`${q}|${start}`);
        assert.ok(v !== undefined && Math.abs(v - exactValue) <= 0.01 * exactValue, `p${Number(q) * 100} of ${sorted.length} order values at ${new Date(start).toISOString()}: ${v}, exact ${exactValue}`);
      }
    }

    // The changelog: one record per changed key, none larger than one key's state, a tombstone per closed window.
    phase('values checked');
    const summary = runner.stateSummary();
    await runner.stop();
    const changelog = await readAll(runner.changelogTopic, { count: runner.stats.changelogRecords, timeoutMs: 180_000, settleMs: 1000 });
    assert.equal(changelog.length, runner.stats.changelogRecords, 'every changelog record committed, once');
    const latest = new Map<string, Buffer | null>();
    let largest = 0;
    let windowTombstones = 0;
    for (const r of changelog) {
      largest = Math.max(largest, (r.key?.length ?? 0) + (r.value?.length ?? 0));
      if (r.value === null && r.key!.startsWith('w|')) windowTombstones++;
      latest.set(`${r.partition}|${r.key}`, r.value);
    }
    assert.ok(largest <= 64 * 1024, `largest changelog record ${largest} bytes`);
    assert.equal(windowTombstones, counts.size + users.size + amounts.size, 'a tombstone for every window that closed');
    const liveWindows = [...latest].filter(([k, v]) => v !== null && k.includes('|w|')).length;
    assert.equal(liveWindows, summary.openWindows, 'after compaction the live window keys are the open windows');
    // Per changed key, not per live key: at most one record per window update, plus tombstones and a few clocks and
    // counters per commit (whole-state snapshots would write every live key in every commit).
    const bound = 3 * N + windowTombstones + 10 * runner.stats.commits;
    assert.ok(runner.stats.changelogRecords <= bound, `${runner.stats.changelogRecords} changelog records in ${runner.stats.commits} commits (bound ${bound})`);
  });
});
