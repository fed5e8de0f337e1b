/**
 * `stateDir`: task state kept in a local LMDB store with the changelog offset it reflects, against a real broker.
 * A clean restart reads no changelog record; an empty state dir (the task moved to another instance) is rebuilt
 * from the whole changelog; a state dir that fell behind (the task came back) reads only the changelog after its
 * checkpoint — and the metric values read back are exactly those of a count by hand, each once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { decodeMetric } from '../../src/derive/outputs.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { tumbling } from '../../src/derive/windows.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger } from '../support/loader.js';
import { until } from '../support/wait.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);


describe('derive with a local state store (real broker)', () => {
  it('clean restart reads no changelog; a new state dir rebuilds from it; a stale one reads only the tail; values exact', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
    const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });
    const dirA = mkdtempSync(join(tmpdir(), 'md-state-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'md-state-b-'));
    t.after(() => [dirA, dirB].forEach((d) => rmSync(d, { recursive: true, force: true })));
    const metrics = defineMetrics(schema, [
      { name: 'per_restaurant_5m', from: 'orders.v1.OrderRejected', groupBy: ['restaurant_id'], window: tumbling('5m') },
      // Grouped by the input's key: source-task state (`<group>-src-changelog`), kept locally too.
      { name: 'per_order_10m', from: 'orders.v1.OrderRejected', groupBy: ['order_id'], window: tumbling('10m') },
    ]);
    // Three phases over the same 40 minutes of event time, so windows stay open across the restarts; nothing is
    // late, and idleMs 0 keeps stream time on the events. A last event per partition far ahead closes them all.
    const phase = (k: number) => Array.from({ length: 400 }, (_, i) => ({
      orderId: `o-${(i * 7 + k) % 150}`, restaurantId: `r-${(i * 13 + k * 5) % 97}`, market: 'AE', aggregator: 'talabat', reason: 'TOO_BUSY' as const,
      rejectedAt: new Date(T0 + k * 40 * MIN / 3 + i * 2_000),
    }));
    const phases = [phase(0), phase(1), phase(2)];
    const closing = Array.from({ length: 30 }, (_, i) => ({ orderId: `close-${i}`, restaurantId: 'r-close', market: 'AE', aggregator: 'talabat', reason: 'TOO_BUSY' as const, rejectedAt: new Date(T0 + 180 * MIN) }));
    const publish = async (evs: Array<ReturnType<typeof phase>[number]>) => {
      const p = createPublisher({ schema, producer: 'derive-state-dir', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
      for (const e of evs) await p.publish('orders.v1.OrderRejected', e);
      await p.close();
    };
    const group = `derive-${topic}`;
    const run = async (stateDir: string, consumedAtLeast: number) => {
      const { logger, lines } = capturingLogger();
      const runner = new DeriveRunner({ kafka: { brokers: brokers() }, schema, metrics, group, topics: [topic], metricsTopic, alertsTopic, idleMs: 0, commitIntervalMs: 200, stateDir, logger });
      const log = () => lines.filter((l) => (l.level as number) >= 30).slice(-15).map((l) => JSON.stringify(l)).join('\n');
      t.after(() => runner.stop());
      await runner.start();
      await until(() => runner.stats.consumed >= consumedAtLeast && runner.stats.repartitioned >= consumedAtLeast, 60_000, `consumed ${consumedAtLeast} (${JSON.stringify(runner.stats)})\n${log()}`);
      // Let the aggregate tasks take in what was repartitioned, then stop cleanly (it commits and closes the store).
      await until(() => runner.stateSummary().tasks === 6, 30_000, 'every task started');
      await new Promise((r) => setTimeout(r, 1500));
      await runner.stop();
      return runner.stats;
    };

    await publish(phases[0]!);
    const a1 = await run(dirA, 400);
    assert.equal(a1.fullRestores, 6, 'a new state dir: every task is built from the changelog (empty here)');
    assert.ok(a1.changelogRecords > 0);

    await publish(phases[1]!);
    const a2 = await run(dirA, 400);
    assert.equal(a2.fullRestores, 0, 'clean restart: every task from the local copy');
    assert.equal(a2.restoredRecords, 0, 'clean restart: not one changelog record read');
    assert.ok(a2.localKeys > 0, `keys read locally: ${a2.localKeys}`);

    // The tasks move to an instance with its own (empty) state dir: rebuilt from the whole changelog.
    await publish(phases[2]!);
    const b = await run(dirB, 400);
    assert.equal(b.fullRestores, 6);
    assert.ok(b.restoredRecords >= a2.localKeys, `the new instance read the changelog: ${b.restoredRecords} records`);

    // They come back to the first instance, whose copy is behind: only what the other wrote since is read.
    await publish(closing);
    const runner = new DeriveRunner({ kafka: { brokers: brokers() }, schema, metrics, group, topics: [topic], metricsTopic, alertsTopic, idleMs: 0, commitIntervalMs: 200, stateDir: dirA, logger: capturingLogger().logger });
    t.after(() => runner.stop());
    await runner.start();

    const expected = new Map<string, number>();
    for (const e of phases.flat()) {
      const r5 = `per_restaurant_5m|${e.restaurantId}|${Math.floor(e.rejectedAt.getTime() / (5 * MIN)) * 5 * MIN}`;
      expected.set(r5, (expected.get(r5) ?? 0) + 1);
      const o10 = `per_order_10m|${e.orderId}|${Math.floor(e.rejectedAt.getTime() / (10 * MIN)) * 10 * MIN}`;
      expected.set(o10, (expected.get(o10) ?? 0) + 1);
    }
    const records = await readAll(metricsTopic, { count: expected.size, timeoutMs: 90_000, settleMs: 2000 });
    const values = records.map((r) => decodeMetric(r.value!));
    const got = new Map(values.map((v) => [`${v.name}|${v.dimensions.restaurant_id ?? v.dimensions.order_id}|${v.windowStart}`, v.value]));
    assert.equal(values.length, got.size, `every window exactly once (${values.length} values, ${got.size} distinct)`);
    assert.deepEqual(got, expected);
    assert.equal(runner.stats.fullRestores, 0, 'the stale copy was used');
    assert.ok(runner.stats.restoredRecords > 0 && runner.stats.restoredRecords <= b.changelogRecords + 6,
      `only the tail was read: ${runner.stats.restoredRecords} records (the other instance wrote ${b.changelogRecords})`);
  });
});
