/**
 * benchmarks/derive: a derived metric — a count per group in 5-minute tumbling windows (grace 1 minute, event time
 * from the md-occurred-at header, exactly-once) — computed over the same pre-filled topic by
 *   D — multidispatch: `new DeriveRunner({ ..., metrics: defineMetrics(schema, [{ name, from: 'orders.v1.OrderPlaced',
 *       groupBy: [...], window: tumbling('5m', { grace: '1m' }) }]), idleMs: 0, commitIntervalMs })` in a node child;
 *   K — the same metric as a Kafka Streams application (streams-app/, kafka-streams = the broker's version,
 *       processing.guarantee=exactly_once_v2, the same commit.interval.ms) in a java child.
 * Three metrics ("group by"): `key` — the record key (order_id; Streams: groupByKey, no repartition), `market` — a
 * field of the protobuf value (Streams: re-key by the field read from the value, repartition, count) and `join` —
 * the region of the order's restaurant, from a global table (multidispatch: `join: { restaurant: 'restaurant_id' }`,
 * `groupBy: ['restaurant.region']`, `tables: [{ name: 'restaurant', global: true }]`; Streams: a GlobalKTable, an
 * inner join, re-key by region, repartition, count) over a compacted table topic of `restaurants` RestaurantProfile
 * rows (1 partition) pre-filled with the publisher; both read the whole table inside the timed phase.
 * One local broker (benchmarks/lib/kafka-env.ts), started here and stopped at the end. One input topic per group-by
 * is pre-filled once (createPublisher, untimed); every run uses a fresh consumer group / application.id, a fresh
 * output topic and a fresh (empty) flush topic that both read as a second, co-partitioned input.
 * A run is timed from 'go' (the process is already started and set up) until the group's committed offsets reach the
 * end offsets of every input partition (admin fetchOffsets, polled), the same criterion for both. Then the output
 * topic is read back and checked: every event counted exactly once, and the same per-window results from D and K.
 * Per-thread CPU of both processes over the timed phase (/proc/<pid>/task/*) is kept with every run. After the
 * measured runs, one more D run per variant in BENCH_DERIVE_PROFILE runs under `node --cpu-prof` (not in the tables)
 * and is summarised (benchmarks/lib/cpuprofile.ts); the profile is saved as benchmarks/results/derive-<variant>.cpuprofile.
 * Writes benchmarks/results/derive.json and rewrites docs/benchmarks.md; exits 1 (like load) when a run failed, a
 * count check failed or the per-window results differ — after saving and rendering them.
 * Env: BENCH_DERIVE_N (100000), BENCH_DERIVE_REPS (2), BENCH_DERIVE_WARMUP (1), BENCH_DERIVE_KEYS (10000),
 * BENCH_DERIVE_GROUP_BY (key,market,join), BENCH_DERIVE_SPAN_MIN (20, key), BENCH_DERIVE_MARKET_SPAN_MIN (5),
 * BENCH_DERIVE_JOIN_SPAN_MIN (5), BENCH_DERIVE_RESTAURANTS (500, join), BENCH_DERIVE_JITTER_S (10),
 * BENCH_DERIVE_COMMIT_MS (1000), BENCH_DERIVE_IDLE_MS (0: D's idleMs), BENCH_DERIVE_PROFILE (key,join; 0 for none).
 *
 *   npm run bench -- derive                      (builds dist/ if needed, then runs this)
 *   BENCH_DERIVE_N=30000 BENCH_DERIVE_REPS=1 BENCH_DERIVE_WARMUP=0 npx tsx benchmarks/derive/run.ts   (a quick look)
 */
import { fork } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Partitioners, type Admin } from 'kafkajs';
import { schema } from 'multidispatch/examples';
// Not exported from the package root: the built registry and envelope header names (the files `multidispatch` uses).
import { EventRegistry } from '../../dist/src/schema/registry.js';
import { HEADER } from '../../dist/src/schema/envelope.js';
import { startBenchKafka, type BenchKafka } from '../lib/kafka-env.js';
import { CLOCK_TICKS_PER_SECOND, cpuSince, machineInfo, processCpuTicks, takeCpuMark } from '../lib/machine.js';
import { exitOnError, exitOnSignals, stopAndSave } from '../lib/lifecycle.js';
import { median, round } from '../lib/stats.js';
import { relabelComponents, summariseProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { resultsDir } from '../lib/results.js';
import type { ChildConfig, DeriveChildResult, GroupBy, PrepareResult } from './child.js';
import { throughputTarget, type SummaryRow } from './render.js';
import { MARKETS, orderPlaced, planStart, REGIONS, restaurantKey, WINDOW_MS, type EventPlan } from './events.js';
import { threadSplit, threadTicks } from './threads.js';
import { ensureStreamsJar, javaVersion, spawnStreams } from './streams.js';
import { compareOutputs, readDerive, readStreams, type OutputSummary, type OutputMap } from './verify.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const say = (msg: string) => process.stderr.write(`[bench:derive] ${msg}\n`);
const envInt = (name: string, dflt: number) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : dflt);

type Impl = 'D' | 'K';
/** The results' name (benchmarks/results/<name>.json, its section and NOTES.md): `derive`, or `derive-hc` (benchmarks/derive-hc/run.ts). */
const RESULTS_NAME = process.env.BENCH_DERIVE_RESULTS ?? 'derive';
const ALL_GROUP_BYS: GroupBy[] = ['key', 'market', 'join', 'restaurant', 'users'];
const groupBysOf = (name: string, dflt: string): GroupBy[] => {
  const v = process.env[name] ?? dflt;
  const out = (v === '0' ? [] : v.split(',').filter(Boolean)) as GroupBy[];
  for (const g of out) if (!ALL_GROUP_BYS.includes(g)) throw new Error(`${name}: unknown '${g}' (${ALL_GROUP_BYS.join(', ')})`);
  return out;
};
const GROUP_BYS = groupBysOf('BENCH_DERIVE_GROUP_BY', 'key,market,join');

const method = {
  partitions: 6,
  /** The Kafka client D (multidispatch) runs on: BENCH_DERIVE_CLIENT (kafkajs; benchmarks/derive-platformatic sets platformatic). */
  dClient: (process.env.BENCH_DERIVE_CLIENT ?? 'kafkajs') as 'kafkajs' | 'platformatic',
  n: envInt('BENCH_DERIVE_N', 100_000),
  keys: envInt('BENCH_DERIVE_KEYS', 10_000),
  /**
   * Event times spread over this many minutes (ending about an hour before the run), per group-by. A repartition
   * stage reorders events by as much event time as one source partition advances in one burst (multidispatch: a
   * commit interval's worth; Streams: a poll's worth), and with a 1-minute grace that turns into late drops when
   * the span is long. `key`: 20 min — measured without drops in either; `market`: 5 min, aligned to a window, so no
   * window can close before the run's flush records (no late drop is possible whatever the reordering).
   */
  spanMinutes: {
    key: envInt('BENCH_DERIVE_SPAN_MIN', 20), market: envInt('BENCH_DERIVE_MARKET_SPAN_MIN', 5), join: envInt('BENCH_DERIVE_JOIN_SPAN_MIN', 5),
    restaurant: envInt('BENCH_DERIVE_HC_SPAN_MIN', 20), users: envInt('BENCH_DERIVE_HC_SPAN_MIN', 20),
  } as Record<GroupBy, number>,
  /** join: restaurant ids in the input and rows in the table topic (each in one of 20 regions). */
  restaurants: envInt('BENCH_DERIVE_RESTAURANTS', 500),
  /** High cardinality: restaurant ids of the `restaurant` (count) and `users` (distinct users) variants, and user ids of `users`. */
  hcRestaurants: { restaurant: envInt('BENCH_DERIVE_HC_RESTAURANTS', 100_000), users: envInt('BENCH_DERIVE_HC_USERS_RESTAURANTS', 20_000) },
  hcUsers: envInt('BENCH_DERIVE_HC_USERS', 50_000),
  regions: REGIONS.length,
  jitterS: envInt('BENCH_DERIVE_JITTER_S', 10),
  repetitions: envInt('BENCH_DERIVE_REPS', 2),
  commitIntervalMs: envInt('BENCH_DERIVE_COMMIT_MS', 1000),
  /** D's idleMs. */
  idleMs: envInt('BENCH_DERIVE_IDLE_MS', 0),
  groupBys: GROUP_BYS,
  /** Variants of which one more D run is profiled with node --cpu-prof after the measured runs (not in the tables). */
  profile: groupBysOf('BENCH_DERIVE_PROFILE', 'key,join').filter((g) => GROUP_BYS.includes(g)),
  cpuProfIntervalUs: 250,
  /** One discarded D and K run (group by key) before the measured ones: broker, page cache, jar and RocksDB files. */
  warmup: (process.env.BENCH_DERIVE_WARMUP ?? '1') !== '0',
  streamsEmit: 'update' as const,
  streamsThreads: 1,
  jvmArgs: [] as string[],
  pollMs: 100,
  maxOutstanding: 20_000,
  runTimeoutMs: 300_000,
};

const METRIC = { key: 'orders_5m_by_order', market: 'orders_5m_by_market', join: 'orders_5m_by_region', restaurant: 'orders_5m_by_restaurant', users: 'users_5m_by_restaurant' } as const;
const DIMENSION = { key: 'order_id', market: 'market', join: 'region', restaurant: 'restaurant_id', users: 'restaurant_id' } as const;

export interface RunRecord {
  impl: Impl;
  groupBy: GroupBy;
  repetition: number;
  failure?: string;
  /** go → committed offsets at the end of every input partition. */
  elapsedMs?: number;
  eventsPerSec?: number;
  /** go → first poll that saw a committed offset; the events committed by then. */
  firstCommitMs?: number;
  committedAtFirst?: number;
  /** Events ÷ (first committed offset seen → done): the rate once started, at commit-interval granularity. */
  steadyEventsPerSec?: number;
  /** The process (node child / java) over go → done, from /proc/<pid>/stat (10 ms ticks), ÷ N. */
  cpuUsPerEvent?: number;
  cpuS?: number;
  /** Peak resident set of the process (VmHWM) at done. */
  peakRssMiB?: number;
  brokerCpuUsPerEvent?: number;
  otherCpuCores?: number;
  stealCores?: number;
  /** CPU of the process over the timed phase per thread class (/proc/<pid>/task/*; K: stream thread vs the rest). */
  threads?: ReturnType<typeof threadSplit>;
  /** Admin polls of this run retried after a transient error (each delays "done" by up to one poll interval). */
  pollRetries?: number;
  /** K: go → Streams printed RUNNING. D: go → start() resolved. */
  startMs?: number;
  d?: DeriveChildResult;
  k?: { processed?: number; dropped?: number; exit: string };
  output?: OutputSummary;
  check: 'ok' | 'failed' | 'n/a';
  checkText?: string;
}

type Targets = Map<string, Map<number, bigint>>;

async function committedOf(admin: Admin, group: string, topics: string[]): Promise<Map<string, Map<number, bigint>>> {
  const r = await admin.fetchOffsets({ groupId: group, topics });
  const out = new Map<string, Map<number, bigint>>();
  for (const t of r) out.set(t.topic, new Map(t.partitions.map((p) => [p.partition, BigInt(p.offset)])));
  return out;
}

/**
 * Whether the group has consumed everything: its committed offsets reach `targets` on the given topics, and on the
 * group's repartition topics (`<group>-…repartition`: multidispatch's `<group>-repartition`, Streams'
 * `<application.id>-<name>-repartition`) they reach the end offset minus one — the last record of a partition
 * written in transactions is a commit marker, which a consumer's committed offset does not pass. Repartition topics
 * are only checked once the targets are reached: by then every transaction that wrote to them and consumed the
 * input has committed. Returns the sum committed on the target topics.
 */
async function drained(admin: Admin, group: string, targets: Targets, repartition: boolean): Promise<{ done: boolean; committed: bigint }> {
  const c = await committedOf(admin, group, [...targets.keys()]);
  let sum = 0n;
  let done = true;
  for (const [topic, parts] of targets) {
    for (const [p, end] of parts) {
      const o = c.get(topic)?.get(p) ?? -1n;
      if (o > 0n) sum += o;
      if (o < end) done = false;
    }
  }
  if (!done || !repartition) return { done, committed: sum };
  const internal = (await admin.listTopics()).filter((t) => t.startsWith(`${group}-`) && t.endsWith('-repartition'));
  if (internal.length === 0) return { done, committed: sum };
  const ic = await committedOf(admin, group, internal);
  for (const topic of internal) {
    for (const o of await admin.fetchTopicOffsets(topic)) {
      const high = BigInt(o.high);
      if (high > 0n && (ic.get(topic)?.get(o.partition) ?? -1n) < high - 1n) return { done: false, committed: sum };
    }
  }
  return { done: true, committed: sum };
}

function peakRssMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

interface Measured {
  elapsedMs: number;
  firstCommitMs: number;
  committedAtFirst: number;
  cpuS: number;
  peakRssMiB: number;
  broker: ReturnType<typeof cpuSince>;
  threads: ReturnType<typeof threadSplit>;
}

/** Admin errors a poll retries at the next poll: retriable ones and a group coordinator not found / not ready yet. */
const transient = (err: unknown): boolean => (err as { retriable?: boolean }).retriable === true || /coordinator/i.test((err as Error).message ?? '');

/**
 * Whether "done" also waits for the group's repartition topics. Not for D grouped by key: the runner aggregates a
 * metric grouped by the input's key in the source task, so its repartition topic carries only watermarks (checked
 * after the run: stats.repartitioned must be 0). Set per run by execute().
 */
const waitForRepartition = { value: true };

/** Admin polls that failed with a transient error and were retried (e.g. the group coordinator still loading after the broker started). */
const pollRetries = { n: 0, last: '' };

/** Polls `drained` until done; fails when `failed()` returns a reason (the process died or reported an error) or on timeout. */
async function waitDrained(admin: Admin, group: string, targets: Targets, failed: () => string | undefined, onFirst?: (t: number, n: bigint) => void): Promise<number> {
  const t0 = performance.now();
  let first = false;
  for (;;) {
    await new Promise((r) => setTimeout(r, method.pollMs));
    const why = failed();
    if (why) throw new Error(why);
    if (performance.now() - t0 > method.runTimeoutMs) throw new Error(`${group} did not consume everything within ${method.runTimeoutMs / 1000} s`);
    let d: Awaited<ReturnType<typeof drained>>;
    try {
      d = await drained(admin, group, targets, waitForRepartition.value);
    } catch (err) {
      if (!transient(err)) throw err;
      pollRetries.n++;
      pollRetries.last = (err as Error).message;
      continue;
    }
    const t = performance.now();
    if (!first && d.committed > 0n) {
      first = true;
      onFirst?.(t, d.committed);
    }
    if (d.done) return t;
  }
}

/** Marks CPU, calls go(), waits until the group has consumed the input (and drained its repartition topics). */
async function measure(admin: Admin, pid: number, brokerPid: number, go: () => void, group: string, targets: Targets, failed: () => string | undefined, jvm: boolean): Promise<Measured> {
  const mark = takeCpuMark(brokerPid);
  const threads0 = threadTicks(pid);
  const ticks0 = processCpuTicks(pid);
  const t0 = performance.now();
  go();
  let first = { t: Number.NaN, n: 0n };
  const t = await waitDrained(admin, group, targets, failed, (ft, n) => (first = { t: ft, n }));
  const cpuS = (processCpuTicks(pid) - ticks0) / CLOCK_TICKS_PER_SECOND;
  const threads = threadSplit(threads0, threadTicks(pid), cpuS, jvm);
  const broker = cpuSince(mark, brokerPid);
  return { elapsedMs: t - t0, firstCommitMs: first.t - t0, committedAtFirst: Number(first.n), cpuS, peakRssMiB: peakRssMiB(pid), broker, threads };
}

/**
 * After the timed phase: records in the run's flush topic, every partition × every market × 4 order ids (restaurants
 * 0–23, so every one of the 20 regions too), with an event time past the end + grace of every real window. They
 * reach every partition of either implementation's repartition stage, move its stream time on, and so close
 * (multidispatch: emit) every real window.
 */
async function writeFlush(kafka: BenchKafka, flushTopic: string, partitions: number, atMs: number, plan: EventPlan): Promise<Map<number, bigint>> {
  const registry = new EventRegistry(schema);
  const producer = kafka.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const messages = [];
  for (let p = 0; p < partitions; p++) {
    for (const [mi, market] of MARKETS.entries()) {
      for (let j = 0; j < 4; j++) {
        const key = `flush-${p}-${market}-${j}`;
        const restaurantId = restaurantKey((mi * 4 + j) % (plan.restaurants ?? 12_000));
        const enc = registry.encode('orders.v1.OrderPlaced', { ...orderPlaced(0, plan), orderId: key, market, restaurantId, placedAt: new Date(atMs) });
        messages.push({
          partition: p,
          key,
          value: Buffer.from(enc.bytes),
          headers: {
            [HEADER.eventType]: 'orders.v1.OrderPlaced',
            [HEADER.eventId]: key,
            [HEADER.occurredAt]: new Date(atMs).toISOString(),
            [HEADER.producer]: 'bench-derive-flush',
            [HEADER.schemaFingerprint]: enc.compiled.fingerprint,
          },
        });
      }
    }
  }
  await producer.send({ topic: flushTopic, acks: -1, messages });
  await producer.disconnect();
  const admin = kafka.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(flushTopic);
  await admin.disconnect();
  return new Map(ends.map((o) => [o.partition, BigInt(o.high)]));
}

const distinctTotals = new Map<EventPlan, number>();
/** The `users` check: the sum over (restaurant, 5-minute window) of the distinct user ids, computed from the plan. */
function expectedDistinct(plan: EventPlan, excludeFrom: number): number {
  let total = distinctTotals.get(plan);
  if (total !== undefined) return total;
  const sets = new Map<string, Set<string>>();
  for (let i = 0; i < plan.n; i++) {
    const e = orderPlaced(i, plan);
    const start = Math.floor((e.placedAt as Date).getTime() / WINDOW_MS) * WINDOW_MS;
    if (start >= excludeFrom) continue;
    const k = `${e.restaurantId}|${start}`;
    let set = sets.get(k);
    if (!set) sets.set(k, (set = new Set()));
    set.add(e.context!.userId);
  }
  total = 0;
  for (const set of sets.values()) total += set.size;
  distinctTotals.set(plan, total);
  return total;
}

function fill(r: RunRecord, m: Measured, totalRecords: number): void {
  const n = method.n;
  r.elapsedMs = round(m.elapsedMs, 1);
  r.eventsPerSec = round(n / (m.elapsedMs / 1000));
  r.firstCommitMs = round(m.firstCommitMs, 1);
  r.committedAtFirst = m.committedAtFirst;
  r.steadyEventsPerSec = m.elapsedMs > m.firstCommitMs ? round((totalRecords - m.committedAtFirst) / ((m.elapsedMs - m.firstCommitMs) / 1000)) : undefined;
  r.cpuS = round(m.cpuS, 2);
  r.cpuUsPerEvent = round((m.cpuS * 1e6) / n, 2);
  r.peakRssMiB = m.peakRssMiB;
  r.brokerCpuUsPerEvent = round((m.broker.brokerCpuS * 1e6) / n, 2);
  r.otherCpuCores = round(Math.max(0, m.broker.systemBusyS - m.broker.brokerCpuS - m.cpuS - m.broker.parentCpuS) / m.broker.wallS, 2);
  r.stealCores = round(m.broker.stealS / m.broker.wallS, 3);
  r.threads = m.threads;
}

/** Events dropped as late: K — Streams' dropped-records-total; D — the runner's stats.lateDropped (after stop). */
const lateDroppedOf = (r: RunRecord): number | undefined => (r.impl === 'K' ? r.k?.dropped : r.d?.lateDropped);

function describe(r: RunRecord): string {
  const id = `${r.impl}:${r.groupBy}#${r.repetition < 0 ? 'warm-up' : r.repetition}`;
  if (r.eventsPerSec === undefined) return `${id}: FAILED ${r.failure}`;
  const o = r.output;
  return (
    `${id}: ${r.eventsPerSec.toLocaleString('en-US')} events/s (steady ${r.steadyEventsPerSec?.toLocaleString('en-US') ?? 'n/a'}), ` +
    `${r.cpuUsPerEvent} µs CPU/event (${r.cpuS} s), RSS ${r.peakRssMiB} MiB, broker ${r.brokerCpuUsPerEvent} µs/event, ` +
    `first commit ${Math.round(r.firstCommitMs!)} ms, done ${Math.round(r.elapsedMs!)} ms, other procs ${r.otherCpuCores} cores; ` +
    `late-dropped ${lateDroppedOf(r) ?? 'n/a'}${r.d ? `, repartitioned ${r.d.repartitioned}` : ''}; ` +
    `output ${o ? `${o.records} records, ${o.windows} windows, total ${o.total}, digest ${o.digest}` : 'not read'}; check ${r.check}${r.checkText ? ` (${r.checkText})` : ''}${r.failure ? `; FAILED: ${r.failure}` : ''}`
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  // Every D child loads dist/ when it starts: a rebuild during the run (someone else's `npm run build`) would change what is measured.
  const distMtime = () => new Date(statSync(join(root, 'dist', 'src', 'index.js')).mtimeMs).toISOString();
  const distAtStart = distMtime();
  const machine = { ...machineInfo(root, ['kafkajs', 'protobufjs']), java: javaVersion(), kafkaStreams: '' };
  say(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}, ${machine.java}; load average ${machine.loadAvgAtStart.join(' ')}`);
  const jar = ensureStreamsJar(say);
  machine.kafkaStreams = /<kafka\.version>([^<]+)</.exec(readFileSync(join(here, 'streams-app', 'pom.xml'), 'utf8'))?.[1] ?? 'unknown';

  let kafka: BenchKafka | undefined;
  let admin: Admin | undefined;
  let failed = false;
  const scratch = mkdtempSync(join(tmpdir(), 'multidispatch-bench-derive-'));
  const live = new Set<{ kill(sig?: NodeJS.Signals): unknown }>();
  const cleanup = async () => {
    for (const c of live) c.kill('SIGKILL');
    await admin?.disconnect().catch(() => undefined);
    await kafka?.stop({ keepDir: failed }).catch((e: Error) => say(`stopping Kafka: ${e.message}`));
    rmSync(scratch, { recursive: true, force: true });
  };
  exitOnSignals(say, 'the children and the broker', cleanup, () => (failed = true));

  try {
    kafka = await startBenchKafka(say);
    admin = kafka.kafka.admin();
    await admin.connect();
    const brokers = kafka.handle.brokers;
    const brokerPid = kafka.handle.pid;

    const stamp = Date.now().toString(36);
    // One pre-filled input topic per group-by (they differ only in the span of event times, see method.spanMinutes).
    interface Input { topic: string; plan: EventPlan; target: Map<number, bigint>; records: number; flushWindowFrom: number; tableTopic?: string }
    const inputs = {} as Record<GroupBy, Input>;
    const prefill: Record<string, unknown> = {};
    const baseCfg: ChildConfig = {
      mode: 'prepare', brokers, client: method.dClient, topic: '', partitions: method.partitions, plan: undefined as unknown as EventPlan, flushTopic: '', maxOutstanding: method.maxOutstanding,
      group: '', groupBy: 'key', metricName: '', metricsTopic: '', alertsTopic: '', commitIntervalMs: method.commitIntervalMs, idleMs: method.idleMs, expectRecords: method.n,
    };
    for (const g of method.groupBys) {
      const topic = `bench.derive.${stamp}.in-${g}`;
      await kafka.createTopic(topic, method.partitions);
      const spanMs = method.spanMinutes[g] * 60_000;
      const plan: EventPlan = {
        n: method.n, keys: method.keys, startMs: planStart(spanMs / 3_600_000 + 1), spanMs, jitterMs: method.jitterS * 1000,
        ...(g === 'join' ? { restaurants: method.restaurants } : g === 'restaurant' ? { restaurants: method.hcRestaurants.restaurant } : g === 'users' ? { restaurants: method.hcRestaurants.users, users: method.hcUsers } : {}),
      };
      const lastEventMs = plan.startMs + spanMs + plan.jitterMs;
      /** Windows at or after this start are the flush records' own: left out of the checks. */
      const flushWindowFrom = Math.floor((lastEventMs + 60_000) / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
      const t = Date.now();
      say(`pre-filling ${topic} (${method.partitions} partitions) with ${method.n.toLocaleString('en-US')} OrderPlaced events via createPublisher (${method.keys.toLocaleString('en-US')} keys, event times over ${method.spanMinutes[g]} min from ${new Date(plan.startMs).toISOString()}, ±${method.jitterS} s)`);
      const prep = await runPrepare({ ...baseCfg, topic, plan }, live);
      const ends = await admin.fetchTopicOffsets(topic);
      const target = new Map(ends.map((o) => [o.partition, BigInt(o.high)]));
      const records = Number([...target.values()].reduce((a, b) => a + b, 0n));
      if (records !== method.n || ends.some((o) => o.low !== '0')) throw new Error(`pre-fill: ${records} records in ${topic}, expected ${method.n}`);
      prefill[g] = { ...prep, topic, records, perPartition: ends.map((o) => Number(o.high)), plan: { ...plan, flushWindowFrom }, wallS: round((Date.now() - t) / 1000, 1) };
      say(`pre-filled in ${round((Date.now() - t) / 1000, 1)} s (${ends.map((o) => o.high).join(' / ')} records per partition)`);
      inputs[g] = { topic, plan, target, records, flushWindowFrom };
      if (g === 'join') {
        // The table: one RestaurantProfile per restaurant id of the input, keyed by restaurant_id, in a compacted
        // topic with 1 partition (a global table in both D and K).
        const tableTopic = `bench.derive.${stamp}.restaurants`;
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic: tableTopic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
        const tt = Date.now();
        const tprep = await runPrepare({ ...baseCfg, mode: 'prepare-table', topic, tableTopic, plan }, live);
        const rows = await kafka.recordCount(tableTopic);
        if (rows !== method.restaurants) throw new Error(`pre-fill: ${rows} records in ${tableTopic}, expected ${method.restaurants}`);
        prefill.table = { ...tprep, topic: tableTopic, records: rows, regions: method.regions, wallS: round((Date.now() - tt) / 1000, 1) };
        say(`pre-filled the table topic ${tableTopic} (1 partition, compacted) with ${rows} RestaurantProfile rows over ${method.regions} regions`);
        inputs[g].tableTopic = tableTopic;
      }
    }

    const runs: RunRecord[] = [];
    const warmups: RunRecord[] = [];
    const maps = new Map<RunRecord, OutputMap>();
    let seq = 0;

    /** `cpuProfDir`: D runs under node --cpu-prof, writing its profile there (the profiled extra run, repetition 0). */
    const execute = async (impl: Impl, groupBy: GroupBy, repetition: number, cpuProfDir?: string): Promise<RunRecord> => {
      const id = `${impl}-${groupBy}-${repetition < 0 ? 'warm' : repetition === 0 ? 'prof' : repetition}-${seq++}`;
      const group = `bench-derive-${stamp}-${id}`;
      const outTopic = `bench.derive.${stamp}.${id}.out`;
      const flushTopic = `bench.derive.${stamp}.${id}.flush`;
      await kafka!.createTopic(flushTopic, method.partitions);
      const r: RunRecord = { impl, groupBy, repetition, check: 'n/a' };
      pollRetries.n = 0;
      waitForRepartition.value = !(impl === 'D' && groupBy === 'key');
      const { topic, plan, target: inputTarget, records, flushWindowFrom, tableTopic } = inputs[groupBy];
      const flush = async (failed: () => string | undefined) => {
        const ft = await writeFlush(kafka!, flushTopic, method.partitions, Date.now() - 60_000, plan);
        await waitDrained(admin!, group, new Map([[topic, inputTarget], [flushTopic, ft]]), failed);
      };
      try {
        if (impl === 'D') {
          const cfg: ChildConfig = {
            ...baseCfg, mode: 'D', topic, plan, flushTopic, group, groupBy, metricName: METRIC[groupBy], metricsTopic: outTopic, alertsTopic: `${outTopic}.alerts`, ...(tableTopic ? { tableTopic } : {}),
          };
          const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-interval=${method.cpuProfIntervalUs}`] : [];
          const child = fork(join(here, 'child.ts'), [], { execArgv: ['--import', 'tsx', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_CONFIG: JSON.stringify(cfg), KAFKAJS_NO_PARTITIONER_WARNING: '1' } });
          live.add(child);
          let error: string | undefined;
          let result: DeriveChildResult | undefined;
          let exitCode: number | null | undefined;
          let onReady!: () => void;
          const ready = new Promise<void>((res) => (onReady = res));
          let onResult!: () => void;
          const gotResult = new Promise<void>((res) => (onResult = res));
          child.on('message', (m: { type: string; result?: DeriveChildResult; message?: string; startMs?: number }) => {
            if (m.type === 'ready') onReady();
            else if (m.type === 'started') r.startMs = round(m.startMs!, 1);
            else if (m.type === 'result') {
              result = m.result;
              onResult();
            } else if (m.type === 'error') error ??= m.message;
          });
          const exited = new Promise<void>((res) =>
            child.once('exit', (c) => {
              exitCode = c;
              live.delete(child);
              onReady();
              onResult();
              res();
            }),
          );
          try {
            await ready;
            if (exitCode !== undefined) throw new Error(error ?? `D child exited (${exitCode}) before ready`);
            const failed = () => error ?? (exitCode !== undefined ? `D child exited with code ${exitCode}` : undefined);
            const m = await measure(admin!, child.pid!, brokerPid, () => child.send({ type: 'go' }), group, new Map([[topic, inputTarget]]), failed, false);
            fill(r, m, records);
            child.send({ type: 'timed' });
            await flush(failed);
            child.send({ type: 'done' });
            await gotResult;
          } finally {
            // A failed run must not leave its runner consuming CPU under the next runs.
            if (exitCode === undefined && !result) child.kill('SIGKILL');
            await exited;
          }
          if (!result) throw new Error(error ?? `D child exited with code ${exitCode} without a result`);
          if (exitCode !== 0) throw new Error(`D child exited with code ${exitCode}`);
          r.d = result;
          const out = await readDerive(kafka!.kafka, outTopic, METRIC[groupBy], DIMENSION[groupBy], flushWindowFrom);
          r.output = out.summary;
          maps.set(r, out.map);
        } else {
          await kafka!.createTopic(outTopic, 1);
          const stateDir = mkdtempSync(join(scratch, `${id}-state-`));
          const k = spawnStreams(jar.jar, { bootstrap: brokers, input: `${topic},${flushTopic}`, output: outTopic, appId: group, stateDir, commitMs: method.commitIntervalMs, groupBy, emit: method.streamsEmit, threads: method.streamsThreads, ...(tableTopic ? { table: tableTopic } : {}) }, method.jvmArgs);
          live.add(k.child);
          let exit: string | undefined;
          void k.exited.then((e) => {
            exit = `${e.code ?? e.signal}`;
            live.delete(k.child);
          });
          try {
            await k.ready;
            let goAt = 0;
            const failed = () => (exit !== undefined ? `java exited (${exit}) before its group had consumed everything:\n${k.stderrTail()}` : undefined);
            const m = await measure(admin!, k.pid, brokerPid, () => {
              goAt = performance.now();
              k.go();
            }, group, new Map([[topic, inputTarget]]), failed, true);
            fill(r, m, records);
            const runningAt = await Promise.race([k.running, new Promise<undefined>((res) => setTimeout(() => res(undefined), 10))]);
            if (runningAt !== undefined) r.startMs = round(runningAt - goAt, 1);
            await flush(failed);
          } finally {
            const s = await k.stop();
            r.k = { ...(s.processed !== undefined ? { processed: s.processed } : {}), ...(s.dropped !== undefined ? { dropped: s.dropped } : {}), exit: `${s.code ?? s.signal}` };
            rmSync(stateDir, { recursive: true, force: true });
          }
          const out = await readStreams(kafka!.kafka, outTopic, flushWindowFrom);
          r.output = out.summary;
          maps.set(r, out.map);
        }
        // Every event counted exactly once, unless dropped as late — reported by each: Streams'
        // dropped-records-total, the runner's stats.lateDropped (none should be: the data are in order within
        // the grace per input partition; a repartition stage may reorder them more than that).
        const o = r.output;
        const problems: string[] = [];
        const dropped = (impl === 'K' ? r.k?.dropped : r.d?.lateDropped) ?? 0;
        const counter = impl === 'K' ? "Streams' dropped-records-total" : "the runner's stats.lateDropped";
        if (groupBy === 'users') {
          // Distinct users: the sum over windows of the distinct users counted by hand from the plan.
          if (o.total !== expectedDistinct(plan, flushWindowFrom)) problems.push(`distinct counts add up to ${o.total}, expected ${expectedDistinct(plan, flushWindowFrom)} (counted by hand)`);
        } else if (o.total + dropped !== method.n) {
          problems.push(`counts add up to ${o.total} + ${dropped} dropped as late (${counter}) = ${o.total + dropped}, expected ${method.n}: ${method.n - o.total - dropped} events missing and not reported as late`);
        }
        if (dropped > 0) problems.push(`${impl === 'K' ? 'Streams' : 'DeriveRunner'} dropped ${dropped} events as late (${counter})`);
        if (o.nonFinal) problems.push(`${o.nonFinal} non-final values`);
        if (r.d && !waitForRepartition.value && r.d.repartitioned > 0) problems.push(`the runner sent ${r.d.repartitioned} inputs through its repartition topic, which the timed phase did not wait for (group by key)`);
        if (r.d && r.d.consumedAtTimed < method.n) problems.push(`runner had consumed ${r.d.consumedAtTimed} < ${method.n} input records at the end of the timed phase`);
        if (r.d && groupBy === 'join' && r.d.tableRecords !== method.restaurants) problems.push(`the runner read ${r.d.tableRecords} table records, expected ${method.restaurants}`);
        r.check = problems.length === 0 ? 'ok' : 'failed';
        if (problems.length > 0) r.checkText = problems.join('; ');
      } catch (err) {
        r.failure = err instanceof Error ? err.message : String(err);
        if (!r.output) r.check = 'failed';
      }
      if (pollRetries.n > 0) {
        r.pollRetries = pollRetries.n;
        say(`${impl}:${groupBy}: ${pollRetries.n} admin poll(s) retried after a transient error (last: ${pollRetries.last})`);
      }
      say(describe(r));
      return r;
    };

    if (method.warmup) {
      say('warm-up: one discarded D and K run each (group by key); every run, warm-up or not, is a fresh process with a cold JIT');
      const g = method.groupBys.includes('key') ? 'key' : method.groupBys[0]!;
      warmups.push(await execute('D', g, -1));
      warmups.push(await execute('K', g, -1));
    }
    for (let rep = 1; rep <= method.repetitions; rep++) {
      for (const g of method.groupBys) {
        // Alternate which one goes first.
        const order: Impl[] = rep % 2 === 1 ? ['D', 'K'] : ['K', 'D'];
        for (const impl of order) runs.push(await execute(impl, g, rep));
      }
    }

    // One more D run per profiled variant under node --cpu-prof: not in the tables (the profiler slows it down).
    const profiles: Record<string, ProfileSummary & { file: string; run: RunRecord }> = {};
    for (const g of method.profile) {
      const dir = mkdtempSync(join(tmpdir(), 'multidispatch-bench-prof-'));
      say(`profiling one more D run (${g}) with node --cpu-prof (not part of the results tables)`);
      const record = await execute('D', g, 0, dir);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file && record.d) {
        const saved = join(resultsDir(root), `derive-${g}.cpuprofile`);
        copyFileSync(join(dir, file), saved);
        writeFileSync(join(resultsDir(root), '.gitignore'), '*.cpuprofile\n');
        profiles[g] = { ...relabel(summariseProfile(saved, { windowUs: record.d.windowUs, top: 25, inclusive: INCLUSIVE })), file: `benchmarks/results/derive-${g}.cpuprofile`, run: record };
        const p = profiles[g];
        say(`profile (${g}): ${p.samples} samples, ${p.busyMs} ms busy, ${p.idleMs} ms idle${p.windowApplied ? '' : ' (window NOT applied)'}; ${p.components.slice(0, 6).map((c) => `${c.component} ${c.percent}%`).join(', ')}`);
      } else say(`profile (${g}): no profile written${record.failure ? ` (run failed: ${record.failure.split('\n')[0]})` : ''}`);
      rmSync(dir, { recursive: true, force: true });
    }

    // Same results from D and K: every run's per-window counts against the first K run of the same group-by.
    const agreement: Record<string, { reference?: string; digests: Record<string, string[]>; same: boolean; diffs: Record<string, ReturnType<typeof compareOutputs>> }> = {};
    for (const g of method.groupBys) {
      const withOutput = [...warmups, ...runs, ...Object.values(profiles).map((p) => p.run)].filter((x) => x.groupBy === g && maps.has(x));
      const label = (x: RunRecord) => `${x.impl}#${x.repetition < 0 ? 'warm-up' : x.repetition === 0 ? 'profiled' : x.repetition}`;
      const digests: Record<string, string[]> = {};
      for (const x of withOutput) (digests[x.output!.digest] ??= []).push(label(x));
      const ref = withOutput.find((x) => x.impl === 'K' && x.check === 'ok') ?? withOutput.find((x) => x.impl === 'K');
      const diffs: Record<string, ReturnType<typeof compareOutputs>> = {};
      if (ref) for (const x of withOutput) if (x !== ref) diffs[label(x)] = compareOutputs(maps.get(x)!, maps.get(ref)!);
      agreement[g] = { ...(ref ? { reference: label(ref) } : {}), digests, same: Object.keys(digests).length === 1, diffs };
      if (!agreement[g].same) {
        say(`MISMATCH (${g}): the runs did not all produce the same per-window counts: ${JSON.stringify(digests)}`);
        for (const [k, d] of Object.entries(diffs)) if (!d.same) say(`  ${k} vs ${agreement[g].reference}: ${d.onlyInA} windows only in ${k}, ${d.onlyInB} only in the reference, ${d.differing} with different counts, total ${d.aMinusB >= 0 ? '+' : ''}${d.aMinusB}`);
      } else say(`${g}: every run produced the same per-window counts (digest ${Object.keys(digests)[0]})`);
    }

    const summary = summarise(runs);
    const ratios = Object.fromEntries(
      method.groupBys.map((g) => {
        const d = summary[`D:${g}`];
        const k = summary[`K:${g}`];
        const v = d && k ? d.eventsPerSec / k.eventsPerSec : Number.NaN;
        return [
          g,
          {
            throughputDvsK: { value: round(v, 3), target: `${throughputTarget(RESULTS_NAME).text} (go → end offsets committed)`, pass: v >= throughputTarget(RESULTS_NAME).ratio },
            steadyDvsK: d && k ? round(d.steadyEventsPerSec / k.steadyEventsPerSec, 3) : Number.NaN,
            cpuDvsK: d && k ? round(d.cpuUsPerEvent / k.cpuUsPerEvent, 3) : Number.NaN,
          },
        ];
      }),
    );
    for (const [g, x] of Object.entries(ratios)) say(`${g}: D/K = ${x.throughputDvsK.value}× (target ≥ 1.0×: ${x.throughputDvsK.pass ? 'MET' : 'MISS'}); steady ${x.steadyDvsK}×; CPU per event D/K ${x.cpuDvsK}×`);

    const data = {
      benchmark: RESULTS_NAME,
      generatedAt: new Date().toISOString(),
      durationS: 0,
      machine: { ...machine, kafka: kafka.handle.version },
      method: {
        ...method,
        flushRecordsPerRun: method.partitions * MARKETS.length * 4,
        metrics: METRIC,
        streamsJar: { built: jar.built, buildMs: jar.buildMs },
        kafkaBroker: `single local KRaft broker ${kafka.handle.version} (benchmarks/lib/kafka-env.ts → src/dev/kafka.ts), replication factor 1`,
      },
      prefill,
      summary,
      ratios,
      agreement,
      profiles,
      threadSplit: threadSplitSummary(runs),
      runs,
      warmups,
      loadAvgAtEnd: machineInfo(root, []).loadAvgAtStart,
      dist: { builtAtStart: distAtStart, builtAtEnd: distMtime() },
    };
    if (data.dist.builtAtEnd !== data.dist.builtAtStart) say(`WARNING: dist/ was rebuilt during the run (${data.dist.builtAtStart} → ${data.dist.builtAtEnd}): D runs may not all have measured the same build`);
    failed = runs.some((r) => r.failure !== undefined || r.check !== 'ok') || Object.values(agreement).some((a) => !a.same);
    await admin.disconnect();
    admin = undefined;
    rmSync(scratch, { recursive: true, force: true });
    await stopAndSave(kafka, failed, root, RESULTS_NAME, data, started, say);
  } catch (err) {
    await exitOnError(err, say, cleanup, () => (failed = true));
  }
  process.exit(failed ? 1 : 0);
}

async function runPrepare(cfg: ChildConfig, live: Set<{ kill(sig?: NodeJS.Signals): unknown }>): Promise<PrepareResult> {
  const child = fork(join(here, 'child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_CONFIG: JSON.stringify(cfg), KAFKAJS_NO_PARTITIONER_WARNING: '1' } });
  live.add(child);
  let result: PrepareResult | undefined;
  let error: string | undefined;
  child.on('message', (m: { type: string; result?: PrepareResult; message?: string }) => {
    if (m.type === 'result') result = m.result;
    else if (m.type === 'error') error ??= m.message;
  });
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  live.delete(child);
  if (!result || code !== 0) throw new Error(`pre-fill failed: ${error ?? `exit ${code}`}`);
  return result;
}

function summarise(runs: RunRecord[]): Record<string, SummaryRow> {
  const out: Record<string, SummaryRow> = {};
  for (const g of method.groupBys) {
    for (const impl of ['D', 'K'] as Impl[]) {
      const all = runs.filter((r) => r.impl === impl && r.groupBy === g);
      // Runs whose timed phase completed; a failed correctness check is shown in `checks` (and loudly), not hidden.
      const ok = all.filter((r) => r.failure === undefined && r.eventsPerSec !== undefined);
      const pick = (f: (r: RunRecord) => number | undefined) => median(ok.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)));
      const range = (f: (r: RunRecord) => number | undefined): [number, number] => {
        const xs = ok.map(f).filter((x): x is number => typeof x === 'number');
        return [Math.min(...xs), Math.max(...xs)];
      };
      out[`${impl}:${g}`] = {
        impl,
        groupBy: g,
        runs: ok.length,
        failed: all.length - ok.length,
        n: method.n,
        eventsPerSec: round(pick((r) => r.eventsPerSec)),
        eventsPerSecRange: range((r) => r.eventsPerSec),
        steadyEventsPerSec: round(pick((r) => r.steadyEventsPerSec)),
        cpuUsPerEvent: round(pick((r) => r.cpuUsPerEvent), 2),
        cpuUsPerEventRange: range((r) => r.cpuUsPerEvent),
        peakRssMiB: round(pick((r) => r.peakRssMiB)),
        brokerCpuUsPerEvent: round(pick((r) => r.brokerCpuUsPerEvent), 2),
        firstCommitMs: round(pick((r) => r.firstCommitMs)),
        elapsedMs: round(pick((r) => r.elapsedMs)),
        startMs: round(pick((r) => r.startMs)),
        outputRecords: round(pick((r) => r.output?.records)),
        lateDropped: round(pick(lateDroppedOf)),
        ...(impl === 'D' ? { repartitioned: round(pick((r) => r.d?.repartitioned)) } : {}),
        otherCpuCores: round(pick((r) => r.otherCpuCores), 2),
        checks: `${all.filter((r) => r.check === 'ok').length}/${all.length}`,
      };
    }
  }
  return out;
}

type Frame = { functionName: string; url: string };
const mdFile = (f: Frame, path: string) => f.url.includes(`/src/${path}`);
const INCLUSIVE: Array<{ label: string; match: (f: Frame) => boolean }> = [
  { label: 'DeriveRunner.eachBatch (the per-record loop, source and aggregate tasks)', match: (f) => f.functionName === 'eachBatch' && mdFile(f, 'derive/runner') },
  { label: '  sourceRecord (headers, decode, join, group)', match: (f) => f.functionName === 'sourceRecord' && mdFile(f, 'derive/runner') },
  { label: '    EventRegistry.decode (protobuf decode + toObject)', match: (f) => f.functionName === 'decode' && mdFile(f, 'schema/registry') },
  { label: '    MetricEngine.extract (join lookup, group key, and for key: the window update)', match: (f) => f.functionName === 'extract' && mdFile(f, 'derive/engine') },
  { label: '  aggregateRecord (JSON.parse of a repartition record, window update)', match: (f) => f.functionName === 'aggregateRecord' && mdFile(f, 'derive/runner') },
  { label: 'DeriveRunner.commitTask (transactions: JSON.stringify, encode, send, sendOffsets, commit)', match: (f) => f.functionName === 'commitTask' && mdFile(f, 'derive/commit') },
  { label: 'kafkajs (any frame)', match: (f) => f.url.includes('node_modules/kafkajs/') },
  { label: '  kafkajs fetch response + record batch decode', match: (f) => f.url.includes('kafkajs/src/protocol/requests/fetch/') || /kafkajs\/src\/protocol\/recordBatch\/.*decoder/.test(f.url) },
  { label: '  kafkajs produce request + record encoding', match: (f) => f.url.includes('kafkajs/src/protocol/requests/produce/') || (f.url.includes('kafkajs/src/protocol/recordBatch/') && !f.url.includes('decoder')) },
  { label: '  kafkajs consumer (src/consumer/: fetch loop, batches, offsets)', match: (f) => f.url.includes('kafkajs/src/consumer/') },
  { label: '  kafkajs producer + transactions (src/producer/)', match: (f) => f.url.includes('kafkajs/src/producer/') },
  { label: 'pino (logging)', match: (f) => f.url.includes('node_modules/pino') },
];

/** Names the runner's frames (benchmarks/lib/cpuprofile.ts knows only the publisher's). */
function relabel(s: ProfileSummary): ProfileSummary {
  const name = (c: string) =>
    /^other \(derive\/(runner|restore|commit|task)\./.test(c)
      ? 'multidispatch: runner (derive/runner)'
      : /^other \(derive\//.test(c)
        ? 'multidispatch: engine, windows, outputs (derive/)'
        : c === 'multidispatch: validate + encode (schema/)'
          ? 'multidispatch: decode (schema/)'
          : c;
  return relabelComponents(s, name);
}

/** Per implementation and group-by: the thread classes' share of the process CPU over the timed phase, summed over the measured runs. */
function threadSplitSummary(runs: RunRecord[]): Record<string, Array<{ cls: string; cpuS: number; percent: number }>> {
  const out: Record<string, Array<{ cls: string; cpuS: number; percent: number }>> = {};
  for (const g of method.groupBys) {
    for (const impl of ['D', 'K'] as Impl[]) {
      const acc = new Map<string, number>();
      for (const r of runs) if (r.impl === impl && r.groupBy === g && r.failure === undefined) for (const t of r.threads ?? []) acc.set(t.cls, (acc.get(t.cls) ?? 0) + t.cpuS);
      const total = [...acc.values()].reduce((a, b) => a + b, 0);
      out[`${impl}:${g}`] = [...acc].sort((a, b) => b[1] - a[1]).map(([cls, cpuS]) => ({ cls, cpuS: round(cpuS, 2), percent: total > 0 ? round((100 * cpuS) / total, 1) : 0 }));
    }
  }
  return out;
}

await main();
