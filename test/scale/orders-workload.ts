/**
 * The production-size workload of the scale tests: 200,000 OrderPlaced events over 30 minutes from 20,000
 * restaurants (skewed) and 50,000 users on a 3-partition topic, the metrics a user would define over them, and the
 * values a count by hand gives — so every scale run (uninterrupted, killed, rebalanced) is checked the same way.
 */
import assert from 'node:assert/strict';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { decodeMetric } from '../../src/derive/outputs.js';
import { rng } from '../../src/demo/simulate.js';
import { publishAll } from '../../benchmarks/lib/prefill.js';
import { brokers, type ReadMessage } from '../support/kafka.js';

export const MIN = 60_000;
export const T0 = Date.UTC(2026, 10, 23, 18, 0, 0);
export const N = 200_000;
export const RESTAURANTS = 20_000;
export const USERS = 50_000;
export const QUANTILES = ['0.5', '0.95', '0.99'];

export interface Placed {
  orderId: string;
  restaurantId: string;
  userId: string;
  /** Order value in minor units: long-tailed, from 5.00 to ~1,000.00. */
  amount: number;
  t: number;
}

/** In event-time order except for a jitter of up to 20 s (within the 30 s grace); restaurants skewed (popular ones order more). */
export function workload(n = N): Placed[] {
  const r = rng(2026);
  return Array.from({ length: n }, (_, i) => ({
    orderId: `o-${i}`,
    restaurantId: `r-${Math.floor(r() ** 1.5 * RESTAURANTS)}`,
    userId: `u-${Math.floor(r() * USERS)}`,
    amount: 500 + Math.floor(r() ** 3 * 100_000),
    t: T0 + Math.floor((i / n) * 30 * MIN) + Math.floor(r() * 20_000),
  }));
}

/** The metrics, as plain definitions (for defineMetrics, or written to a definitions module for the CLI). */
export const DEFINITIONS_MODULE = `import { hopping, tumbling } from 'multidispatch';
export default [
  { name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: tumbling('5m', { grace: '30s' }) },
  { name: 'users_10m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: hopping('10m', '5m', { grace: '30s' }), aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError: 0.02 } },
  { name: 'order_value', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }), aggregate: { kind: 'percentile', field: 'total.amount_minor', quantiles: [0.5, 0.95, 0.99], relativeAccuracy: 0.01 } },
];
`;

/**
 * Publishes `events` (from index `from` to `to`) to `topic`. With `tick`, then 30 events of a type no metric
 * reads, 30 minutes later, in every partition: stream time reaches the end of the last hopping window (35 min +
 * grace) only with newer input, or after as much wall-clock time.
 */
export async function publishOrders(topic: string, events: Placed[], opts: { from?: number; to?: number; tick?: boolean } = {}): Promise<void> {
  const from = opts.from ?? 0;
  const to = opts.to ?? events.length;
  const publisher = createPublisher({ schema, producer: 'derive-scale', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
  const published = await publishAll(publisher, to - from, 20_000, (i) => {
    const e = events[from + i]!;
    return publisher.publish('orders.v1.OrderPlaced', {
      orderId: e.orderId, context: { userId: e.userId, sessionId: 's', deviceId: 'd' }, restaurantId: e.restaurantId, market: 'GB', platform: 'IOS',
      total: { amountMinor: e.amount, currency: 'GBP' }, itemCount: 2, placedAt: new Date(e.t),
    });
  });
  assert.equal(published.errors, 0, published.firstError); // publishAll closed the publisher
  if (opts.tick) {
    const ticker = createPublisher({ schema, producer: 'derive-scale', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    for (let i = 0; i < 30; i++) {
      await ticker.publish('orders.v1.OrderDelivered', { orderId: `tick-${i}`, context: { userId: 'u', sessionId: 's', deviceId: 'd' }, riderId: 'r', market: 'GB', platform: 'IOS', durationMinutes: 20, deliveredAt: new Date(T0 + 60 * MIN) });
    }
    await ticker.close();
  }
}

export interface Expected {
  /** Count per `restaurant|windowStart`. */
  counts: Map<string, number>;
  /** Distinct users per `restaurant|windowStart` (10-minute windows every 5 minutes). */
  users: Map<string, Set<string>>;
  /** Order values per 5-minute window start. */
  amounts: Map<number, number[]>;
  /** How many metric values the run must emit. */
  values: number;
}

/** The values by hand. */
export function expected(events: Placed[]): Expected {
  const counts = new Map<string, number>();
  const users = new Map<string, Set<string>>();
  const amounts = new Map<number, number[]>();
  for (const e of events) {
    const last = Math.floor(e.t / (5 * MIN)) * 5 * MIN;
    const c = `${e.restaurantId}|${last}`;
    counts.set(c, (counts.get(c) ?? 0) + 1);
    for (const start of [last - 5 * MIN, last]) {
      const k = `${e.restaurantId}|${start}`;
      let s = users.get(k);
      if (!s) users.set(k, (s = new Set()));
      s.add(e.userId);
    }
    let list = amounts.get(last);
    if (!list) amounts.set(last, (list = []));
    list.push(e.amount);
  }
  return { counts, users, amounts, values: counts.size + users.size + amounts.size * QUANTILES.length };
}

export type Got = Record<'orders_5m' | 'users_10m' | 'order_value', Map<string, number>>;

/**
 * Checks the metric records read back against the values by hand: final values only, each once, counts equal,
 * distinct counts within 3σ of the HyperLogLog bound (and exact while sparse), percentiles within 1% of the exact
 * value at rank q·(n − 1). Returns the values by metric and key, to compare runs with each other.
 */
export function checkValues(records: ReadMessage[], exp: Expected): Got {
  const got: Got = { orders_5m: new Map(), users_10m: new Map(), order_value: new Map() };
  for (const r of records) {
    const m = decodeMetric(r.value!);
    assert.ok(m.final, 'final values only');
    const byKey = got[m.name as keyof Got];
    const k = m.name === 'order_value' ? `${m.dimensions.quantile}|${m.windowStart}` : `${m.dimensions.restaurant_id}|${m.windowStart}`;
    assert.ok(!byKey.has(k), `${m.name} ${k} emitted twice`);
    byKey.set(k, m.value);
  }
  assert.equal(records.length, exp.values, 'every value once, nothing more');
  assert.deepEqual(got.orders_5m, exp.counts);
  const sigma = 1.04 / Math.sqrt(4096);
  let exact = 0;
  for (const [k, s] of exp.users) {
    const v = got.users_10m.get(k);
    assert.ok(v !== undefined, `users_10m ${k} missing`);
    assert.ok(Math.abs(v - s.size) <= Math.max(1, 3 * sigma * s.size), `users_10m ${k}: ${v} for ${s.size} distinct`);
    if (v === s.size) exact++;
  }
  // Sparse sketches (≤ 1,024 users) are exact up to 32-bit hash collisions.
  assert.ok(exact >= exp.users.size - 2, `${exact} of ${exp.users.size} distinct counts exact`);
  for (const [start, list] of exp.amounts) {
    const sorted = [...list].sort((a, b) => a - b);
    for (const q of QUANTILES) {
      const exactValue = sorted[Math.floor(Number(q) * (sorted.length - 1))]!;
      const v = got.order_value.get(`${q}|${start}`);
      assert.ok(v !== undefined && Math.abs(v - exactValue) <= 0.01 * exactValue, `p${Number(q) * 100} of ${sorted.length} order values at ${new Date(start).toISOString()}: ${v}, exact ${exactValue}`);
    }
  }
  return got;
}
