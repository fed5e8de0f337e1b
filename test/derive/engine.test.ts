/**
 * The derived-metric engine against plain arithmetic over the same events: ratio, sum, count-distinct (within
 * its stated error bound), immediate metrics and alert transitions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { hllRegisters, MetricEngine, type EngineEvent, type MetricValue } from '../../src/derive/engine.js';
import { hopping, sliding, tumbling } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const MARKETS = ['GB', 'FR', 'AE'];

/** In-order payment events over 20 minutes: ~30% fail, users drawn from 4,000 per market. */
function payments(n: number): EngineEvent[] {
  const r = rng(5);
  const out: EngineEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = T0 + Math.floor((i / n) * 20 * MIN);
    const market = MARKETS[Math.floor(r() * 3)]!;
    const failed = r() < 0.3;
    const user = `user-${market}-${Math.floor(r() * 4000)}`;
    const amount = 100 + Math.floor(r() * 5000);
    out.push({
      type: failed ? 'orders.v1.PaymentFailed' : 'orders.v1.PaymentSucceeded',
      event: { orderId: `o${i}`, market, platform: 'ANDROID', context: { userId: user }, amount: { amountMinor: String(amount), currency: 'GBP' } },
      occurredAt: t,
      partition: i % 2,
    });
  }
  return out;
}

function runAll(engine: MetricEngine, evs: EngineEvent[]) {
  const values: MetricValue[] = [];
  const alerts = [];
  let wall = 0;
  for (const e of evs) {
    const o = engine.process(e, ++wall);
    values.push(...o.values);
    alerts.push(...o.alerts);
  }
  const f = engine.flushAll();
  values.push(...f.values);
  alerts.push(...f.alerts);
  return { values, alerts };
}

/** Sums per (market, window) over both partitions (the engine keeps state per partition, like the consumer). */
function byMarketWindow(values: MetricValue[], metric: string) {
  const m = new Map<string, number[]>();
  for (const v of values.filter((x) => x.metric === metric)) {
    const k = `${v.dimensions.market}|${v.windowStart}`;
    m.set(k, [...(m.get(k) ?? []), v.value]);
  }
  return m;
}

describe('derive engine: values equal plain arithmetic', () => {
  const evs = payments(12_000);
  const window = (t: number, size: number) => Math.floor(t / size) * size;

  it('payment success rate per market per minute, and amount at risk per 5 minutes', () => {
    const metrics = defineMetrics(schema, [
      {
        name: 'payment_success_rate', from: ['orders.v1.PaymentSucceeded', 'orders.v1.PaymentFailed'], groupBy: ['market'], window: tumbling('1m'),
        aggregate: { kind: 'ratio', numerator: { eventTypes: ['orders.v1.PaymentSucceeded'] }, denominator: {} },
      },
      { name: 'amount_at_risk', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'sum', field: 'amount.amount_minor' } },
    ]);
    // One partition here, so each (market, window) is one value; partitions are covered below.
    const one = evs.map((e) => ({ ...e, partition: 0 }));
    const { values } = runAll(new MetricEngine(metrics, { idleMs: 0 }), one);
    const ok = new Map<string, { n: number; d: number }>();
    const risk = new Map<string, number>();
    for (const e of one) {
      const k1 = `${e.event.market}|${window(e.occurredAt, MIN)}`;
      const c = ok.get(k1) ?? { n: 0, d: 0 };
      c.d++;
      if (e.type === 'orders.v1.PaymentSucceeded') c.n++;
      ok.set(k1, c);
      if (e.type === 'orders.v1.PaymentFailed') {
        const k5 = `${e.event.market}|${window(e.occurredAt, 5 * MIN)}`;
        risk.set(k5, (risk.get(k5) ?? 0) + Number((e.event.amount as { amountMinor: string }).amountMinor));
      }
    }
    const rate = byMarketWindow(values, 'payment_success_rate');
    assert.equal(rate.size, ok.size);
    for (const [k, c] of ok) assert.deepEqual(rate.get(k), [c.n / c.d], k);
    const sum = byMarketWindow(values, 'amount_at_risk');
    assert.equal(sum.size, risk.size);
    for (const [k, s] of risk) assert.deepEqual(sum.get(k), [s], k);
  });

  it('distinct users with a failed payment per market per 5 minutes, within the stated error bound', () => {
    const relativeError = 0.02;
    const metrics = defineMetrics(schema, [
      { name: 'users_failed', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError } },
    ]);
    const one = evs.map((e) => ({ ...e, partition: 0 }));
    const { values } = runAll(new MetricEngine(metrics, { idleMs: 0 }), one);
    const exact = new Map<string, Set<string>>();
    for (const e of one.filter((x) => x.type === 'orders.v1.PaymentFailed')) {
      const k = `${e.event.market}|${window(e.occurredAt, 5 * MIN)}`;
      if (!exact.has(k)) exact.set(k, new Set());
      exact.get(k)!.add((e.event.context as { userId: string }).userId);
    }
    const got = byMarketWindow(values, 'users_failed');
    assert.equal(got.size, exact.size);
    const m = hllRegisters(relativeError);
    for (const [k, users] of exact) {
      const [estimate] = got.get(k)!;
      // 3 standard errors of HyperLogLog with m registers.
      const bound = 3 * (1.04 / Math.sqrt(m)) * users.size + 1;
      assert.ok(Math.abs(estimate! - users.size) <= bound, `${k}: estimate ${estimate}, exact ${users.size}, bound ±${bound.toFixed(1)}`);
    }
  });

  it('immediate metrics emit per event; per-partition windows sum to the whole', () => {
    const metrics = defineMetrics(schema, [
      { name: 'failures', from: 'orders.v1.PaymentFailed', groupBy: ['market'] },
      { name: 'failures_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m') },
    ]);
    const { values } = runAll(new MetricEngine(metrics, { idleMs: 0 }), evs);
    const failed = evs.filter((e) => e.type === 'orders.v1.PaymentFailed');
    const immediate = values.filter((v) => v.metric === 'failures');
    assert.equal(immediate.length, failed.length);
    assert.ok(immediate.every((v) => v.value === 1 && v.windowStart === undefined));
    const per = byMarketWindow(values, 'failures_5m');
    for (const market of MARKETS) {
      for (let s = T0; s < T0 + 20 * MIN; s += 5 * MIN) {
        const expected = failed.filter((e) => e.event.market === market && window(e.occurredAt, 5 * MIN) === s).length;
        const got = (per.get(`${market}|${s}`) ?? []).reduce((a, b) => a + b, 0);
        assert.equal(got, expected, `${market} ${new Date(s).toISOString()}`);
      }
    }
  });

  it('alerts fire when a window reaches the threshold and resolve when a later window does not', () => {
    const metrics = defineMetrics(schema, [
      { name: 'rejections_1m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('1m'), alert: { atLeast: 3 } },
    ]);
    const rej = (min: number, sec: number, aggregator: string): EngineEvent => ({
      type: 'orders.v1.OrderRejected', event: { aggregator, reason: 'TOO_BUSY' }, occurredAt: T0 + min * MIN + sec * 1000, partition: 0,
    });
    const evs2 = [rej(0, 1, 'talabat'), rej(0, 2, 'talabat'), rej(0, 3, 'careem'), rej(0, 40, 'talabat'), rej(1, 5, 'talabat'), rej(2, 1, 'talabat'), rej(2, 2, 'careem')];
    const { alerts } = runAll(new MetricEngine(metrics, { idleMs: 0 }), evs2);
    assert.deepEqual(
      alerts.map((a) => `${a.state} ${a.dimensions.aggregator} ${a.value} @${(a.windowStart! - T0) / MIN}m`),
      ['firing talabat 3 @0m', 'resolved talabat 1 @1m'],
    );
  });

  it('a sliding-window alert (Kitopi: ≥ 3 rejections per aggregator in 10 minutes) fires, and resolves when traffic stops', () => {
    const metrics = defineMetrics(schema, [
      { name: 'rejections_10m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: sliding('10m', { grace: '30s' }), alert: { atLeast: 3 } },
    ]);
    const engine = new MetricEngine(metrics, { idleMs: 60_000 });
    const rej = (min: number, aggregator: string): EngineEvent => ({ type: 'orders.v1.OrderRejected', event: { aggregator }, occurredAt: T0 + min * MIN, partition: 0 });
    const alerts: string[] = [];
    const wall0 = 5_000_000;
    const at = (o: { alerts: Array<{ state: string; dimensions: Record<string, string>; value: number; windowEnd?: number }> }) =>
      alerts.push(...o.alerts.map((a) => `${a.state} ${a.dimensions.aggregator} ${a.value} @${(a.windowEnd! - T0) / MIN}m`));
    // Events arrive in real time (wall clock follows event time).
    for (const [min, agg] of [[0, 'talabat'], [2, 'talabat'], [4, 'careem'], [5, 'talabat']] as const) at(engine.process(rej(min, agg), wall0 + min * MIN));
    // Then silence: the idle clock moves stream time on and the rule resolves when the first event leaves.
    at(engine.tick(wall0 + 5 * MIN + 30_000));
    at(engine.tick(wall0 + 12 * MIN));
    assert.deepEqual(alerts, ['firing talabat 3 @5m', 'resolved talabat 2 @10m']);
  });

  it('state snapshot → restore on a new engine mid-stream gives exactly the uninterrupted results', () => {
    const defs = () =>
      defineMetrics(schema, [
        { name: 'failures_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m', { grace: '1m' }) },
        { name: 'fail_rate_hop', from: ['orders.v1.PaymentSucceeded', 'orders.v1.PaymentFailed'], groupBy: ['market'], window: hopping('4m', '2m', { grace: '30s' }),
          aggregate: { kind: 'ratio', numerator: { eventTypes: ['orders.v1.PaymentFailed'] }, denominator: {} } },
        { name: 'users_failed', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'countDistinct', field: 'context.user_id' } },
        { name: 'failures_sliding', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: sliding('30s', { grace: '10s' }), alert: { atLeast: 4 } },
      ]);
    // Out-of-order and late events too: shuffle neighbours and push some back by minutes.
    const r = rng(11);
    const input = evs.slice(0, 6000).map((e) => ({ ...e, occurredAt: r() < 0.1 ? e.occurredAt - Math.floor(r() * 4 * MIN) : e.occurredAt }));
    const whole = runAll(new MetricEngine(defs(), { idleMs: 0 }), input);
    assert.ok(whole.alerts.length > 0, 'the workload fires alerts');

    const cut = 3333;
    const a = new MetricEngine(defs(), { idleMs: 0 });
    const before = { values: [] as MetricValue[], alerts: [] as unknown[] };
    let wall = 0;
    for (const e of input.slice(0, cut)) {
      const o = a.process(e, ++wall);
      before.values.push(...o.values);
      before.alerts.push(...o.alerts);
    }
    const b = new MetricEngine(defs(), { idleMs: 0 });
    for (const p of [0, 1]) b.restore(p, a.snapshot(p));
    const after = runAll(b, input.slice(cut));
    // runAll numbers wall time from 1 again; idleMs is 0, so wall time does not matter here.
    assert.deepEqual([...before.values, ...after.values], whole.values);
    assert.deepEqual([...before.alerts, ...after.alerts], whole.alerts);
    const lateWhole = new MetricEngine(defs(), { idleMs: 0 });
    runAll(lateWhole, input);
    assert.deepEqual(b.lateDropped(), lateWhole.lateDropped());
    assert.ok(Object.values(b.lateDropped()).some((n) => n > 0), 'the workload has late events');
  });

  it('the per-key changelog (changed keys per commit, tombstones for forgotten ones), compacted, restores exactly', () => {
    const defs = () =>
      defineMetrics(schema, [
        { name: 'failures_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market', 'context.user_id'], window: tumbling('5m', { grace: '1m' }) },
        { name: 'users_hop', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: hopping('10m', '5m'), aggregate: { kind: 'countDistinct', field: 'context.user_id' } },
        { name: 'amount_p95', from: 'orders.v1.PaymentSucceeded', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'percentile', field: 'amount.amount_minor', quantiles: [0.5, 0.95] } },
        { name: 'failures_sliding', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: sliding('30s', { grace: '10s' }), alert: { atLeast: 4 } },
      ]);
    const input = payments(8000);
    const whole = runAll(new MetricEngine(defs(), { idleMs: 0 }), input);
    const a = new MetricEngine(defs(), { idleMs: 0 });
    // The changelog as compaction leaves it: the latest value per key, tombstones removing keys.
    const changelog = [new Map<string, Uint8Array>(), new Map<string, Uint8Array>()];
    let records = 0;
    let tombstones = 0;
    let largest = 0;
    const commit = () => {
      for (const p of [0, 1]) {
        for (const [k, v] of a.changes(p)) {
          records++;
          largest = Math.max(largest, k.length + (v?.length ?? 0));
          if (v === null) {
            tombstones++;
            changelog[p]!.delete(k);
          } else changelog[p]!.set(k, v);
        }
      }
    };
    const before = { values: [] as MetricValue[], alerts: [] as unknown[] };
    let wall = 0;
    const cut = 5555;
    for (const [i, e] of input.slice(0, cut).entries()) {
      const o = a.process(e, ++wall);
      before.values.push(...o.values);
      before.alerts.push(...o.alerts);
      if (i % 100 === 99) commit();
    }
    commit();
    assert.deepEqual(a.changes(0), [], 'nothing changed since the last commit: nothing to write');
    // Compacted changelog = a full snapshot of the live state, key for key.
    for (const p of [0, 1]) assert.deepEqual(new Map(a.snapshot(p)), changelog[p]);
    assert.ok(tombstones > 0, 'closed windows leave tombstones');
    assert.ok(records < cut * 3, `records follow changed keys (${records} for ${cut} events)`);
    assert.ok(largest < 8192, `largest record ${largest} bytes: one key's state`);
    const b = new MetricEngine(defs(), { idleMs: 0 });
    for (const p of [0, 1]) b.restore(p, changelog[p]!);
    const after = runAll(b, input.slice(cut));
    assert.deepEqual([...before.values, ...after.values], whole.values);
    assert.deepEqual([...before.alerts, ...after.alerts], whole.alerts);
    assert.ok(whole.values.some((v) => v.metric === 'amount_p95' && v.dimensions.quantile === '0.95'));
  });
});
