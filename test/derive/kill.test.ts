/**
 * `multidispatch derive` SIGKILLed mid-stream and restarted: state comes back from the changelog, outputs and
 * offsets were committed together, so the metric values read back (read_committed) are exactly those of a count
 * by hand — every window once, nothing lost, nothing doubled.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { decodeMetric } from '../../src/derive/outputs.js';
import { brokers, freshTopic, randomSuffix, readAll } from '../support/kafka.js';
import { until } from '../support/wait.js';

const root = resolve(import.meta.dirname, '../..');
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
const AGGS = ['talabat', 'careem', 'deliveroo'];

function startDerive(args: string[]) {
  const child = spawn(process.execPath, [join(root, 'bin/multidispatch.js'), 'derive', ...args, '--log-level', 'debug'], {
    cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const state = { commits: 0, log: '', exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))) };
  child.stderr.on('data', (d: Buffer) => {
    state.log = (state.log + String(d)).slice(-8000);
    // Transactions that committed metric values (source tasks commit repartition records only).
    state.commits += (String(d).match(/"values":[1-9][0-9]*[^\n]*"transaction committed"/g) ?? []).length;
  });
  return { child, state };
}


describe('derive: SIGKILL and restart', () => {
  it('killed mid-stream and restarted from the changelog: every window exactly once, equal to a count by hand', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
    const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });
    const dir = join(root, '.tmp-derive');
    mkdirSync(dir, { recursive: true });
    const defs = join(dir, `metrics-${randomSuffix()}.mjs`);
    writeFileSync(
      defs,
      `import { tumbling } from 'multidispatch';
export default [
  { name: 'rejections_5m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('5m') },
  { name: 'restaurants_10m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('10m'),
    aggregate: { kind: 'countDistinct', field: 'restaurant_id' } },
  // Grouped by the input's key: aggregated in the source task (state under src-<partition>), no repartition.
  { name: 'per_order_10m', from: 'orders.v1.OrderRejected', groupBy: ['order_id'], window: tumbling('10m') },
];
`,
    );
    t.after(() => rmSync(defs, { force: true }));
    const events = Array.from({ length: 600 }, (_, i) => ({
      orderId: `o-${i % 40}`, restaurantId: `r-${(i * 13) % 11}`, market: 'AE', aggregator: AGGS[i % 3]!, reason: 'TOO_BUSY' as const, rejectedAt: new Date(T0 + i * 6_000),
    }));
    const publish = async (evs: typeof events) => {
      const p = createPublisher({ schema, producer: 'derive-kill', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
      for (const e of evs) await p.publish('orders.v1.OrderRejected', e); // in order
      await p.close();
    };
    const args = ['--definitions', defs, '--proto', 'proto', '--group', `derive-${topic}`, '--topic-rename', `orders.v1=${topic}`,
      '--metrics-topic', metricsTopic, '--alerts-topic', alertsTopic, '--idle-ms', '2000', '--commit-interval-ms', '150'];

    await publish(events.slice(0, 250));
    const first = startDerive(args);
    t.after(() => first.child.kill('SIGKILL'));
    await until(() => first.state.commits >= 1, 60_000, `a first commit:\n${first.state.log}`);
    const more = publish(events.slice(250));
    await until(() => first.state.commits >= 3, 60_000, 'more commits');
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 100)));
    first.child.kill('SIGKILL');
    await first.state.exited;
    await more;

    // The kill landed mid-stream: some windows were committed, not all.
    const committedBefore = (await readAll(metricsTopic, { count: 1, timeoutMs: 30_000, settleMs: 1500 })).length;
    assert.ok(committedBefore > 0 && committedBefore < 294, `the first process committed part of the values (${committedBefore} of 294)`);
    t.diagnostic(`values committed before the kill: ${committedBefore} of 294`);

    const second = startDerive(args);
    t.after(() => second.child.kill('SIGKILL'));

    const expected = new Map<string, number>();
    const distinct = new Map<string, Set<string>>();
    for (const e of events) {
      const t5 = Math.floor(e.rejectedAt.getTime() / (5 * MIN)) * 5 * MIN;
      expected.set(`rejections_5m|${e.aggregator}|${t5}`, (expected.get(`rejections_5m|${e.aggregator}|${t5}`) ?? 0) + 1);
      const k10 = `restaurants_10m|${e.aggregator}|${Math.floor(e.rejectedAt.getTime() / (10 * MIN)) * 10 * MIN}`;
      if (!distinct.has(k10)) distinct.set(k10, new Set());
      distinct.get(k10)!.add(e.restaurantId);
      const o10 = `per_order_10m|${e.orderId}|${Math.floor(e.rejectedAt.getTime() / (10 * MIN)) * 10 * MIN}`;
      expected.set(o10, (expected.get(o10) ?? 0) + 1);
    }
    for (const [k, s] of distinct) expected.set(k, s.size);
    // 36 + 18 + 240 values; read until they are all there, then 2 s more so a duplicate would show.
    const records = await readAll(metricsTopic, { count: expected.size, timeoutMs: 90_000, settleMs: 2000 });
    const values = records.map((r) => decodeMetric(r.value!));
    const got = new Map(values.map((v) => [`${v.name}|${v.dimensions.aggregator ?? v.dimensions.order_id}|${v.windowStart}`, v.value]));
    assert.equal(values.length, got.size, `every window exactly once (${values.length} values, ${got.size} distinct)`);
    assert.deepEqual(got, expected);
    second.child.kill('SIGTERM');
    assert.equal(await second.state.exited, 0, second.state.log);
  });
});
