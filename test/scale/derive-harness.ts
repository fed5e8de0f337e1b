/**
 * The harness of the scale runs with faults: the uninterrupted reference (the same engine fed every event in one
 * process), `multidispatch derive` child processes with their whole logs in .tmp-derive/faults-<n>.log, and the
 * check of what a run committed against both the reference and a count by hand.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { MetricEngine } from '../../src/derive/engine.js';
import { hopping, tumbling } from '../../src/derive/windows.js';
import { brokers, freshTopic, randomSuffix, readAll, type Cleanup } from '../support/kafka.js';
export { until } from '../support/wait.js';
import { checkValues, DEFINITIONS_MODULE, expected, publishOrders, workload, type Got, type Placed } from './orders-workload.js';

const root = resolve(import.meta.dirname, '../..');

/** The values of an uninterrupted run: one engine, every event in order, in this process. */
export function uninterrupted(events: Placed[]): Got {
  const metrics = defineMetrics(schema, [
    { name: 'orders_5m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: tumbling('5m', { grace: '30s' }) },
    { name: 'users_10m', from: 'orders.v1.OrderPlaced', groupBy: ['restaurant_id'], window: hopping('10m', '5m', { grace: '30s' }), aggregate: { kind: 'countDistinct', field: 'context.user_id', relativeError: 0.02 } },
    { name: 'order_value', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }), aggregate: { kind: 'percentile', field: 'total.amount_minor', quantiles: [0.5, 0.95, 0.99], relativeAccuracy: 0.01 } },
  ]);
  const engine = new MetricEngine(metrics, { idleMs: 0 });
  const got: Got = { orders_5m: new Map(), users_10m: new Map(), order_value: new Map() };
  const take = (o: ReturnType<MetricEngine['flushAll']>) => {
    for (const v of o.values) got[v.metric as keyof Got].set(v.metric === 'order_value' ? `${v.dimensions.quantile}|${v.windowStart}` : `${v.dimensions.restaurant_id}|${v.windowStart}`, v.value);
  };
  let wall = 0;
  for (const e of events) {
    take(engine.process({ type: 'orders.v1.OrderPlaced', occurredAt: e.t, partition: 0, event: {
      orderId: e.orderId, context: { userId: e.userId }, restaurantId: e.restaurantId, market: 'GB', platform: 'IOS', total: { amountMinor: String(e.amount), currency: 'GBP' }, itemCount: 2,
    } }, ++wall));
  }
  take(engine.flushAll());
  return got;
}

export interface Instance {
  child: ChildProcess;
  log: string;
  /** Transactions that committed metric values. */
  commits: number;
  /** Every 'state restored' log line (the tail in `log` may have scrolled past them). */
  restores: string[];
  /** 'partitions assigned' log lines seen (rebalances this instance took part in). */
  assignments: number;
  /** The 'state at stop' line of a clean stop, parsed. */
  atStop?: { keys: number; cachedWindows: number; windowsReadFromDisk: number };
  exited: Promise<number | null>;
}

let started = 0;
/** Every instance's whole log goes to .tmp-derive/faults-<n>.log (the test keeps the tail to match on). */
export function startDerive(t: Cleanup, args: string[]): Instance {
  const file = join(root, '.tmp-derive', `faults-${++started}.log`);
  writeFileSync(file, `${args.join(' ')}\n`);
  const child = spawn(process.execPath, [join(root, 'bin/multidispatch.js'), 'derive', ...args, '--log-level', 'debug'], {
    cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const inst: Instance = { child, log: '', commits: 0, restores: [], assignments: 0, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    appendFileSync(file, d);
    inst.log = (inst.log + String(d)).slice(-20_000);
    const lines = (partial + String(d)).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (/"values":[1-9][0-9]*[^\n]*"transaction committed"/.test(line)) inst.commits++;
      if (line.includes('"msg":"state restored"')) inst.restores.push(line);
      if (line.includes('partitions assigned')) inst.assignments++;
      if (line.includes('"msg":"state at stop"')) inst.atStop = JSON.parse(line) as Instance['atStop'];
    }
  });
  t.after(() => child.kill('SIGKILL'));
  return inst;
}

export async function setup(t: Cleanup & { diagnostic: (m: string) => void }) {
  const topic = await freshTopic(t, { partitions: 3 });
  const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
  const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });
  const tmp = join(root, '.tmp-derive');
  mkdirSync(tmp, { recursive: true });
  const defs = join(tmp, `scale-metrics-${randomSuffix()}.mjs`);
  writeFileSync(defs, DEFINITIONS_MODULE);
  t.after(() => rmSync(defs, { force: true }));
  const events = workload();
  await publishOrders(topic, events, { tick: true });
  const args = (stateDir: string) => ['--definitions', defs, '--proto', 'proto', '--group', `derive-faults-${topic}`, '--topic-rename', `orders.v1=${topic}`,
    '--metrics-topic', metricsTopic, '--alerts-topic', alertsTopic, '--idle-ms', '3000', '--commit-interval-ms', '1000', '--state-dir', stateDir,
    // A small cache, so that most windows live on disk only and are read back under the faults.
    '--state-cache-keys', '500'];
  const stateDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'md-scale-state-'));
    t.after(() => rmSync(d, { recursive: true, force: true }));
    return d;
  };
  return { events, metricsTopic, args, stateDir };
}

export async function checkAgainstUninterrupted(metricsTopic: string, events: Placed[]) {
  const exp = expected(events);
  const records = await readAll(metricsTopic, { count: exp.values, timeoutMs: 420_000, settleMs: 5000 });
  const got = checkValues(records, exp);
  const reference = uninterrupted(events);
  assert.deepEqual(got.orders_5m, reference.orders_5m);
  assert.deepEqual(got.users_10m, reference.users_10m, 'distinct counts identical to an uninterrupted run');
  assert.deepEqual(got.order_value, reference.order_value, 'percentiles identical to an uninterrupted run');
}

