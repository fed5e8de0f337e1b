/**
 * Table joins, the absence join (payment attempted, no success within 10 minutes), emit 'update' and the
 * two-stage split (extract → route by group → aggregate) against plain arithmetic over the same events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics, DefinitionError, type ResolvedTable } from '../../src/derive/definitions.js';
import { MetricEngine, routeKey, type EngineEvent, type MetricInput, type MetricValue } from '../../src/derive/engine.js';
import { sliding, tumbling } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

const REGIONS: Record<string, { region: string; brand: string }> = {
  r1: { region: 'dubai-marina', brand: 'burger' },
  r2: { region: 'dubai-marina', brand: 'sushi' },
  r3: { region: 'deira', brand: 'burger' },
};
const lookup = (table: ResolvedTable, key: string) => (table.name === 'restaurant' ? REGIONS[key] : undefined);

function rejections(n: number): EngineEvent[] {
  const r = rng(11);
  return Array.from({ length: n }, (_, i) => ({
    type: 'orders.v1.OrderRejected',
    // r4 has no row in the table: a missing join.
    event: { orderId: `o${i}`, restaurantId: ['r1', 'r2', 'r3', 'r4'][Math.floor(r() * 4)]!, aggregator: 'talabat', market: 'AE' },
    occurredAt: T0 + Math.floor((i / n) * 30 * MIN),
    partition: 0,
  }));
}

function run(engine: MetricEngine, evs: EngineEvent[]): MetricValue[] {
  const values: MetricValue[] = [];
  let wall = 0;
  for (const e of evs) values.push(...engine.process(e, ++wall, lookup).values);
  values.push(...engine.flushAll().values);
  return values;
}

describe('table joins', () => {
  const tables = [{ name: 'restaurant', from: 'restaurants.v1.RestaurantProfile' }];

  it('groups by a joined field; events without a row are dropped and counted (or kept with empty fields)', () => {
    const evs = rejections(400);
    const metrics = defineMetrics(
      schema,
      [
        { name: 'rejections_by_region', from: 'orders.v1.OrderRejected', join: { restaurant: 'restaurant_id' }, groupBy: ['restaurant.region'], window: tumbling('10m') },
        { name: 'burger_rejections_kept', from: 'orders.v1.OrderRejected', join: { restaurant: 'restaurant_id' }, missingJoin: 'keep', where: (e) => (e.restaurant as { brand?: string }).brand !== 'sushi', groupBy: ['restaurant.brand'], window: tumbling('10m') },
      ],
      { tables },
    );
    const engine = new MetricEngine(metrics, { idleMs: 0 });
    const values = run(engine, evs);

    const expected = new Map<string, number>();
    const expectedKept = new Map<string, number>();
    let missing = 0;
    for (const e of evs) {
      const row = REGIONS[e.event.restaurantId as string];
      const w = Math.floor(e.occurredAt / (10 * MIN)) * 10 * MIN;
      if (!row) missing++;
      if (row) expected.set(`${row.region}|${w}`, (expected.get(`${row.region}|${w}`) ?? 0) + 1);
      if (row?.brand !== 'sushi') expectedKept.set(`${row?.brand ?? ''}|${w}`, (expectedKept.get(`${row?.brand ?? ''}|${w}`) ?? 0) + 1);
    }
    const got = (metric: string, dim: string) =>
      new Map(values.filter((v) => v.metric === metric).map((v) => [`${v.dimensions[dim]}|${v.windowStart}`, v.value]));
    assert.deepEqual(got('rejections_by_region', 'region'), expected);
    assert.deepEqual(got('burger_rejections_kept', 'brand'), expectedKept);
    assert.ok(missing > 50);
    assert.deepEqual(engine.missingJoins(), { rejections_by_region: missing, burger_rejections_kept: missing });
  });

  it('rejects joins with unknown tables and group-by paths the table does not have, naming the metric', () => {
    assert.throws(
      () => defineMetrics(schema, [{ name: 'x', from: 'orders.v1.OrderRejected', join: { shop: 'restaurant_id' }, window: tumbling('1m') }], { tables }),
      (e: unknown) => e instanceof DefinitionError && /metric 'x': joins unknown table 'shop'/.test(e.message),
    );
    assert.throws(
      () => defineMetrics(schema, [{ name: 'y', from: 'orders.v1.OrderRejected', join: { restaurant: 'restaurant_id' }, groupBy: ['restaurant.postcode'], window: tumbling('1m') }], { tables }),
      (e: unknown) => e instanceof DefinitionError && /metric 'y': groupBy field 'restaurant.postcode': RestaurantProfile has no field 'postcode'/.test(e.message),
    );
    assert.throws(
      () => defineMetrics(schema, [], { tables: [{ name: 'restaurant', from: 'orders.v1.Nope' }] }),
      (e: unknown) => e instanceof DefinitionError && /table restaurant': unknown event type 'orders.v1.Nope'/.test(e.message),
    );
  });
});

/** Attempts, some followed by a success within 10 minutes, some later, some never. */
function payments(n: number): EngineEvent[] {
  const r = rng(23);
  const out: EngineEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = T0 + Math.floor((i / n) * 60 * MIN);
    const market = r() < 0.5 ? 'AE' : 'GB';
    out.push({ type: 'orders.v1.PaymentAttempted', event: { orderId: `o${i}`, market, amount: { amountMinor: String(100 + i) } }, occurredAt: t, partition: 0 });
    const x = r();
    const delay = x < 0.5 ? Math.floor(r() * 9 * MIN) : x < 0.7 ? 10 * MIN + 1 + Math.floor(r() * 5 * MIN) : undefined;
    if (delay !== undefined) out.push({ type: 'orders.v1.PaymentSucceeded', event: { orderId: `o${i}`, market }, occurredAt: t + delay, partition: 0 });
  }
  // Successes arrive in event-time order with everything else (grace covers the 10-minute follow-up).
  return out.sort((a, b) => a.occurredAt - b.occurredAt);
}

describe('absence join (notFollowedBy)', () => {
  const defs = [
    {
      name: 'unconfirmed_payments',
      from: 'orders.v1.PaymentAttempted',
      notFollowedBy: { event: 'orders.v1.PaymentSucceeded', within: '10m' },
      groupBy: ['market'],
      window: tumbling('5m', { grace: '2m' }),
    },
    {
      name: 'unconfirmed_amount',
      from: 'orders.v1.PaymentAttempted',
      notFollowedBy: { event: 'orders.v1.PaymentSucceeded', within: '10m', on: 'order_id' },
      groupBy: ['market'],
      window: tumbling('5m', { grace: '2m' }),
      aggregate: { kind: 'sum' as const, field: 'amount.amount_minor' },
    },
  ];

  for (const order of ['in event-time order', 'with successes up to 90 s ahead of their attempts (within grace)']) {
  it(`counts attempts with no success within 10 minutes, at attempt time + 10 minutes; ${order}`, () => {
    let evs = payments(600);
    if (order !== 'in event-time order') {
      const ahead = (e: EngineEvent) => e.occurredAt - (e.type === 'orders.v1.PaymentSucceeded' ? 90_000 : 0);
      evs = [...evs].sort((a, b) => ahead(a) - ahead(b));
    }
    const engine = new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 });
    const values = run(engine, evs);
    const success = new Map<string, number>();
    for (const e of evs) if (e.type === 'orders.v1.PaymentSucceeded') success.set(e.event.orderId as string, e.occurredAt);
    const count = new Map<string, number>();
    const amount = new Map<string, number>();
    for (const e of evs) {
      if (e.type !== 'orders.v1.PaymentAttempted') continue;
      const s = success.get(e.event.orderId as string);
      if (s !== undefined && s <= e.occurredAt + 10 * MIN) continue;
      const at = e.occurredAt + 10 * MIN;
      const k = `${e.event.market}|${Math.floor(at / (5 * MIN)) * 5 * MIN}`;
      count.set(k, (count.get(k) ?? 0) + 1);
      amount.set(k, (amount.get(k) ?? 0) + Number((e.event.amount as { amountMinor: string }).amountMinor));
    }
    const got = (metric: string) => new Map(values.filter((v) => v.metric === metric).map((v) => [`${v.dimensions.market}|${v.windowStart}`, v.value]));
    assert.ok(count.size > 10);
    assert.deepEqual(got('unconfirmed_payments'), count);
    assert.deepEqual(got('unconfirmed_amount'), amount);
    assert.deepEqual(engine.lateDropped(), { unconfirmed_payments: 0, unconfirmed_amount: 0 });
  });
  }

  it('state survives snapshot/restore mid-stream with the same result', () => {
    const evs = payments(300);
    const whole = run(new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 }), evs);
    const a = new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 });
    const values: MetricValue[] = [];
    let wall = 0;
    for (const e of evs.slice(0, 200)) values.push(...a.process(e, ++wall).values);
    const b = new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 });
    b.restore(0, a.snapshot(0));
    for (const e of evs.slice(200)) values.push(...b.process(e, ++wall).values);
    values.push(...b.flushAll().values);
    const key = (v: MetricValue) => `${v.metric}|${v.dimensions.market}|${v.windowStart}=${v.value}`;
    assert.deepEqual(values.map(key).sort(), whole.map(key).sort());
  });

  it('rejects a notFollowedBy without a window or with an unknown event, naming the metric', () => {
    assert.throws(
      () => defineMetrics(schema, [{ name: 'z', from: 'orders.v1.PaymentAttempted', notFollowedBy: { event: 'orders.v1.PaymentSucceeded', within: '10m' } }]),
      /metric 'z': notFollowedBy needs a window/,
    );
    assert.throws(
      () => defineMetrics(schema, [{ name: 'z', from: 'orders.v1.PaymentAttempted', notFollowedBy: { event: 'orders.v1.Paid', within: '10m' }, window: tumbling('1m') }]),
      /metric 'z': notFollowedBy: unknown event type 'orders.v1.Paid'/,
    );
  });
});

describe('two stages across partitions', () => {
  it('extract on 3 input partitions, route by group to 4 partitions, aggregate: the same values as one process', () => {
    const r = rng(3);
    const evs: EngineEvent[] = Array.from({ length: 900 }, (_, i) => ({
      type: 'orders.v1.OrderRejected',
      event: { orderId: `o${i}`, restaurantId: 'r1', aggregator: ['talabat', 'careem', 'deliveroo'][Math.floor(r() * 3)]!, market: 'AE' },
      occurredAt: T0 + i * 2000,
      partition: i % 3,
    }));
    const defs = [
      { name: 'per_aggregator_5m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('5m') },
      { name: 'per_aggregator_10m_sliding', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: sliding('10m'), alert: { atLeast: 110 } },
    ];
    const single = new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 });
    const expected = run(single, evs.map((e) => ({ ...e, partition: 0 })));

    const stage1 = new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 });
    const stage2 = new MetricEngine(defineMetrics(schema, defs), { idleMs: 0 });
    const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 4;
    const values: MetricValue[] = [];
    let wall = 0;
    for (const e of evs) {
      const { inputs } = stage1.extract(e);
      for (const i of inputs as MetricInput[]) values.push(...stage2.aggregate(i, hash(routeKey(i)), ++wall).values);
    }
    values.push(...stage2.closeAll().values);
    const key = (v: MetricValue) => `${v.metric}|${v.dimensions.aggregator}|${v.windowStart}|${v.windowEnd}=${v.value}`;
    assert.ok(expected.length > 100);
    assert.deepEqual(values.map(key).sort(), expected.map(key).sort());
  });

  it("emit 'update' gives the running value of the open window on every event, then the final one", () => {
    const metrics = defineMetrics(schema, [{ name: 'u', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('1m'), emit: 'update' }]);
    const engine = new MetricEngine(metrics, { idleMs: 0 });
    const evs: EngineEvent[] = [0, 10, 20, 70].map((s, i) => ({ type: 'orders.v1.OrderRejected', event: { orderId: `o${i}`, aggregator: 'careem' }, occurredAt: T0 + s * 1000, partition: 0 }));
    const values = run(engine, evs);
    assert.deepEqual(
      values.map((v) => [v.windowStart! - T0, v.value, v.final]),
      [
        [0, 1, false],
        [0, 2, false],
        [0, 3, false],
        [60_000, 1, false],
        [0, 3, true],
        [60_000, 1, true],
      ],
    );
  });
});
