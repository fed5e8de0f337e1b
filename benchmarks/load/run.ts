/**
 * benchmarks/load: rows/s from a pre-filled topic into DuckDB, in one run against one local broker that this
 * script starts (src/dev/kafka.ts) in a temp dir and stops:
 *   C — the consume limit: a bare kafkajs consumer that only decodes (the loader's decodeRecord) and discards;
 *   C′ — the same on @platformatic/kafka's own Consumer API (consume() stream), not through the package's port;
 *   W — the write limit: the same rows, pre-built, through the DuckDB appender in 10,000-row transactions, no Kafka;
 *   L — multidispatch: createLoader({ warehouse: 'duckdb:<fresh file>' }).runOnce(), exactly-once, defaults;
 *   L′ — L with kafka.client 'platformatic' (the package's @platformatic/kafka adapter).
 * The topic is pre-filled once (real publisher, untimed) and read back once to build W's rows. Every run is
 * its own child process (child.ts) with a fresh group / fresh DuckDB file; repetitions are interleaved (the
 * order rotates) and medians are reported. A last, separate L run is profiled with `node --cpu-prof`.
 * Writes benchmarks/results/load.json and rewrites docs/benchmarks.md.
 *
 *   npx tsx benchmarks/load/run.ts               (npm run bench -- load runs it after building)
 *   BENCH_LOAD_N=60000 BENCH_LOAD_REPS=1 BENCH_LOAD_PROFILE=0 npx tsx benchmarks/load/run.ts   (a quick look)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchKafka, type BenchKafka } from '../lib/kafka-env.js';
import { cpuSince, machineInfo, takeCpuMark, type CpuMark } from '../lib/machine.js';
import { relabelComponents, summariseProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { resultsDir } from '../lib/results.js';
import { exitOnError, exitOnSignals, stopAndSave } from '../lib/lifecycle.js';
import { median, round } from '../lib/stats.js';
import type { ChildConfig, ChildResult, Mode } from './child.js';
import { MIX } from './events.js';
import type { SummaryRow } from './render.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const say = (msg: string) => process.stderr.write(`[bench:load] ${msg}\n`);
const envInt = (name: string, dflt: number) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : dflt);

type VariantId = 'C' | 'Cp' | 'W' | 'L' | 'Lp' | 'K';
const ALL: VariantId[] = ['C', 'Cp', 'W', 'L', 'Lp', 'K'];
/** The loader variants (correctness-checked, timed from start()). */
const LOADERS: VariantId[] = ['L', 'Lp', 'K'];
const CONSUMERS: VariantId[] = ['C', 'Cp'];
const VARIANTS: Record<VariantId, string> = {
  C: 'consume limit: a bare kafkajs consumer (fresh group, `eachBatch`, the loader\'s fetch settings, no offset commits) that runs the loader\'s own `decodeRecord` on every record (header parse, protobuf decode, the two `JSON.stringify`) and discards the row',
  Cp: 'consume limit on @platformatic/kafka: a bare consumer written against platformatic\'s own `Consumer` API, not the package\'s port (fresh group, `consume({ mode: \'earliest\', autocommit: false })` with C\'s fetch sizes (16 MiB per fetch, 4 MiB per partition), 500 ms max wait and read_committed, messages taken from a `\'data\'` listener), that turns each message into the record shape `decodeRecord` takes (bigint offset and timestamp → decimal strings, headers `Map<Buffer, Buffer>` → object of Buffers; inside the timed part), runs the loader\'s `decodeRecord` and discards the row, exactly like C',
  W: 'write limit: the same rows as pre-built metadata/content JSON strings (read back from the topic with `decodeRecord` once, before timing), written into a fresh DuckDB file with the appender inside transactions of 10,000 rows, plus one offsets compare-and-set `UPDATE` per transaction; no Kafka',
  L: 'multidispatch: `createLoader({ warehouse: \'duckdb:<fresh file>\', topics: [topic], topicRenames, group: <fresh> }).runOnce()`, default options (exactly-once: rows and offsets in one DuckDB transaction; batches of 10,000 records / 5 MB; views on), on the default Kafka client (kafkajs)',
  K: 'multidispatch into the lake: `createLoader({ warehouse: \'lake:<fresh dir>\', ... }).runOnce()` on kafkajs with the lake\'s default batches (100,000 records / 128 MB / 60 s; a batch is one zstd Parquet file per partition, event type and hour, then a commit marker per partition): Parquet on the local file system, exactly once',
  Lp: 'L on @platformatic/kafka: the same `createLoader(...).runOnce()` with `kafka: { brokers, client: \'platformatic\' }` (the package\'s platformatic adapter: its own fetch loop over platformatic\'s group membership and Fetch), everything else as L',
};
/** How a variant is written in the log and the doc. */
const DISPLAY: Record<VariantId, string> = { C: 'C', Cp: 'C′', W: 'W', L: 'L', Lp: 'L′', K: 'K' };

const method = {
  partitions: envInt('BENCH_LOAD_PARTITIONS', 6),
  repetitions: envInt('BENCH_LOAD_REPS', 3),
  n: envInt('BENCH_LOAD_N', 300_000),
  batchRows: 10_000,
  /** Pre-fill: publishes the driver keeps unsettled at most. */
  maxOutstanding: 20_000,
  /** Before the first measured run, one discarded C run reads the whole topic (broker JIT, page cache). */
  brokerWarmup: (process.env.BENCH_LOAD_WARMUP ?? '1') !== '0',
  /** Variants profiled in one extra run each (BENCH_LOAD_PROFILE=0 for none, or e.g. L,C). */
  profile: ((process.env.BENCH_LOAD_PROFILE ?? 'L') === '0' ? [] : (process.env.BENCH_LOAD_PROFILE ?? 'L').split(',')) as VariantId[],
  /** Variants to run (BENCH_LOAD_VARIANTS=L for a quick look at the loader alone; ids C, Cp, W, L, Lp; the summary needs all five). */
  variants: (process.env.BENCH_LOAD_VARIANTS ?? ALL.join(',')).split(',') as VariantId[],
  mix: Object.fromEntries(MIX) as Record<string, number>,
};

interface RunRecord {
  variant: VariantId;
  repetition: number;
  result?: ChildResult;
  failure?: string;
  /** L, L′: the DuckDB table has exactly N rows, N distinct (partition, offset), offsets summing to N. */
  check: 'ok' | 'failed' | 'n/a';
  brokerCpuUsPerRow: number;
  otherCpuCores: number;
  stealCores: number;
  wallS: number;
}

interface ChildRun {
  result?: ChildResult;
  failure?: string;
  brokerCpuS: number;
  systemBusyS: number;
  stealS: number;
  parentCpuS: number;
  wallS: number;
}

let current: ChildProcess | undefined;

async function runChild(cfg: ChildConfig, brokerPid: number, cpuProfDir?: string, timeoutMs = 240_000): Promise<ChildRun> {
  const execArgv = ['--import', 'tsx', '--expose-gc', ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, '--cpu-prof-interval=250'] : [])];
  const out: ChildRun = { brokerCpuS: Number.NaN, systemBusyS: Number.NaN, stealS: Number.NaN, parentCpuS: Number.NaN, wallS: Number.NaN };
  const child = fork(join(here, 'child.ts'), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(cfg), KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  });
  current = child;
  const timeout = setTimeout(() => {
    out.failure ??= `timed out after ${timeoutMs / 1000} s`;
    child.kill('SIGKILL');
  }, timeoutMs);
  let mark: CpuMark | undefined;
  const takeMark = () => (mark = takeCpuMark(brokerPid));
  if (cfg.mode === 'prepare') takeMark();
  child.on('message', (m: { type: string; result?: ChildResult; message?: string }) => {
    if (m.type === 'ready') {
      takeMark();
      child.send({ type: 'go' });
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
  return out;
}

function describeRun(r: RunRecord): string {
  const name = DISPLAY[r.variant] ?? r.variant;
  if (!r.result) return `${name}#${r.repetition}: FAILED ${r.failure}`;
  const x = r.result;
  const extra =
    LOADERS.includes(r.variant)
      ? `${x.lake ? `, ${x.lake.files} files (${(x.lake.bytes / 2 ** 20).toFixed(1)} MiB, rows/file ${x.lake.rowsPerFile.join(' / ')})` : ''}, first fetch ${x.startToFirstFetchMs} ms, first commit ${x.firstCommitMs} ms, caught up ${x.caughtUpMs} ms, runOnce ${x.runOnceMs} ms, steady ${x.steadyRowsPerSec?.toLocaleString('en-US')} rows/s, ${x.transactions} transactions, check ${r.check}${x.check ? ` (${x.check.rows} rows, ${x.check.distinctPartitionOffset} distinct, offsets ${x.check.offsetsSum})` : ''}`
      : CONSUMERS.includes(r.variant)
        ? `, ${x.fetchBatches} ${r.variant === 'Cp' ? 'fetch responses' : 'fetch batches'}, group join ${x.startToFirstFetchMs} ms`
        : `, ${x.transactions} transactions`;
  return `${name}#${r.repetition}: ${x.rowsPerSec.toLocaleString('en-US')} rows/s, ${x.cpuUsPerRow} µs CPU/row, RSS ${x.maxRssMiB} MiB, broker ${r.brokerCpuUsPerRow} µs/row, other procs ${r.otherCpuCores} cores, steal ${r.stealCores} cores${extra}`;
}

/** On-disk size of the topic's log segments (sum over its partition directories). */
function topicDiskBytes(kafka: BenchKafka, topic: string): number {
  const logDir = join(kafka.workDir, 'kafka', 'kafka-logs');
  let total = 0;
  try {
    for (const d of readdirSync(logDir)) {
      if (!d.startsWith(`${topic}-`) || !/^\d+$/.test(d.slice(topic.length + 1))) continue;
      for (const f of readdirSync(join(logDir, d))) if (f.endsWith('.log')) total += statSync(join(logDir, d, f)).size;
    }
  } catch {
    return Number.NaN;
  }
  return total;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo(root, ['kafkajs', '@platformatic/kafka', '@duckdb/node-api', 'protobufjs']);
  say(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}; load average ${machine.loadAvgAtStart.join(' ')}`);
  let kafka: BenchKafka | undefined;
  let failed = false;
  const scratch = mkdtempSync(join(tmpdir(), 'multidispatch-bench-load-'));
  const cleanup = async () => {
    current?.kill('SIGKILL');
    await kafka?.stop({ keepDir: failed }).catch((e: Error) => say(`stopping Kafka: ${e.message}`));
    rmSync(scratch, { recursive: true, force: true });
  };
  exitOnSignals(say, 'the child and the broker', cleanup, () => (failed = true));

  try {
    kafka = await startBenchKafka(say, `scratch ${scratch}`);
    machine.kafka = kafka.handle.version;

    const stamp = Date.now().toString(36);
    const topic = `bench.load.${stamp}`;
    const rowsFile = join(scratch, 'rows.jsonl');
    await kafka.createTopic(topic, method.partitions);
    const base = { brokers: kafka.handle.brokers, topic, n: method.n, rowsFile, batchRows: method.batchRows, maxOutstanding: method.maxOutstanding };

    // Pre-fill (untimed): once, for every run.
    let t = Date.now();
    say(`pre-filling ${topic} (${method.partitions} partitions) with ${method.n.toLocaleString('en-US')} events via createPublisher, then reading it back once for W's rows`);
    const prep = await runChild({ ...base, mode: 'prepare', group: `bench-load-${stamp}-prepare`, dbPath: '' }, kafka.handle.pid, undefined, 600_000);
    if (!prep.result?.prepare) throw new Error(`pre-fill failed: ${prep.failure ?? 'no result'}`);
    const records = await kafka.recordCount(topic);
    if (records !== method.n || prep.result.prepare.errors > 0 || prep.result.prepare.rowsWritten !== method.n) {
      throw new Error(`pre-fill: ${records} records in the topic, ${prep.result.prepare.rowsWritten} rows read back, ${prep.result.prepare.errors} publish errors; expected ${method.n}`);
    }
    const prefill = {
      records,
      ...prep.result.prepare,
      diskBytes: topicDiskBytes(kafka, topic),
      rowsFileBytes: statSync(rowsFile).size,
      wallS: round((Date.now() - t) / 1000, 1),
    };
    say(
      `pre-filled in ${prefill.wallS} s: ${records.toLocaleString('en-US')} records, ${(prefill.payloadBytes / 2 ** 20).toFixed(1)} MiB of key+value+headers (${Math.round(prefill.payloadBytes / records)} B/record), ${(prefill.diskBytes / 2 ** 20).toFixed(1)} MiB of log segments, rows ${Math.round(prefill.rowJsonBytes / records)} B of JSON each`,
    );

    const runs: RunRecord[] = [];
    let seq = 0;
    const execute = async (variant: VariantId, repetition: number, cpuProfDir?: string) => {
      const id = `${variant}.${repetition < 0 ? 'warm' : repetition === 0 ? 'prof' : repetition}.${seq++}`;
      const dbPath = join(scratch, variant === 'K' ? `${id}.lake` : `${id}.duckdb`);
      const cfg: ChildConfig = { ...base, mode: variant as Mode, group: `bench-load-${stamp}-${id}`, dbPath };
      t = Date.now();
      const run = await runChild(cfg, kafka!.handle.pid, cpuProfDir);
      const x = run.result;
      const childCpuS = x ? (x.cpuUserMs + x.cpuSystemMs) / 1000 : 0;
      const record: RunRecord = {
        variant,
        repetition,
        ...(x ? { result: x } : {}),
        ...(run.failure ? { failure: run.failure } : {}),
        check: !LOADERS.includes(variant) ? 'n/a' : x?.check?.ok ? 'ok' : 'failed',
        brokerCpuUsPerRow: round((run.brokerCpuS * 1e6) / method.n, 2),
        otherCpuCores: round(Math.max(0, run.systemBusyS - run.brokerCpuS - childCpuS - run.parentCpuS) / run.wallS, 2),
        stealCores: round(run.stealS / run.wallS, 3),
        wallS: round((Date.now() - t) / 1000, 1),
      };
      // An L or L′ run whose table does not check out counts as failed.
      if (record.check === 'failed') record.failure ??= `correctness check failed: ${JSON.stringify(x?.check ?? null)}`;
      rmSync(dbPath, { force: true, recursive: true });
      rmSync(`${dbPath}.wal`, { force: true });
      say(describeRun(record));
      return record;
    };

    const brokerWarmup: RunRecord[] = [];
    if (method.brokerWarmup) {
      say('warming up the broker with a discarded C run');
      brokerWarmup.push(await execute('C', -1));
    }
    for (let rep = 1; rep <= method.repetitions; rep++) {
      // Interleaved, the order rotating by one each repetition: C C′ W L L′, then C′ W L L′ C, and so on.
      const order = ALL.map((_, i) => ALL[(i + rep - 1) % ALL.length]!).filter((v) => method.variants.includes(v));
      for (const variant of order) runs.push(await execute(variant, rep));
    }

    const profiles: Partial<Record<VariantId, ProfileSummary & { file: string; n: number; run: RunRecord }>> = {};
    for (const variant of method.profile) {
      const dir = mkdtempSync(join(tmpdir(), 'multidispatch-bench-prof-'));
      say(`profiling one more ${variant} run with node --cpu-prof (not part of the results table)`);
      const record = await execute(variant, 0, dir);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file && record.result) {
        const saved = join(resultsDir(root), `load-${variant}.cpuprofile`);
        copyFileSync(join(dir, file), saved);
        writeFileSync(join(resultsDir(root), '.gitignore'), '*.cpuprofile\n');
        const summary = summariseProfile(saved, { windowUs: record.result.windowUs, top: 30, inclusive: INCLUSIVE });
        profiles[variant] = { ...relabel(summary), file: `benchmarks/results/load-${variant}.cpuprofile`, n: record.result.n, run: record };
      }
      rmSync(dir, { recursive: true, force: true });
    }

    const summary = summarise(runs);
    const data = {
      benchmark: 'load',
      generatedAt: new Date().toISOString(),
      durationS: round((Date.now() - started) / 1000, 1),
      machine,
      method: {
        ...method,
        variants: VARIANTS,
        topic: `${method.partitions} partitions, pre-filled once with createPublisher (statsd: false), replication factor 1`,
        kafkaBroker: `single local KRaft broker ${kafka.handle.version} (src/dev/kafka.ts), replication factor 1`,
      },
      prefill,
      summary,
      ratios: ratios(summary),
      runs,
      brokerWarmup,
      profiles,
      loadAvgAtEnd: machineInfo(root, []).loadAvgAtStart,
    };
    failed = [...runs, ...brokerWarmup].some((r) => !r.result || r.failure !== undefined || r.result.n !== method.n);
    rmSync(scratch, { recursive: true, force: true });
    await stopAndSave(kafka, failed, root, 'load', data, started, say);
  } catch (err) {
    await exitOnError(err, say, cleanup, () => (failed = true));
  }
  process.exit(failed ? 1 : 0);
}

type Summary = Record<VariantId, SummaryRow>;

function summarise(runs: RunRecord[]): Summary {
  const out = {} as Summary;
  for (const v of ALL) {
    const ok = runs.filter((r) => r.variant === v && r.result && r.failure === undefined);
    const all = runs.filter((r) => r.variant === v);
    const pick = (f: (r: RunRecord) => number | undefined) => median(ok.map(f).filter((x): x is number => typeof x === 'number'));
    const range = (f: (r: RunRecord) => number | undefined): [number, number] => {
      const xs = ok.map(f).filter((x): x is number => typeof x === 'number');
      return [Math.min(...xs), Math.max(...xs)];
    };
    out[v] = {
      runs: ok.length,
      n: method.n,
      rowsPerSec: round(pick((r) => r.result!.rowsPerSec)),
      rowsPerSecRange: range((r) => r.result!.rowsPerSec),
      cpuUsPerRow: round(pick((r) => r.result!.cpuUsPerRow), 2),
      cpuUsPerRowRange: range((r) => r.result!.cpuUsPerRow),
      maxRssMiB: round(pick((r) => r.result!.maxRssMiB)),
      fetchBatches: round(pick((r) => r.result!.fetchBatches)),
      transactions: round(pick((r) => r.result!.transactions)),
      brokerCpuUsPerRow: round(pick((r) => r.brokerCpuUsPerRow), 2),
      otherCpuCores: round(pick((r) => r.otherCpuCores), 2),
      stealCores: round(Math.max(...ok.map((r) => r.stealCores)), 3),
      checks: LOADERS.includes(v) ? `${all.filter((r) => r.check === 'ok').length}/${all.length}` : 'n/a',
      ...(CONSUMERS.includes(v) ? { startToFirstFetchMs: round(pick((r) => r.result!.startToFirstFetchMs)) } : {}),
      ...(LOADERS.includes(v)
        ? {
            startToFirstFetchMs: round(pick((r) => r.result!.startToFirstFetchMs)),
            firstCommitMs: round(pick((r) => r.result!.firstCommitMs)),
            caughtUpMs: round(pick((r) => r.result!.caughtUpMs)),
            runOnceMs: round(pick((r) => r.result!.runOnceMs)),
            steadyRowsPerSec: round(pick((r) => r.result!.steadyRowsPerSec)),
            steadyRowsPerSecRange: range((r) => r.result!.steadyRowsPerSec),
            steadyCpuUsPerRow: round(pick((r) => r.result!.steadyCpuUsPerRow), 2),
          }
        : {}),
      ...(v === 'K' && ok.length > 0
        ? {
            lake: {
              files: round(pick((r) => r.result!.lake?.files)),
              bytes: round(pick((r) => r.result!.lake?.bytes)),
              rowsPerFile: [0, 1, 2].map((i) => round(pick((r) => r.result!.lake?.rowsPerFile[i]))) as [number, number, number],
              bytesPerFile: [0, 1, 2].map((i) => round(pick((r) => r.result!.lake?.bytesPerFile[i]))) as [number, number, number],
              compression: ok[0]!.result!.lake?.compression ?? '?',
            },
          }
        : {}),
    };
  }
  return out;
}

const TARGETS = {
  vsConsume: { min: 0.7, text: 'L ≥ 0.7 × C (the consume limit)' },
  absolute: { min: 60_000, text: 'L ≥ 60,000 rows/s on this machine' },
  vsConsumeP: { min: 0.7, text: 'L′ ≥ 0.7 × C′ (the consume limit on @platformatic/kafka)' },
  absoluteP: { min: 50_000, text: 'L′ ≥ 50,000 rows/s on this machine' },
  lakeVsConsume: { min: 0.8, text: 'K ≥ 0.8 × C (the consume limit, same client)' },
};

function ratios(s: Summary) {
  const lc = s.L.rowsPerSec / s.C.rowsPerSec;
  const lw = s.L.rowsPerSec / s.W.rowsPerSec;
  const lpcp = s.Lp.rowsPerSec / s.Cp.rowsPerSec;
  // A variant that was not run (BENCH_LOAD_VARIANTS) has NaN medians: its targets are neither met nor missed.
  const target = (value: number, min: number, text: string) => ({ value, target: text, pass: Number.isFinite(value) ? value >= min : null });
  return {
    throughputLvsC: target(round(lc, 3), TARGETS.vsConsume.min, TARGETS.vsConsume.text),
    absoluteL: target(s.L.rowsPerSec, TARGETS.absolute.min, TARGETS.absolute.text),
    throughputLpvsCp: target(round(lpcp, 3), TARGETS.vsConsumeP.min, TARGETS.vsConsumeP.text),
    absoluteLp: target(s.Lp.rowsPerSec, TARGETS.absoluteP.min, TARGETS.absoluteP.text),
    throughputKvsC: target(round((s.K?.rowsPerSec ?? Number.NaN) / s.C.rowsPerSec, 3), TARGETS.lakeVsConsume.min, TARGETS.lakeVsConsume.text),
    /** No target: L against the write limit, CPU per row against C and C + W, and the steady-state rate against C. */
    diagnostic: {
      throughputLvsW: round(lw, 3),
      steadyLvsC: round((s.L.steadyRowsPerSec ?? Number.NaN) / s.C.rowsPerSec, 3),
      cpuLvsC: round(s.L.cpuUsPerRow / s.C.cpuUsPerRow, 3),
      cpuLvsCplusW: round(s.L.cpuUsPerRow / (s.C.cpuUsPerRow + s.W.cpuUsPerRow), 3),
      /** Serial lower bound on L: one row through C then through W, one after the other (1 / (1/C + 1/W)). */
      serialCW: round(1 / (1 / s.C.rowsPerSec + 1 / s.W.rowsPerSec)),
      /** The same for the platformatic pair, and each client's pair against the other. */
      steadyLpvsCp: round((s.Lp.steadyRowsPerSec ?? Number.NaN) / s.Cp.rowsPerSec, 3),
      cpuLpvsCp: round(s.Lp.cpuUsPerRow / s.Cp.cpuUsPerRow, 3),
      serialCpW: round(1 / (1 / s.Cp.rowsPerSec + 1 / s.W.rowsPerSec)),
      CpvsC: round(s.Cp.rowsPerSec / s.C.rowsPerSec, 3),
      LpvsL: round(s.Lp.rowsPerSec / s.L.rowsPerSec, 3),
    },
  };
}

type Frame = { functionName: string; url: string };
const mdFile = (f: Frame, path: string) => f.url.includes(`/src/${path}`);
const INCLUSIVE: Array<{ label: string; match: (f: Frame) => boolean }> = [
  { label: 'kafkajs (any frame: fetch, record batch decode, consumer loop; not the eachBatch callback)', match: (f) => f.url.includes('node_modules/kafkajs/') },
  { label: '  kafkajs record batch decode (protocol/recordBatch)', match: (f) => f.url.includes('kafkajs/src/protocol/recordBatch/') },
  { label: '@platformatic/kafka (any frame; L′ and C′ only)', match: (f) => f.url.includes('node_modules/@platformatic/kafka/') },
  { label: 'the package\'s platformatic adapter (kafka/platformatic/: fetch loop, record conversion)', match: (f) => mdFile(f, 'kafka/platformatic/') },
  { label: 'Loader.processBatch (the per-record loop)', match: (f) => f.functionName === 'processBatch' && mdFile(f, 'loader/loader') },
  { label: '  decodeRecord (record → row; its self time includes the two JSON.stringify, which V8 does not show as a frame)', match: (f) => f.functionName === 'decodeRecord' && mdFile(f, 'loader/record') },
  { label: '    EventRegistry.decode (protobuf decode + toObject + timestamps)', match: (f) => f.functionName === 'decode' && mdFile(f, 'schema/registry') },
  { label: '  Loader.advance + big() (BigInt offsets)', match: (f) => (f.functionName === 'big' || f.functionName === 'advance') && mdFile(f, 'loader/loader') },
  { label: 'DuckDB adapter (any frame in warehouse/duckdb/: appender loop, offsets queries, commit)', match: (f) => mdFile(f, 'warehouse/duckdb') },
  { label: '@duckdb/node-api (appender calls, queries)', match: (f) => f.url.includes('node_modules/@duckdb/') },
  { label: 'pino (logging)', match: (f) => f.url.includes('node_modules/pino') },
];

/** Names the loader's and the warehouse adapter's frames (benchmarks/lib/cpuprofile.ts knows only the publisher's). */
function relabel(s: ProfileSummary): ProfileSummary {
  const name = (c: string) =>
    /^other \((loader)\//.test(c)
      ? 'multidispatch: loader (loader/)'
      : /^other \((duckdb)\//.test(c)
        ? 'multidispatch: DuckDB adapter (warehouse/duckdb/)'
        : c === 'multidispatch: validate + encode (schema/)'
          ? 'multidispatch: schema registry (schema/)'
          : c;
  return relabelComponents(s, name);
}

await main();
