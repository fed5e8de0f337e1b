/**
 * derive at a real user's cardinality, on a real broker: 200,000 OrderPlaced events over 30 minutes from 20,000
 * restaurants and 50,000 users on 3 partitions; a count per restaurant per 5-minute window and distinct users per
 * restaurant per 10-minute hopping window. Every final value once, equal to a count by hand (distinct counts
 * within the stated bound, percentiles of the order value within 1% of the exact ones), and the changelog holds
 * one record per changed key, bounded by one key's state, with a tombstone for every closed window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { hopping, tumbling } from '../../src/derive/windows.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger } from '../support/loader.js';
import { checkValues, expected, N, publishOrders, workload } from './orders-workload.js';

describe('derive at production cardinality (real broker)', () => {
  it('200,000 events, 20,000 restaurants: exact counts, distinct users within the bound, changelog per key', { timeout: 600_000 }, async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
    const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });
    const t0 = Date.now();
    const phase = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s (consumed ${runner?.stats.consumed ?? 0}, produced ${runner?.stats.produced ?? 0})`);
    let runner: DeriveRunner | undefined;
    const events = workload();
    await publishOrders(topic, events, { tick: true });
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

    const exp = expected(events);
    assert.ok(exp.counts.size > 50_000, `${exp.counts.size} (restaurant, window) counts`);
    const records = await readAll(metricsTopic, { count: exp.values, timeoutMs: 420_000, settleMs: 3000 });
    checkValues(records, exp);
    assert.equal(runner.stats.lateDropped, 0);
    const { counts, users, amounts } = exp;

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
