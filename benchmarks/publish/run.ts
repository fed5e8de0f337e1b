/**
 * benchmarks/publish: naive kafkajs+hot-shots (A), a tuned hand-written baseline on kafkajs (B) and on
 * @platformatic/kafka (B′), the same with multidispatch's five envelope headers (Bh, Bh′), and multidispatch on
 * either client (C, C′; C′ only when this build's publisher has the platformatic adapter), in one run against one local broker that this script starts (src/dev/kafka.ts) in a temp dir and stops.
 * Every run of every variant is its own child process (child.ts) on a fresh topic; repetitions are
 * interleaved (the order rotates) and the median of each figure is reported. Then C (and C′) run once more
 * paced at half their measured peak, for the latency at that load, and separate runs are profiled with
 * `node --cpu-prof` and summarised. Writes benchmarks/results/publish.json and rewrites
 * docs/benchmarks.md.
 *
 *   npx tsx benchmarks/publish/run.ts            (npm run bench runs it after building)
 *   BENCH_PUBLISH_N=50000 BENCH_PUBLISH_REPS=1 npx tsx benchmarks/publish/run.ts   (a quick look)
 *   BENCH_PUBLISH_VARIANTS=B,B′,C BENCH_PUBLISH_PROFILE=0 npx tsx benchmarks/publish/run.ts   (some variants only)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchKafka, type BenchKafka } from '../lib/kafka-env.js';
import { cpuSince, machineInfo, takeCpuMark, type CpuMark } from '../lib/machine.js';
import { summariseProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { resultsDir } from '../lib/results.js';
import { exitOnError, exitOnSignals, stopAndSave } from '../lib/lifecycle.js';
import { median, round } from '../lib/stats.js';
import { StatsdReceiver, type StatsdTotals } from '../lib/statsd-receiver.js';
import type { ChildConfig, ChildResult } from './child.js';
import { METRIC } from './events.js';
import { CLIENT_OF, clientUnavailable, VARIANT_IDS, type VariantId } from './variants.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const say = (msg: string) => process.stderr.write(`[bench:publish] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const envInt = (name: string, dflt: number) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : dflt);

const VARIANTS: Record<VariantId, string> = {
  A: 'naive: protobufjs encode + `await producer.send([one])` (idempotent, acks -1) + unbuffered hot-shots increment, per event',
  B: 'tuned by hand: protobufjs encode, `sendBatch` of fixed size, one batch in flight while the next is built; hot-shots buffered (1432 B) with client-side aggregation (1 s)',
  Bh: 'diagnostic, not a target: B plus the five envelope headers C writes on every record (event type, uuid v7 event id, ISO-8601 time, producer, schema fingerprint), so the records have the same shape as C\'s',
  'B′': 'B\'s loop on @platformatic/kafka\'s `Producer` (idempotent, acks -1): `send` of the same fixed-size batches of the same records (key as a Buffer, the Java client\'s murmur2 partitioning), one batch in flight while the next is built; the same hot-shots client',
  'Bh′': 'diagnostic, not a target: B′ plus the same five envelope headers, as @platformatic/kafka takes them (a Map of Buffers; names and constant values made once)',
  C: 'multidispatch `createPublisher().publish()`, default options (kafkajs), StatsD over UDP; driver keeps ≤ maxOutstanding publishes unsettled, then `flush()`',
  'C′': 'C with `kafka: { client: \'platformatic\' }`: multidispatch on @platformatic/kafka',
};
/** A figure per variant from the environment: `${name}` for all but A, `${name}_A` for A (A sends one event per round trip). */
const envN = (name: string, dflt: number, dfltA: number) => {
  const n = envInt(name, dflt);
  return { A: envInt(`${name}_A`, dfltA), B: n, Bh: n, 'B′': n, 'Bh′': n, C: n, 'C′': n } as Record<VariantId, number>;
};
const requested = process.env.BENCH_PUBLISH_VARIANTS ? (process.env.BENCH_PUBLISH_VARIANTS.split(',') as VariantId[]) : [...VARIANT_IDS];
for (const v of requested) if (!VARIANT_IDS.includes(v)) throw new Error(`BENCH_PUBLISH_VARIANTS: unknown variant ${v} (known: ${VARIANT_IDS.join(', ')})`);

const method = {
  partitions: envInt('BENCH_PUBLISH_PARTITIONS', 6),
  repetitions: envInt('BENCH_PUBLISH_REPS', 3),
  n: envN('BENCH_PUBLISH_N', 400_000, 5_000),
  warmup: envN('BENCH_PUBLISH_WARMUP', 30_000, 500),
  batchSize: envInt('BENCH_PUBLISH_BATCH', 1000),
  maxOutstanding: envInt('BENCH_PUBLISH_OUTSTANDING', 50_000),
  yieldEvery: 1000,
  eldResolutionMs: 2,
  acks: -1,
  idempotent: true,
  eventType: 'orders.v1.PaymentFailed',
  poolSize: 4096,
  /** Variants profiled in one extra run each (BENCH_PUBLISH_PROFILE=0 for none, or e.g. A,B,C). */
  profile: ((process.env.BENCH_PUBLISH_PROFILE ?? 'B,Bh,C') === '0' ? [] : (process.env.BENCH_PUBLISH_PROFILE ?? 'B,Bh,C').split(',')) as VariantId[],
  /** Before the first measured run, a discarded A and B run warm up the broker's JVM. */
  brokerWarmup: { A: 2_000, B: 200_000 },
  /** After the repetitions, C and C′ run once more at this fraction of their median throughput, for this long. */
  paced: { fraction: 0.5, seconds: envInt('BENCH_PUBLISH_PACED_S', 10), lingerMs: 5 },
  /** Which Kafka client each variant runs on. */
  clients: CLIENT_OF,
};

interface RunRecord {
  variant: VariantId;
  repetition: number;
  topic: string;
  /** Paced runs: the steady publish rate asked for (events/s). */
  ratePerSec?: number;
  result?: ChildResult;
  failure?: string;
  statsd: { warmup: StatsdTotals; timed: StatsdTotals; datagramsPerEvent: number; counterTotal: number; counterCheck: 'ok' | 'mismatch' };
  kafkaRecords: { expected: number; found: number; check: 'ok' | 'mismatch' };
  /** During the timed phase: broker CPU per event (µs), and CPU used by every other process on the machine (cores). */
  brokerCpuUsPerEvent: number;
  otherCpuCores: number;
  /** CPU taken by the hypervisor (steal) during the timed phase, in cores. */
  stealCores: number;
  wallS: number;
}

interface ChildRun {
  result?: ChildResult;
  failure?: string;
  warmTotals?: StatsdTotals;
  timedTotals?: StatsdTotals;
  brokerCpuS: number;
  systemBusyS: number;
  stealS: number;
  parentCpuS: number;
  wallS: number;
}

let current: ChildProcess | undefined;

async function runChild(cfg: ChildConfig, receiver: StatsdReceiver, brokerPid: number, cpuProfDir?: string): Promise<ChildRun> {
  const execArgv = ['--import', 'tsx', '--expose-gc', ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, '--cpu-prof-interval=250'] : [])];
  const out: ChildRun = { brokerCpuS: Number.NaN, systemBusyS: Number.NaN, stealS: Number.NaN, parentCpuS: Number.NaN, wallS: Number.NaN };
  receiver.takeAndReset();
  const child = fork(join(here, 'child.ts'), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(cfg), KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  });
  current = child;
  const timeout = setTimeout(() => {
    out.failure ??= 'timed out after 240 s';
    child.kill('SIGKILL');
  }, 240_000);
  let mark: CpuMark | undefined;
  child.on('message', (m: { type: string; result?: ChildResult; message?: string }) => {
    if (m.type === 'warmed') {
      void sleep(300).then(() => {
        out.warmTotals = receiver.takeAndReset();
        mark = takeCpuMark(brokerPid);
        child.send({ type: 'go' });
      });
    } else if (m.type === 'result' && mark) {
      Object.assign(out, cpuSince(mark, brokerPid));
      out.result = m.result;
    } else if (m.type === 'error') {
      out.failure ??= m.message ?? 'child failed';
    }
  });
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearTimeout(timeout);
  current = undefined;
  if (code !== 0) out.failure ??= `child exited with code ${code}`;
  await sleep(300); // the last datagrams
  out.timedTotals = receiver.takeAndReset();
  return out;
}

function describeRun(r: RunRecord): string {
  if (!r.result) return `${r.variant}#${r.repetition}: FAILED ${r.failure}`;
  const x = r.result;
  return `${r.variant}#${r.repetition}: ${x.eventsPerSec.toLocaleString('en-US')} ev/s, ${x.cpuUsPerEvent} µs CPU/ev, p99 ack ${x.latencyMs.p99} ms, p99 ELD ${x.eventLoopDelayMs.p99} ms, ${r.statsd.datagramsPerEvent.toFixed(5)} datagrams/ev, counters ${r.statsd.counterCheck}, records ${r.kafkaRecords.check}, ${x.recordsPerCall.mean} rec/produce call, broker ${r.brokerCpuUsPerEvent} µs/ev, other procs ${r.otherCpuCores} cores, steal ${r.stealCores} cores, errors ${x.errors}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo(root, ['kafkajs', '@platformatic/kafka', 'hot-shots', 'protobufjs', 'uuid']);
  say(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}; load average ${machine.loadAvgAtStart.join(' ')}`);
  const receiver = new StatsdReceiver();
  const statsdPort = await receiver.start();
  let kafka: BenchKafka | undefined;
  let failed = false;
  const cleanup = async () => {
    current?.kill('SIGKILL');
    await kafka?.stop({ keepDir: failed }).catch((e: Error) => say(`stopping Kafka: ${e.message}`));
    await receiver.close().catch(() => undefined);
  };
  exitOnSignals(say, 'the child and the broker', cleanup, () => (failed = true));

  try {
    kafka = await startBenchKafka(say, `StatsD receiver on udp 127.0.0.1:${statsdPort}`);
    machine.kafka = kafka.handle.version;

    const runs: RunRecord[] = [];
    const stamp = Date.now().toString(36);
    const execute = async (variant: VariantId, repetition: number, cpuProfDir?: string, n = method.n[variant], ratePerSec?: number) => {
      const topic = `bench.publish.${stamp}.${variant.replace('′', 'p')}.${repetition < 0 ? 'warm' : ratePerSec ? 'paced' : repetition}`;
      await kafka!.createTopic(topic, method.partitions);
      const cfg: ChildConfig = {
        variant,
        brokers: kafka!.handle.brokers,
        topic,
        statsdPort,
        batchSize: method.batchSize,
        maxOutstanding: method.maxOutstanding,
        yieldEvery: method.yieldEvery,
        n,
        warmup: method.warmup[variant],
        eldResolutionMs: method.eldResolutionMs,
        ...(ratePerSec ? { ratePerSec } : {}),
      };
      const t = Date.now();
      const run = await runChild(cfg, receiver, kafka!.handle.pid, cpuProfDir);
      const expected = cfg.n + cfg.warmup;
      const found = await kafka!.recordCount(topic).catch(() => -1);
      const timed = run.timedTotals ?? { datagrams: 0, lines: 0, counters: {}, otherLines: 0 };
      const counterTotal = timed.counters[METRIC] ?? 0;
      const childCpuS = run.result ? (run.result.cpuUserMs + run.result.cpuSystemMs) / 1000 : 0;
      const record: RunRecord = {
        variant,
        repetition,
        topic,
        ...(ratePerSec ? { ratePerSec } : {}),
        ...(run.result ? { result: run.result } : {}),
        ...(run.failure ? { failure: run.failure } : {}),
        statsd: {
          warmup: run.warmTotals ?? { datagrams: 0, lines: 0, counters: {}, otherLines: 0 },
          timed,
          datagramsPerEvent: round(timed.datagrams / cfg.n, 6),
          counterTotal,
          counterCheck: counterTotal === cfg.n && (run.warmTotals?.counters[METRIC] ?? 0) === cfg.warmup ? 'ok' : 'mismatch',
        },
        kafkaRecords: { expected, found, check: found === expected ? 'ok' : 'mismatch' },
        brokerCpuUsPerEvent: round((run.brokerCpuS * 1e6) / cfg.n, 2),
        otherCpuCores: round(Math.max(0, run.systemBusyS - run.brokerCpuS - childCpuS - run.parentCpuS) / run.wallS, 2),
        stealCores: round(run.stealS / run.wallS, 3),
        wallS: round((Date.now() - t) / 1000, 1),
      };
      say(describeRun(record));
      return { record, run };
    };

    // C′ needs the publisher's `kafka.client` option and the platformatic adapter; without them it is skipped.
    const skipped: Partial<Record<VariantId, string>> = {};
    for (const v of requested) {
      if (v !== 'C' && v !== 'C′') continue;
      const reason = await clientUnavailable(CLIENT_OF[v], kafka.handle.brokers);
      if (reason) {
        skipped[v] = reason;
        say(`${v} skipped: ${reason}`);
      }
    }
    const ALL = requested.filter((v) => !skipped[v]);

    say('warming up the broker with a discarded A and B run');
    const brokerWarmup: RunRecord[] = [];
    for (const v of ['A', 'B'] as const) brokerWarmup.push((await execute(v, -1, undefined, method.brokerWarmup[v])).record);

    for (let rep = 1; rep <= method.repetitions; rep++) {
      // Interleaved, the order rotating by one each repetition: A B Bh B′ Bh′ C C′, then B Bh B′ Bh′ C C′ A, ...
      const order = ALL.map((_, i) => ALL[(i + rep - 1) % ALL.length]!);
      for (const variant of order) runs.push((await execute(variant, rep)).record);
    }

    // Latency at half the peak: C (and C′) paced at method.paced.fraction of their median throughput above.
    const paced: RunRecord[] = [];
    for (const variant of ALL.filter((v) => v === 'C' || v === 'C′')) {
      const peak = median(runs.filter((r) => r.variant === variant && r.result).map((r) => r.result!.eventsPerSec));
      if (!Number.isFinite(peak)) continue;
      const rate = Math.round(peak * method.paced.fraction);
      say(`${variant} paced at ${rate.toLocaleString('en-US')} events/s (${method.paced.fraction * 100}% of its median peak) for ${method.paced.seconds} s`);
      paced.push((await execute(variant, 1, undefined, rate * method.paced.seconds, rate)).record);
    }

    const profiles: Partial<Record<VariantId, ProfileSummary & { file: string; n: number; run: RunRecord }>> = {};
    for (const variant of method.profile.filter((v) => ALL.includes(v))) {
      const dir = mkdtempSync(join(tmpdir(), 'multidispatch-bench-prof-'));
      say(`profiling one more ${variant} run with node --cpu-prof (not part of the results table)`);
      const { record } = await execute(variant, 0, dir);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file && record.result) {
        const saved = join(resultsDir(root), `publish-${variant.replace('′', 'p')}.cpuprofile`);
        copyFileSync(join(dir, file), saved);
        writeFileSync(join(resultsDir(root), '.gitignore'), '*.cpuprofile\n');
        const summary = summariseProfile(saved, { windowUs: record.result.windowUs, top: 25, inclusive: INCLUSIVE });
        profiles[variant] = { ...summary, file: `benchmarks/results/publish-${variant.replace('′', 'p')}.cpuprofile`, n: record.result.n, run: record };
      }
      rmSync(dir, { recursive: true, force: true });
    }

    const summary = summarise(runs, ALL);
    const data = {
      benchmark: 'publish',
      generatedAt: new Date().toISOString(),
      durationS: round((Date.now() - started) / 1000, 1),
      machine,
      method: { ...method, variants: VARIANTS, statsdReceiver: 'plain node:dgram socket in the parent process', kafkaBroker: `single local KRaft broker ${kafka.handle.version} (src/dev/kafka.ts), replication factor 1` },
      skipped,
      summary,
      paced: paced.map(pacedSummary),
      ratios: ratios(summary, paced),
      runs,
      pacedRuns: paced,
      brokerWarmup,
      profiles,
      loadAvgAtEnd: machineInfo(root, []).loadAvgAtStart,
    };
    failed = [...runs, ...paced, ...brokerWarmup].some((r) => !r.result || r.result.errors > 0 || r.kafkaRecords.check !== 'ok' || (r.variant !== 'A' && r.statsd.counterCheck !== 'ok'));
    await stopAndSave(kafka, failed, root, 'publish', data, started, say);
  } catch (err) {
    await exitOnError(err, say, cleanup, () => (failed = true));
  }
  await receiver.close();
  process.exit(failed ? 1 : 0);
}

type Summary = Partial<Record<VariantId, {
  runs: number;
  n: number;
  eventsPerSec: number;
  eventsPerSecRange: [number, number];
  cpuUsPerEvent: number;
  cpuUsPerEventRange: [number, number];
  latencyP99Ms: number;
  eventLoopDelayP99Ms: number;
  datagramsPerEvent: number;
  recordsPerProduceCall: number;
  brokerCpuUsPerEvent: number;
  otherCpuCores: number;
  stealCores: number;
  counterChecks: string;
  recordChecks: string;
}>>;

function summarise(runs: RunRecord[], variants: VariantId[]): Summary {
  const out = {} as Summary;
  for (const v of variants) {
    const ok = runs.filter((r) => r.variant === v && r.result);
    const all = runs.filter((r) => r.variant === v);
    const pick = (f: (r: RunRecord) => number) => median(ok.map(f));
    const range = (f: (r: RunRecord) => number): [number, number] => [Math.min(...ok.map(f)), Math.max(...ok.map(f))];
    out[v] = {
      runs: ok.length,
      n: method.n[v],
      eventsPerSec: round(pick((r) => r.result!.eventsPerSec)),
      eventsPerSecRange: range((r) => r.result!.eventsPerSec),
      cpuUsPerEvent: round(pick((r) => r.result!.cpuUsPerEvent), 2),
      cpuUsPerEventRange: range((r) => r.result!.cpuUsPerEvent),
      latencyP99Ms: round(pick((r) => r.result!.latencyMs.p99), 1),
      eventLoopDelayP99Ms: round(pick((r) => r.result!.eventLoopDelayMs.p99), 1),
      datagramsPerEvent: round(pick((r) => r.statsd.datagramsPerEvent), 5),
      recordsPerProduceCall: round(pick((r) => r.result!.recordsPerCall.mean)),
      brokerCpuUsPerEvent: round(pick((r) => r.brokerCpuUsPerEvent), 1),
      otherCpuCores: round(pick((r) => r.otherCpuCores), 2),
      stealCores: round(Math.max(...ok.map((r) => r.stealCores)), 3),
      counterChecks: `${all.filter((r) => r.statsd.counterCheck === 'ok').length}/${all.length}`,
      recordChecks: `${all.filter((r) => r.kafkaRecords.check === 'ok').length}/${all.length}`,
    };
  }
  return out;
}

/** Issue 12's targets for publish() (the fastest C variant that ran), and the earlier one against A. */
const TARGETS = {
  throughputVsBp: { min: 1.0, text: 'publish() throughput ≥ 1.0 × B′' },
  throughputVsB: { min: 1.5, text: 'publish() throughput ≥ 1.5 × B' },
  cpuVsBp: { max: 1.1, text: 'publish() client CPU per event ≤ 1.1 × B′' },
  throughputVsA: { min: 10, text: 'publish() throughput ≥ 10 × A' },
  absolute: { min: 60_000, text: 'publish() ≥ 60,000 events/s with acks=all' },
  aim: { min: 100_000, text: 'publish() ≥ 100,000 events/s (aim)' },
  latencyAtHalf: { extraMs: 20, text: 'p99 publish→ack at half the peak rate ≤ lingerMs + 20 ms' },
};

interface PacedSummary {
  variant: VariantId;
  ratePerSec: number;
  eventsPerSec: number;
  latencyMs: { p50: number; p99: number; max: number };
  eventLoopDelayP99Ms: number;
  cpuUsPerEvent: number;
  errors: number;
  failure?: string;
}

function pacedSummary(r: RunRecord): PacedSummary {
  const x = r.result;
  return {
    variant: r.variant,
    ratePerSec: r.ratePerSec ?? Number.NaN,
    eventsPerSec: x?.eventsPerSec ?? Number.NaN,
    latencyMs: x?.latencyMs ?? { p50: Number.NaN, p99: Number.NaN, max: Number.NaN },
    eventLoopDelayP99Ms: x?.eventLoopDelayMs.p99 ?? Number.NaN,
    cpuUsPerEvent: x?.cpuUsPerEvent ?? Number.NaN,
    errors: x?.errors ?? 0,
    ...(r.failure ? { failure: r.failure } : {}),
  };
}

type Ratio = { variant: VariantId; value: number; target: string; pass: boolean };

/** The targets for every C variant that ran (C on kafkajs, C′ on @platformatic/kafka), and diagnostics. */
function ratios(s: Summary, paced: RunRecord[]) {
  const out: Ratio[] = [];
  const ok = (x: number) => Number.isFinite(x);
  for (const c of (['C', 'C′'] as const).filter((v) => s[v])) {
    const C = s[c]!;
    const add = (value: number, t: { text: string }, pass: boolean) => ok(value) && out.push({ variant: c, value, target: t.text, pass });
    if (s['B′']) add(round(C.eventsPerSec / s['B′'].eventsPerSec, 3), TARGETS.throughputVsBp, C.eventsPerSec / s['B′'].eventsPerSec >= TARGETS.throughputVsBp.min);
    if (s.B) add(round(C.eventsPerSec / s.B.eventsPerSec, 3), TARGETS.throughputVsB, C.eventsPerSec / s.B.eventsPerSec >= TARGETS.throughputVsB.min);
    if (s['B′']) add(round(C.cpuUsPerEvent / s['B′'].cpuUsPerEvent, 3), TARGETS.cpuVsBp, C.cpuUsPerEvent / s['B′'].cpuUsPerEvent <= TARGETS.cpuVsBp.max);
    if (s.A) add(round(C.eventsPerSec / s.A.eventsPerSec, 1), TARGETS.throughputVsA, C.eventsPerSec / s.A.eventsPerSec >= TARGETS.throughputVsA.min);
    add(C.eventsPerSec, TARGETS.absolute, C.eventsPerSec >= TARGETS.absolute.min);
    add(C.eventsPerSec, TARGETS.aim, C.eventsPerSec >= TARGETS.aim.min);
    const p = paced.find((r) => r.variant === c)?.result;
    if (p) add(p.latencyMs.p99, TARGETS.latencyAtHalf, p.latencyMs.p99 <= method.paced.lingerMs + TARGETS.latencyAtHalf.extraMs);
  }
  const r3 = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? round(a / b, 3) : Number.NaN);
  return {
    targets: out,
    /** Not targets: each C against the hand-written loop producing records of the same shape on its client, and the headers' cost. */
    diagnostic: {
      throughputCvsBh: r3(s.C?.eventsPerSec, s.Bh?.eventsPerSec),
      cpuPerEventCvsBh: r3(s.C?.cpuUsPerEvent, s.Bh?.cpuUsPerEvent),
      cpuPerEventBhVsB: r3(s.Bh?.cpuUsPerEvent, s.B?.cpuUsPerEvent),
      throughputCpvsBhp: r3(s['C′']?.eventsPerSec, s['Bh′']?.eventsPerSec),
      cpuPerEventCpvsBhp: r3(s['C′']?.cpuUsPerEvent, s['Bh′']?.cpuUsPerEvent),
      cpuPerEventBhpVsBp: r3(s['Bh′']?.cpuUsPerEvent, s['B′']?.cpuUsPerEvent),
      throughputBpVsB: r3(s['B′']?.eventsPerSec, s.B?.eventsPerSec),
    },
  };
}

type Frame = { functionName: string; url: string };
const mdFile = (f: Frame, path: string) => f.url.includes(`/src/${path}`);
const INCLUSIVE: Array<{ label: string; match: (f: Frame) => boolean }> = [
  { label: 'publish() in publisher/core (synchronous part of every call)', match: (f) => f.functionName === 'publish' && mdFile(f, 'publisher/core') },
  { label: '  EventRegistry.encode (validation + protobuf encode)', match: (f) => f.functionName === 'encode' && mdFile(f, 'schema/registry') },
  { label: '    prepare (validation)', match: (f) => f.functionName === 'prepare' && mdFile(f, 'schema/validate') },
  { label: '  uuid v7', match: (f) => f.url.includes('node_modules/uuid/') || (f.functionName === 'next' && mdFile(f, 'publisher/envelope')) },
  { label: '  startPublishSpan (OpenTelemetry, no SDK registered)', match: (f) => f.functionName === 'startPublishSpan' },
  { label: '  counterFor (StatsD tags + cardinality guard)', match: (f) => f.functionName === 'counterFor' },
  { label: '  HotShotsSink.increment', match: (f) => f.functionName === 'increment' && mdFile(f, 'sinks/statsd') },
  { label: '  KafkaSink.send (enqueue)', match: (f) => f.functionName === 'send' && mdFile(f, 'sinks/kafka') },
  { label: 'KafkaSink.deliver (batch → ProducerPort.send, resolve promises)', match: (f) => f.functionName === 'deliver' && mdFile(f, 'sinks/kafka') },
  { label: '  ProducerPort.send (record mapping, offsets)', match: (f) => f.functionName === 'send' && mdFile(f, 'kafka/producer') },
  { label: 'kafkajs (any frame)', match: (f) => f.url.includes('node_modules/kafkajs/') },
  { label: '  kafkajs record encoding (recordBatch/record/v0)', match: (f) => f.url.includes('kafkajs/src/protocol/recordBatch/record/v0/') },
  { label: '    kafkajs header encoding (recordBatch/header/v0)', match: (f) => f.url.includes('kafkajs/src/protocol/recordBatch/header/v0/') },
  { label: '  kafkajs crc32C', match: (f) => f.functionName === 'crc32C' },
  { label: 'protobufjs (any frame: fromObject, encode, writer)', match: (f) => f.url.includes('node_modules/protobufjs/') || f.url.includes('node_modules/@protobufjs/') || /\$(encode|fromObject)$/.test(f.functionName) },
  { label: 'hot-shots (any frame)', match: (f) => f.url.includes('node_modules/hot-shots/') },
  { label: 'timers/promises setImmediate yields of the driver', match: (f) => f.functionName === 'setImmediate' && f.url.startsWith('node:timers') },
];

await main();
