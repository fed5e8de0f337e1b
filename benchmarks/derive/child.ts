/**
 * One process of benchmarks/derive, started by run.ts with the configuration in BENCH_CONFIG and an IPC channel.
 *
 * Mode 'prepare' (untimed): publishes the N OrderPlaced events with the project's own publisher
 * (createPublisher, statsd: false). Mode 'prepare-table' (untimed): publishes one RestaurantProfile per
 * restaurant id of the plan to the table topic (`topics: { 'restaurants.v1': tableTopic }`).
 *
 * Mode 'D' (measured): multidispatch's DeriveRunner over the pre-filled topic and the run's empty flush topic.
 *   set-up (module load, definitions, runner constructed) → 'ready' → parent marks CPU → 'go' → start() →
 *   'started' → … parent polls the group's committed offsets … → 'timed' (CPU noted) → parent writes the
 *   flush records and waits for them → 'done' → stop() → 'result' → exit.
 * The parent measures wall time and this process' CPU (/proc/<pid>/stat) between 'go' and the moment the
 * committed offsets reach the end of the input; this process reports what the runner says.
 * Under `node --cpu-prof` (the parent's profiled run) the timed phase is also reported in the process' monotonic
 * clock (µs), to cut the profile to it.
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { createPublisher, DeriveRunner, defineMetrics, tumbling } from 'multidispatch';
import { schema } from 'multidispatch/examples';
import { send, waitFor } from '../lib/child-ipc.js';
import { publishAll } from '../lib/prefill.js';
import { round } from '../lib/stats.js';
import { orderPlaced, restaurantProfile, type EventPlan } from './events.js';

/**
 * key: order id (no repartition); market: 6 groups; join: region of a joined restaurant; restaurant: count per
 * restaurant (100,000 by default); users: distinct users per restaurant (countDistinct, 20,000 by default).
 */
export type GroupBy = 'key' | 'market' | 'join' | 'restaurant' | 'users';

export interface ChildConfig {
  mode: 'prepare' | 'prepare-table' | 'D';
  brokers: string;
  /** D's Kafka client (the publisher that pre-fills the topics stays on the package default). */
  client?: 'kafkajs' | 'platformatic';
  topic: string;
  partitions: number;
  plan: EventPlan;
  /** D: the run's (empty at start) flush topic, co-partitioned with `topic`; run.ts writes to it after the timed phase. */
  flushTopic: string;
  maxOutstanding: number;
  /** D */
  group: string;
  groupBy: GroupBy;
  metricName: string;
  metricsTopic: string;
  alertsTopic: string;
  commitIntervalMs: number;
  /** D: DeriveRunner idleMs (0: stream time never advances with the wall clock, and aggregate tasks do not wait for sources that have not reported). */
  idleMs: number;
  /** join: the compacted topic of the global table 'restaurant' (RestaurantProfile keyed by restaurant_id). */
  tableTopic?: string;
  /** Records in the input topic (N): D notes when stats.consumed reaches it. */
  expectRecords: number;
}

export interface PrepareResult {
  published: number;
  errors: number;
  publishMs: number;
}

export interface DeriveChildResult {
  consumed: number;
  produced: number;
  rebalances: number;
  restoreMs: number;
  skippedUnknown: number;
  /** 'go' → start() resolved (admin checks, topics ensured, consumer connected and subscribed; not the group join). */
  startMs: number;
  /** 'go' → stats.consumed reached expectRecords (polled every 20 ms), when it did. */
  consumedAllMs?: number;
  /** stats.consumed at 'timed'. */
  consumedAtTimed: number;
  /** stats.lateDropped after stop(): events dropped as late (past window end + grace), over all metrics and tasks. */
  lateDropped: number;
  /** stats.lateDropped at 'timed' (as of the last commit before it). */
  lateDroppedAtTimed: number;
  /** stats.repartitioned after stop(): metric inputs sent through `<group>-repartition` (0 when aggregated in the source task). */
  repartitioned: number;
  /** stop() duration (the final commit, disconnects). */
  stopMs: number;
  /** process.cpuUsage() between 'go' and 'timed' (the end of the timed phase; cross-check of the parent's /proc figure). */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Table records the runner read (stats.tableRecords; join only, else 0). */
  tableRecords: number;
  /** 'go' → 'timed' in the process' monotonic clock (µs): cuts a --cpu-prof profile to the timed phase. */
  windowUs: [number, number];
}

const cfg = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as ChildConfig;

async function prepare(): Promise<PrepareResult> {
  const t0 = performance.now();
  const publisher = createPublisher({ schema, producer: 'bench-derive', kafka: { brokers: [cfg.brokers] }, statsd: false, topics: { 'orders.v1': cfg.topic } });
  const { errors, firstError } = await publishAll(publisher, cfg.plan.n, cfg.maxOutstanding, (i) => publisher.publish('orders.v1.OrderPlaced', orderPlaced(i, cfg.plan)));
  const publishMs = performance.now() - t0;
  if (errors > 0) throw new Error(`${errors} publishes failed, first: ${firstError}`);
  return { published: cfg.plan.n, errors, publishMs: round(publishMs) };
}

async function prepareTable(): Promise<PrepareResult> {
  const t0 = performance.now();
  const rows = cfg.plan.restaurants ?? 0;
  const publisher = createPublisher({ schema, producer: 'bench-derive', kafka: { brokers: [cfg.brokers] }, statsd: false, topics: { 'restaurants.v1': cfg.tableTopic! } });
  const { errors, firstError } = await publishAll(publisher, rows, cfg.maxOutstanding, (r) => publisher.publish('restaurants.v1.RestaurantProfile', restaurantProfile(r, cfg.plan.startMs)));
  const publishMs = performance.now() - t0;
  if (errors > 0) throw new Error(`${errors} publishes failed, first: ${firstError}`);
  return { published: rows, errors, publishMs: round(publishMs) };
}

async function derive(): Promise<DeriveChildResult> {
  const join = cfg.groupBy === 'join';
  const metrics = join
    ? defineMetrics(
        schema,
        [{ name: cfg.metricName, from: 'orders.v1.OrderPlaced', join: { restaurant: 'restaurant_id' }, groupBy: ['restaurant.region'], window: tumbling('5m', { grace: '1m' }) }],
        { tables: [{ name: 'restaurant', from: 'restaurants.v1.RestaurantProfile', global: true }] },
      )
    : defineMetrics(schema, [
        {
          name: cfg.metricName,
          from: 'orders.v1.OrderPlaced',
          groupBy: [cfg.groupBy === 'key' ? 'order_id' : cfg.groupBy === 'market' ? 'market' : 'restaurant_id'],
          window: tumbling('5m', { grace: '1m' }),
          ...(cfg.groupBy === 'users' ? { aggregate: { kind: 'countDistinct' as const, field: 'context.user_id' } } : {}),
        },
      ]);
  const runner = new DeriveRunner({
    kafka: { brokers: [cfg.brokers], ...(cfg.client && { client: cfg.client }) },
    schema,
    metrics,
    group: cfg.group,
    topics: [cfg.topic, cfg.flushTopic],
    ...(join ? { tableTopics: { restaurant: cfg.tableTopic! } } : {}),
    metricsTopic: cfg.metricsTopic,
    alertsTopic: cfg.alertsTopic,
    idleMs: cfg.idleMs,
    commitIntervalMs: cfg.commitIntervalMs,
    logger: pino({ name: 'bench-derive', level: 'warn' }, pino.destination(2)),
  });
  let fatal: Error | undefined;
  runner.onFatal = (err) => {
    fatal = err;
    void send({ type: 'error', message: `DeriveRunner failed: ${err.stack ?? err.message}` });
  };
  await send({ type: 'ready' });
  await waitFor('go');
  const timed = waitFor('timed');
  const done = waitFor('done');
  const hr0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let consumedAllMs: number | undefined;
  const poll = setInterval(() => {
    if (consumedAllMs === undefined && runner.stats.consumed >= cfg.expectRecords) consumedAllMs = performance.now() - t0;
  }, 20);
  await runner.start();
  const startMs = performance.now() - t0;
  await send({ type: 'started', startMs });
  await timed;
  const hr1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const consumedAtTimed = runner.stats.consumed;
  const lateDroppedAtTimed = runner.stats.lateDropped;
  clearInterval(poll);
  await done;
  if (fatal) throw fatal;
  const s0 = performance.now();
  await runner.stop();
  const stopMs = performance.now() - s0;
  return {
    consumed: runner.stats.consumed,
    consumedAtTimed,
    lateDropped: runner.stats.lateDropped,
    lateDroppedAtTimed,
    repartitioned: runner.stats.repartitioned,
    produced: runner.stats.produced,
    rebalances: runner.stats.rebalances,
    restoreMs: runner.stats.restoreMs,
    skippedUnknown: runner.stats.skippedUnknown,
    startMs: round(startMs, 1),
    ...(consumedAllMs !== undefined ? { consumedAllMs: round(consumedAllMs, 1) } : {}),
    stopMs: round(stopMs, 1),
    cpuUserMs: round(cpu.user / 1000, 1),
    cpuSystemMs: round(cpu.system / 1000, 1),
    tableRecords: runner.stats.tableRecords,
    windowUs: [Number(hr0 / 1000n), Number(hr1 / 1000n)],
  };
}

async function main(): Promise<void> {
  const result = cfg.mode === 'prepare' ? await prepare() : cfg.mode === 'prepare-table' ? await prepareTable() : await derive();
  await send({ type: 'result', result });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }).catch(() => undefined);
    process.exit(1);
  },
);
