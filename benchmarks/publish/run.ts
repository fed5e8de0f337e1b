/**
 * benchmarks/publish: naive kafkajs+hot-shots (A), a tuned hand-written baseline (B) and multidispatch (C),
 * in one run against one local broker that this script starts (src/dev/kafka.ts) in a temp dir and stops.
 * Every run of every variant is its own child process (child.ts) on a fresh topic; repetitions are
 * interleaved (the order rotates) and the median of each figure is reported. A last, separate C run is
 * profiled with `node --cpu-prof` and summarised. Writes benchmarks/results/publish.json and rewrites
 * docs/benchmarks.md.
 *
 *   npx tsx benchmarks/publish/run.ts            (npm run bench runs it after building)
 *   BENCH_PUBLISH_N=50000 BENCH_PUBLISH_REPS=1 npx tsx benchmarks/publish/run.ts   (a quick look)
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

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const say = (msg: string) => process.stderr.write(`[bench:publish] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const envInt = (name: string, dflt: number) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : dflt);

type VariantId = 'A' | 'B' | 'Bh' | 'C';
const ALL: VariantId[] = ['A', 'B', 'Bh', 'C'];
const VARIANTS: Record<VariantId, string> = {
  A: 'naive: protobufjs encode + `await producer.send([one])` (idempotent, acks -1) + unbuffered hot-shots increment, per event',
  B: 'tuned by hand: protobufjs encode, `sendBatch` of fixed size, one batch in flight while the next is built; hot-shots buffered (1432 B) with client-side aggregation (1 s)',
  Bh: 'diagnostic, not a target: B plus the five envelope headers C writes on every record (event type, uuid v7 event id, ISO-8601 time, producer, schema fingerprint), so the records have the same shape as C\'s',
  C: 'multidispatch `createPublisher().publish()`, default options, StatsD over UDP; driver keeps ≤ maxOutstanding publishes unsettled, then `flush()`',
};

const method = {
  partitions: envInt('BENCH_PUBLISH_PARTITIONS', 6),
  repetitions: envInt('BENCH_PUBLISH_REPS', 3),
  n: { A: envInt('BENCH_PUBLISH_N_A', 5_000), B: envInt('BENCH_PUBLISH_N', 400_000), Bh: envInt('BENCH_PUBLISH_N', 400_000), C: envInt('BENCH_PUBLISH_N', 400_000) } as Record<VariantId, number>,
  warmup: { A: envInt('BENCH_PUBLISH_WARMUP_A', 500), B: envInt('BENCH_PUBLISH_WARMUP', 30_000), Bh: envInt('BENCH_PUBLISH_WARMUP', 30_000), C: envInt('BENCH_PUBLISH_WARMUP', 30_000) } as Record<VariantId, number>,
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
};

interface RunRecord {
  variant: VariantId;
  repetition: number;
  topic: string;
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
  const machine = machineInfo(root, ['kafkajs', 'hot-shots', 'protobufjs', 'uuid']);
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
    const execute = async (variant: VariantId, repetition: number, cpuProfDir?: string, n = method.n[variant]) => {
      const topic = `bench.publish.${stamp}.${variant}.${repetition < 0 ? 'warm' : repetition}`;
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

    say('warming up the broker with a discarded A and B run');
    const brokerWarmup: RunRecord[] = [];
    for (const v of ['A', 'B'] as const) brokerWarmup.push((await execute(v, -1, undefined, method.brokerWarmup[v])).record);

    for (let rep = 1; rep <= method.repetitions; rep++) {
      // Interleaved, the order rotating by one each repetition: A B Bh C, then B Bh C A, ...
      const order = ALL.map((_, i) => ALL[(i + rep - 1) % ALL.length]!);
      for (const variant of order) runs.push((await execute(variant, rep)).record);
    }

    const profiles: Partial<Record<VariantId, ProfileSummary & { file: string; n: number; run: RunRecord }>> = {};
    for (const variant of method.profile) {
      const dir = mkdtempSync(join(tmpdir(), 'multidispatch-bench-prof-'));
      say(`profiling one more ${variant} run with node --cpu-prof (not part of the results table)`);
      const { record } = await execute(variant, 0, dir);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file && record.result) {
        const saved = join(resultsDir(root), `publish-${variant}.cpuprofile`);
        copyFileSync(join(dir, file), saved);
        writeFileSync(join(resultsDir(root), '.gitignore'), '*.cpuprofile\n');
        const summary = summariseProfile(saved, { windowUs: record.result.windowUs, top: 25, inclusive: INCLUSIVE });
        profiles[variant] = { ...summary, file: `benchmarks/results/publish-${variant}.cpuprofile`, n: record.result.n, run: record };
      }
      rmSync(dir, { recursive: true, force: true });
    }

    const summary = summarise(runs);
    const data = {
      benchmark: 'publish',
      generatedAt: new Date().toISOString(),
      durationS: round((Date.now() - started) / 1000, 1),
      machine,
      method: { ...method, variants: VARIANTS, statsdReceiver: 'plain node:dgram socket in the parent process', kafkaBroker: `single local KRaft broker ${kafka.handle.version} (src/dev/kafka.ts), replication factor 1` },
      summary,
      ratios: ratios(summary),
      runs,
      brokerWarmup,
      profiles,
      loadAvgAtEnd: machineInfo(root, []).loadAvgAtStart,
    };
    failed = [...runs, ...brokerWarmup].some((r) => !r.result || r.result.errors > 0 || r.kafkaRecords.check !== 'ok' || (r.variant !== 'A' && r.statsd.counterCheck !== 'ok'));
    await stopAndSave(kafka, failed, root, 'publish', data, started, say);
  } catch (err) {
    await exitOnError(err, say, cleanup, () => (failed = true));
  }
  await receiver.close();
  process.exit(failed ? 1 : 0);
}

type Summary = Record<VariantId, {
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
}>;

function summarise(runs: RunRecord[]): Summary {
  const out = {} as Summary;
  for (const v of ALL) {
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

const TARGETS = {
  throughputVsB: { min: 1.0, text: 'C throughput ≥ 1.0 × B' },
  cpuVsB: { max: 1.1, text: 'C CPU per event ≤ 1.1 × B' },
  throughputVsA: { min: 10, text: 'C throughput ≥ 10 × A' },
  absolute: { min: 100_000, text: 'C ≥ 100,000 events/s (aim)' },
};

function ratios(s: Summary) {
  const thrCB = s.C.eventsPerSec / s.B.eventsPerSec;
  const cpuCB = s.C.cpuUsPerEvent / s.B.cpuUsPerEvent;
  const thrCA = s.C.eventsPerSec / s.A.eventsPerSec;
  return {
    throughputCvsB: { value: round(thrCB, 3), target: TARGETS.throughputVsB.text, pass: thrCB >= TARGETS.throughputVsB.min },
    cpuPerEventCvsB: { value: round(cpuCB, 3), target: TARGETS.cpuVsB.text, pass: cpuCB <= TARGETS.cpuVsB.max },
    throughputCvsA: { value: round(thrCA, 1), target: TARGETS.throughputVsA.text, pass: thrCA >= TARGETS.throughputVsA.min },
    absoluteC: { value: s.C.eventsPerSec, target: TARGETS.absolute.text, pass: s.C.eventsPerSec >= TARGETS.absolute.min },
    /** Not targets: C against B producing records of the same shape (Bh), and Bh against B. */
    diagnostic: {
      throughputCvsBh: round(s.C.eventsPerSec / s.Bh.eventsPerSec, 3),
      cpuPerEventCvsBh: round(s.C.cpuUsPerEvent / s.Bh.cpuUsPerEvent, 3),
      cpuPerEventBhVsB: round(s.Bh.cpuUsPerEvent / s.B.cpuUsPerEvent, 3),
    },
  };
}

type Frame = { functionName: string; url: string };
const mdFile = (f: Frame, path: string) => f.url.includes(`/src/${path}`);
const INCLUSIVE: Array<{ label: string; match: (f: Frame) => boolean }> = [
  { label: 'publish() in publisher/core (synchronous part of every call)', match: (f) => f.functionName === 'publish' && mdFile(f, 'publisher/core') },
  { label: '  EventRegistry.encode (validation + protobuf encode)', match: (f) => f.functionName === 'encode' && mdFile(f, 'schema/registry') },
  { label: '    prepare (validation)', match: (f) => f.functionName === 'prepare' && mdFile(f, 'schema/validate') },
  { label: '  uuid v7', match: (f) => f.url.includes('node_modules/uuid/') },
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
