/**
 * The derive consumer over multi-partition topics on a real broker: every window type, late and idle cases, two
 * instances in one group, table joins (co-partitioned and global, with a missing key), the absence join, and the
 * start-up checks — each value read back (read_committed) compared with a computation by hand.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics, type MetricDefinition, type TableDefinition } from '../../src/derive/definitions.js';
import { decodeAlert, decodeMetric } from '../../src/derive/outputs.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { hopping, sliding, tumbling } from '../../src/derive/windows.js';
import { rng } from '../../src/demo/simulate.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger } from '../support/loader.js';
import { until } from '../support/wait.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const MARKETS = ['GB', 'FR', 'AE'] as const;
const PLATFORMS = ['ANDROID', 'IOS'] as const;

interface Failed {
  orderId: string;
  market: (typeof MARKETS)[number];
  platform: (typeof PLATFORMS)[number];
  user: string;
  amount: number;
  t: number;
}

/** 360 failed payments over 30 minutes, 5 s apart with jitter, spread over markets, platforms and 40 users per market. */
function failures(seed: number): Failed[] {
  const r = rng(seed);
  return Array.from({ length: 360 }, (_, i) => {
    const market = MARKETS[Math.floor(r() * 3)]!;
    return { orderId: `o-${seed}-${i}`, market, platform: PLATFORMS[Math.floor(r() * 2)]!, user: `u-${market}-${Math.floor(r() * 40)}`, amount: 100 + Math.floor(r() * 900), t: T0 + i * 5000 + (i % 4) * 700 };
  });
}

async function publishFailures(topic: string, events: Failed[]): Promise<void> {
  const p = createPublisher({ schema, producer: 'derive-partitions', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
  await Promise.all(
    events.map((e) =>
      p.publish('orders.v1.PaymentFailed', {
        orderId: e.orderId, context: { userId: e.user, sessionId: 's', deviceId: 'd' }, market: e.market, platform: e.platform, method: 'CARD', amount: { amountMinor: e.amount, currency: 'EUR' },
        errorCode: 'declined', retryable: true, attempt: 1, failedAt: new Date(e.t),
      }),
    ),
  );
  await p.close();
}

/**
 * Stream time only reaches the ends of the last sliding windows (10 minutes after the last event) with newer
 * input, or after as much wall-clock time: events of a type no metric reads, 30 minutes later, in every partition
 * (30 keys: the chance that one of 3 partitions gets none is 3 · (2/3)^30 ≈ 0.00002) move it on.
 */
async function advanceStreamTime(topic: string, events: Array<{ t: number }>): Promise<void> {
  const p = createPublisher({ schema, producer: 'derive-partitions', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
  const last = Math.max(...events.map((e) => e.t));
  for (let i = 0; i < 30; i++) await p.publish('orders.v1.OrderDelivered', { orderId: `tick-${i}`, context: { userId: 'u', sessionId: 's', deviceId: 'd' }, riderId: 'r', market: 'GB', platform: 'IOS', durationMinutes: 20, deliveredAt: new Date(last + 30 * MIN) });
  await p.close();
}

const FAILED_METRICS: MetricDefinition[] = [
  { name: 'failed_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m') },
  { name: 'failed_amount_5m', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('5m'), aggregate: { kind: 'sum', field: 'amount.amount_minor' } },
  { name: 'failed_hop', from: 'orders.v1.PaymentFailed', groupBy: ['platform'], window: hopping('10m', '5m') },
  { name: 'failed_sliding', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: sliding('10m'), alert: { atLeast: 42 } },
  { name: 'users_10m', from: 'orders.v1.PaymentFailed', groupBy: ['market'], window: tumbling('10m'), aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError: 0.02 } },
];

/** The same metrics by plain arithmetic: `metric|dimension|start|end` → value, as a multiset (sorted list). */
function expectedValues(events: Failed[]): { exact: string[]; distinct: Map<string, number>; alerts: string[] } {
  const exact: string[] = [];
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const count5 = new Map<string, number>();
  const sum5 = new Map<string, number>();
  const hop = new Map<string, number>();
  const users = new Map<string, Set<string>>();
  for (const e of events) {
    const s5 = Math.floor(e.t / (5 * MIN)) * 5 * MIN;
    add(count5, `failed_5m|${e.market}|${s5}|${s5 + 5 * MIN}`, 1);
    add(sum5, `failed_amount_5m|${e.market}|${s5}|${s5 + 5 * MIN}`, e.amount);
    for (const start of [s5 - 5 * MIN, s5]) add(hop, `failed_hop|${e.platform}|${start}|${start + 10 * MIN}`, 1);
    const s10 = Math.floor(e.t / (10 * MIN)) * 10 * MIN;
    const k = `users_10m|${e.market}|${s10}|${s10 + 10 * MIN}`;
    if (!users.has(k)) users.set(k, new Set());
    users.get(k)!.add(e.user);
  }
  for (const m of [count5, sum5, hop]) for (const [k, v] of m) exact.push(`${k}=${v}`);
  // Sliding (T − 10m, T] at every event time T and at T = t + 10m, per market.
  const alerts: string[] = [];
  for (const market of MARKETS) {
    const mine = events.filter((e) => e.market === market).map((e) => e.t);
    const ends = mine.flatMap((t) => [t, t + 10 * MIN]).sort((a, b) => a - b);
    let firing = false;
    for (const end of ends) {
      const v = mine.filter((t) => t > end - 10 * MIN && t <= end).length;
      exact.push(`failed_sliding|${market}|${end - 10 * MIN}|${end}=${v}`);
      if (v >= 42 && !firing) alerts.push(`${market}|${end}|firing|${v}`);
      if (v < 42 && firing) alerts.push(`${market}|${end}|resolved|${v}`);
      firing = v >= 42;
    }
  }
  return { exact: exact.sort(), distinct: new Map([...users].map(([k, s]) => [k, s.size])), alerts };
}

function startRunner(t: TestContext, opts: { topic: string; group: string; metricsTopic: string; alertsTopic: string; metrics?: MetricDefinition[]; tables?: TableDefinition[]; tableTopics?: Record<string, string> }) {
  const { logger, lines } = capturingLogger();
  const runner = new DeriveRunner({
    kafka: { brokers: brokers() }, schema, metrics: defineMetrics(schema, opts.metrics ?? FAILED_METRICS, { tables: opts.tables ?? [] }),
    group: opts.group, topics: [opts.topic], metricsTopic: opts.metricsTopic, alertsTopic: opts.alertsTopic, idleMs: 1500, commitIntervalMs: 300,
    prometheusPort: 0, logger, ...(opts.tableTopics ? { tableTopics: opts.tableTopics } : {}),
  });
  t.after(() => runner.stop());
  return { runner, lines };
}

/** A fresh metrics topic and alerts topic (1 partition each) for one test. */
async function outputTopics(t: TestContext): Promise<{ metricsTopic: string; alertsTopic: string }> {
  return { metricsTopic: await freshTopic(t, { partitions: 1, prefix: 'metrics' }), alertsTopic: await freshTopic(t, { partitions: 1, prefix: 'alerts' }) };
}

async function scrape(runner: DeriveRunner): Promise<string> {
  return (await fetch(`http://127.0.0.1:${runner.prometheusPort}/metrics`)).text();
}

function split(values: ReturnType<typeof decodeMetric>[], dim: (v: ReturnType<typeof decodeMetric>) => string) {
  const exact: string[] = [];
  const distinct = new Map<string, number>();
  for (const v of values) {
    const k = `${v.name}|${dim(v)}|${v.windowStart}|${v.windowEnd}`;
    if (v.name === 'users_10m') distinct.set(k, v.value);
    else exact.push(`${k}=${v.value}`);
  }
  return { exact: exact.sort(), distinct };
}

const dimOf = (v: ReturnType<typeof decodeMetric>) => v.dimensions.market ?? v.dimensions.platform ?? '';

function assertDistinctWithinBound(got: Map<string, number>, want: Map<string, number>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, n] of want) {
    // HLL with a 2% relative standard error: within 3 standard errors (and ±1 for tiny counts).
    assert.ok(Math.abs(got.get(k)! - n) <= Math.max(1, 3 * 0.02 * n), `${k}: ${got.get(k)} vs exactly ${n}`);
  }
}

describe('derive over partitions (real broker)', () => {
  it('tumbling, hopping, sliding (with alerts) and count-distinct over 3 partitions equal a computation by hand; windows close on the idle clock; a late event is dropped and counted', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const { metricsTopic, alertsTopic } = await outputTopics(t);
    const events = failures(1);
    await publishFailures(topic, events);
    const want = expectedValues(events);
    const { runner } = startRunner(t, { topic, group: `derive-${topic}`, metricsTopic, alertsTopic });
    await runner.start();

    // With no more input, stream time follows the wall clock (idleMs 1.5 s): every window ending by the last
    // event's time closes (the last 5-minute window ends after it, so it needs the idle clock).
    const last = Math.max(...events.map((e) => e.t));
    const closable = want.exact.filter((v) => Number(v.split('=')[0]!.split('|')[3]) <= last).length + want.distinct.size;
    const early = (await readAll(metricsTopic, { count: closable, timeoutMs: 90_000 })).map((r) => decodeMetric(r.value!));
    assert.ok(early.some((v) => v.name === 'failed_5m' && v.windowEnd! > last), 'the last 5-minute window was closed by the idle clock');

    await advanceStreamTime(topic, events);
    const total = want.exact.length + want.distinct.size;
    const records = await readAll(metricsTopic, { count: total, timeoutMs: 90_000, settleMs: 2000 });
    const got = split(records.map((r) => decodeMetric(r.value!)), dimOf);
    assert.equal(records.length, total, 'every window exactly once');
    assert.deepEqual(got.exact, want.exact);
    assertDistinctWithinBound(got.distinct, want.distinct);
    const alerts = (await readAll(alertsTopic, { count: want.alerts.length, timeoutMs: 10_000, settleMs: 500 })).map((r) => decodeAlert(r.value!));
    const gotAlerts = MARKETS.flatMap((m) => alerts.filter((a) => a.dimensions.market === m).map((a) => `${m}|${a.windowEnd}|${a.state}|${a.value}`));
    assert.ok(want.alerts.length >= 2, `the workload fires alerts (${want.alerts.length})`);
    assert.deepEqual(gotAlerts, want.alerts);
    assert.match(await scrape(runner), /multidispatch_derive_late_events_dropped_total\{metric="failed_5m"\} 0/);

    // Every window has closed; an event from the first minute is late.
    await publishFailures(topic, [{ ...events[0]!, orderId: 'late-1', t: T0 + 1000 }]);
    const deadline = Date.now() + 30_000;
    while (!/multidispatch_derive_late_events_dropped_total\{metric="failed_5m"\} 1/.test(await scrape(runner))) {
      assert.ok(Date.now() < deadline, `the late event was counted:\n${await scrape(runner)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const after = await readAll(metricsTopic, { count: total + 1, timeoutMs: 3000, settleMs: 0 }).catch(() => []);
    assert.ok(after.length === 0 || after.length === total, `no value for the late event (${after.length} records)`);
  });

  it('a metric grouped by the input key is aggregated in the source task, without the repartition round trip', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const { metricsTopic, alertsTopic } = await outputTopics(t);
    // 30 orders, each failing several times over 30 minutes (events of one order share a partition).
    const events = failures(3).map((e, i) => ({ ...e, orderId: `order-${i % 30}` }));
    await publishFailures(topic, events);
    await advanceStreamTime(topic, events);
    const want = new Map<string, number>();
    for (const e of events) {
      const k = `${e.orderId}|${Math.floor(e.t / (10 * MIN)) * 10 * MIN}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const { runner } = startRunner(t, { topic, group: `derive-${topic}`, metricsTopic, alertsTopic, metrics: [{ name: 'failures_per_order', from: 'orders.v1.PaymentFailed', groupBy: ['order_id'], window: tumbling('10m') }] });
    await runner.start();
    const records = await readAll(metricsTopic, { count: want.size, timeoutMs: 60_000, settleMs: 2000 });
    const got = new Map(records.map((r) => decodeMetric(r.value!)).map((v) => [`${v.dimensions.order_id}|${v.windowStart}`, v.value]));
    assert.equal(records.length, want.size, 'each window once');
    assert.deepEqual(got, want);
    assert.equal(runner.stats.repartitioned, 0, 'no metric input went through the repartition topic');
  });

  it('two instances in one group give the same values as the computation by hand (each window once)', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const { metricsTopic, alertsTopic } = await outputTopics(t);
    const group = `derive-${topic}`;
    // The first half of the input is there before the instances start (an input partition that gets its first
    // event only after idleMs without any is idle, and its events may be late: that is the idle rule, not what
    // this test is about); the second half comes once both have joined, so both consume and state moves between them.
    const events = failures(2);
    await publishFailures(topic, events.slice(0, 180));
    const a = startRunner(t, { topic, group, metricsTopic, alertsTopic });
    const b = startRunner(t, { topic, group, metricsTopic, alertsTopic });
    await a.runner.start();
    await b.runner.start();
    const inputsOf = (lines: Array<Record<string, unknown>>) =>
      ((lines.findLast((l) => l.msg === 'partitions assigned')?.assigned as Record<string, number[]> | undefined)?.[topic] ?? []);
    await until(() => inputsOf(a.lines).length > 0 && inputsOf(b.lines).length > 0 && new Set([...inputsOf(a.lines), ...inputsOf(b.lines)]).size === 3, 60_000,
      () => `both instances in the group, each with input partitions (a: ${inputsOf(a.lines)}, b: ${inputsOf(b.lines)})`);
    await publishFailures(topic, events.slice(180));
    await advanceStreamTime(topic, events);
    const want = expectedValues(events);
    const total = want.exact.length + want.distinct.size;
    const records = await readAll(metricsTopic, { count: total, timeoutMs: 120_000, settleMs: 2000 });
    const got = split(records.map((r) => decodeMetric(r.value!)), dimOf);
    assert.equal(records.length, total, 'every window exactly once');
    assert.deepEqual(got.exact, want.exact);
    assertDistinctWithinBound(got.distinct, want.distinct);
    assert.ok(a.runner.stats.consumed > 0 && b.runner.stats.consumed > 0, `both instances consumed input (${a.runner.stats.consumed}, ${b.runner.stats.consumed})`);
    assert.equal(a.runner.stats.consumed + b.runner.stats.consumed >= events.length, true);
  });
});

const PROFILES = [
  { restaurantId: 'r1', name: 'Marina Burgers', region: 'marina', brand: 'burger', market: 'AE' },
  { restaurantId: 'r2', name: 'Marina Sushi', region: 'marina', brand: 'sushi', market: 'AE' },
  { restaurantId: 'r3', name: 'Deira Burgers', region: 'deira', brand: 'burger', market: 'AE' },
] as const;

describe('derive joins (real broker)', () => {
  async function publishTable(topic: string) {
    const p = createPublisher({ schema, producer: 'derive-joins', kafka: { brokers: brokers() }, statsd: false, topics: { 'restaurants.v1': topic } });
    // An older row for r1 first: the table keeps the latest per key.
    await p.publish('restaurants.v1.RestaurantProfile', { ...PROFILES[0], region: 'old-region', updatedAt: new Date(T0 - 2 * MIN) });
    for (const r of PROFILES) await p.publish('restaurants.v1.RestaurantProfile', { ...r, updatedAt: new Date(T0 - MIN) });
    await p.close();
  }

  /** Rejections at r1..r4 (r4 has no row), keyed by order id or — co-partitioned with the table — by restaurant. */
  async function publishRejections(topic: string, keyBy: 'order' | 'restaurant') {
    const r = rng(9);
    const events = Array.from({ length: 240 }, (_, i) => ({ orderId: `o-${i}`, restaurantId: `r${1 + Math.floor(r() * 4)}`, market: 'AE', aggregator: 'talabat', reason: 'TOO_BUSY' as const, rejectedAt: new Date(T0 + i * 5000) }));
    const p = createPublisher({
      schema, producer: 'derive-joins', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic },
      ...(keyBy === 'restaurant' ? { overrides: { 'orders.v1.OrderRejected': { keyField: 'restaurantId' } } } : {}),
    });
    await Promise.all(events.map((e) => p.publish('orders.v1.OrderRejected', e)));
    await p.close();
    return events;
  }

  const byRegion: MetricDefinition = { name: 'rejections_by_region', from: 'orders.v1.OrderRejected', join: { restaurant: 'restaurant_id' }, groupBy: ['restaurant.region'], window: tumbling('10m') };

  for (const mode of ['co-partitioned', 'global'] as const) {
    it(`a ${mode} table enriches events (group by a joined field); a missing key is counted, not a crash`, async (t) => {
      const topic = await freshTopic(t, { partitions: 3 });
      const tableTopic = await freshTopic(t, { partitions: mode === 'global' ? 1 : 3, prefix: 'restaurants', config: { 'cleanup.policy': 'compact' } });
      const { metricsTopic, alertsTopic } = await outputTopics(t);
      await publishTable(tableTopic);
      const events = await publishRejections(topic, mode === 'global' ? 'order' : 'restaurant');
      const regions = new Map<string, string>(PROFILES.map((p) => [p.restaurantId, p.region]));
      const want = new Map<string, number>();
      let missing = 0;
      for (const e of events) {
        const region = regions.get(e.restaurantId);
        if (!region) {
          missing++;
          continue;
        }
        const k = `${region}|${Math.floor(e.rejectedAt.getTime() / (10 * MIN)) * 10 * MIN}`;
        want.set(k, (want.get(k) ?? 0) + 1);
      }
      const { runner } = startRunner(t, {
        topic, group: `derive-${topic}`, metricsTopic, alertsTopic, metrics: [byRegion],
        tables: [{ name: 'restaurant', from: 'restaurants.v1.RestaurantProfile', global: mode === 'global' }], tableTopics: { restaurant: tableTopic },
      });
      await runner.start();
      const records = await readAll(metricsTopic, { count: want.size, timeoutMs: 60_000, settleMs: 2000 });
      const got = new Map(records.map((r) => decodeMetric(r.value!)).map((v) => [`${v.dimensions.region}|${v.windowStart}`, v.value]));
      assert.equal(records.length, want.size);
      assert.deepEqual(got, want);
      assert.ok(missing > 20);
      assert.match(await scrape(runner), new RegExp(`multidispatch_derive_missing_joins_total\\{metric="rejections_by_region"\\} ${missing}\\b`));
      assert.match(await scrape(runner), /multidispatch_derive_table_rows\{table="restaurant"\} 3\b/);
    });
  }

  it('a table with another partition count than the input is refused at start with a clear error (unless global)', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const tableTopic = await freshTopic(t, { partitions: 2, prefix: 'restaurants', config: { 'cleanup.policy': 'compact' } });
    const { runner } = startRunner(t, {
      topic, group: `derive-${topic}`, metricsTopic: `${topic}-m`, alertsTopic: `${topic}-a`, metrics: [byRegion],
      tables: [{ name: 'restaurant', from: 'restaurants.v1.RestaurantProfile' }], tableTopics: { restaurant: tableTopic },
    });
    await assert.rejects(runner.start(), (err: Error) => {
      assert.match(err.message, new RegExp(`table 'restaurant' is not co-partitioned with the input: ${tableTopic} has 2 partitions, ${topic} has 3; .*declare the table global`));
      return true;
    });
  });

  it('absence join: payment attempts with no success within 10 minutes, per market and 5-minute window, equal a computation by hand', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const { metricsTopic, alertsTopic } = await outputTopics(t);
    const r = rng(17);
    type Ev = { type: 'orders.v1.PaymentAttempted' | 'orders.v1.PaymentSucceeded'; orderId: string; market: string; t: number };
    const evs: Ev[] = [];
    for (let i = 0; i < 200; i++) {
      const at = T0 + i * 9000;
      const market = MARKETS[Math.floor(r() * 3)]!;
      evs.push({ type: 'orders.v1.PaymentAttempted', orderId: `p-${i}`, market, t: at });
      const x = r();
      if (x < 0.5) evs.push({ type: 'orders.v1.PaymentSucceeded', orderId: `p-${i}`, market, t: at + Math.floor(r() * 9 * MIN) });
      else if (x < 0.7) evs.push({ type: 'orders.v1.PaymentSucceeded', orderId: `p-${i}`, market, t: at + 11 * MIN });
    }
    evs.sort((a, b) => a.t - b.t);
    const p = createPublisher({ schema, producer: 'derive-joins', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    for (const e of evs) {
      const common = { orderId: e.orderId, market: e.market, platform: 'ANDROID' as const, method: 'CARD' as const, amount: { amountMinor: 1000, currency: 'EUR' } };
      if (e.type === 'orders.v1.PaymentAttempted') await p.publish(e.type, { ...common, attempt: 1, attemptedAt: new Date(e.t) });
      else await p.publish(e.type, { ...common, pspReference: 'x', succeededAt: new Date(e.t) });
    }
    await p.close();
    await advanceStreamTime(topic, evs);
    const success = new Map(evs.filter((e) => e.type === 'orders.v1.PaymentSucceeded').map((e) => [e.orderId, e.t]));
    const want = new Map<string, number>();
    for (const e of evs) {
      if (e.type !== 'orders.v1.PaymentAttempted') continue;
      const s = success.get(e.orderId);
      if (s !== undefined && s <= e.t + 10 * MIN) continue;
      const k = `${e.market}|${Math.floor((e.t + 10 * MIN) / (5 * MIN)) * 5 * MIN}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const { runner } = startRunner(t, {
      topic, group: `derive-${topic}`, metricsTopic, alertsTopic,
      metrics: [{ name: 'unconfirmed_payments', from: 'orders.v1.PaymentAttempted', notFollowedBy: { event: 'orders.v1.PaymentSucceeded', within: '10m' }, groupBy: ['market'], window: tumbling('5m', { grace: '1m' }) }],
    });
    await runner.start();
    const records = await readAll(metricsTopic, { count: want.size, timeoutMs: 90_000, settleMs: 2000 });
    const got = new Map(records.map((r) => decodeMetric(r.value!)).map((v) => [`${v.dimensions.market}|${v.windowStart}`, v.value]));
    assert.equal(records.length, want.size, 'each window once');
    assert.deepEqual(got, want);
  });
});
