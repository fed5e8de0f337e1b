/** The load section of docs/benchmarks.md, from benchmarks/results/load.json. */
import { machineTable, measuredLine, notesSection, type MachineSummary } from '../lib/render.js';

type V = 'C' | 'Cp' | 'W' | 'L' | 'Lp' | 'K';
const ORDER: V[] = ['C', 'Cp', 'W', 'L', 'Lp', 'K'];
const NAME: Record<V, string> = { C: 'C', Cp: 'C′', W: 'W', L: 'L', Lp: 'L′', K: 'K' };
const LOADERS: V[] = ['L', 'Lp'];
/** Results files from before C′ and L′ existed have no row for them; a run with BENCH_LOAD_VARIANTS has rows with 0 runs. */
const ran = (x: SummaryRow | undefined): x is SummaryRow => x !== undefined && x.runs > 0;
/** One variant's medians over its repetitions; run.ts builds it (summarise) and this file renders it. */
export interface SummaryRow {
  runs: number;
  n: number;
  rowsPerSec: number;
  rowsPerSecRange: [number, number];
  cpuUsPerRow: number;
  cpuUsPerRowRange: [number, number];
  maxRssMiB: number;
  fetchBatches: number;
  transactions: number;
  brokerCpuUsPerRow: number;
  otherCpuCores: number;
  stealCores: number;
  checks: string;
  startToFirstFetchMs?: number;
  firstCommitMs?: number;
  caughtUpMs?: number;
  runOnceMs?: number;
  steadyRowsPerSec?: number;
  steadyRowsPerSecRange?: [number, number];
  steadyCpuUsPerRow?: number;
  /** K: the Parquet files of a run (medians over runs). */
  lake?: { files: number; bytes: number; rowsPerFile: [number, number, number]; bytesPerFile: [number, number, number]; compression: string };
}
interface Ratio {
  value: number | null;
  target: string;
  /** null: a variant it needs was not run. */
  pass: boolean | null;
}
interface RunResult {
  n: number;
  rowsPerSec: number;
  cpuUsPerRow: number;
  maxRssMiB: number;
  fetchBatches: number;
  transactions: number;
  elapsedMs: number;
  startToFirstFetchMs?: number;
  firstCommitMs?: number;
  caughtUpMs?: number;
  runOnceMs?: number;
  steadyRowsPerSec?: number;
  check?: { rows: number; distinctPartitionOffset: number; offsetsSum: number; ok: boolean };
  wall?: { inEachBatchMs: number; writeBatchMs: number; writeBatches: number; sql: Record<string, { n: number; ms: number }> };
}
interface Profile {
  file: string;
  n: number;
  busyMs: number;
  idleMs: number;
  samples: number;
  windowApplied: boolean;
  topSelf: Array<{ name: string; where: string; component: string; ms: number; percent: number }>;
  components: Array<{ component: string; ms: number; percent: number }>;
  inclusive: Array<{ label: string; ms: number; percent: number }>;
  run: { result?: RunResult };
}
interface Results {
  generatedAt: string;
  durationS: number;
  machine: MachineSummary;
  loadAvgAtEnd?: number[];
  method: { partitions: number; repetitions: number; n: number; batchRows: number; brokerWarmup: boolean; mix: Record<string, number>; variants: Partial<Record<V, string>>; kafkaBroker: string };
  prefill: { records: number; publishMs: number; payloadBytes: number; rowJsonBytes: number; diskBytes: number; types: Record<string, number>; wallS: number };
  summary: Partial<Record<V, SummaryRow>>;
  ratios: {
    throughputLvsC: Ratio;
    absoluteL: Ratio;
    throughputLpvsCp?: Ratio;
    absoluteLp?: Ratio;
    throughputKvsC?: Ratio;
    diagnostic: {
      throughputLvsW: number;
      steadyLvsC: number;
      cpuLvsC: number;
      cpuLvsCplusW: number;
      serialCW: number;
      steadyLpvsCp?: number;
      cpuLpvsCp?: number;
      serialCpW?: number;
      CpvsC?: number;
      LpvsL?: number;
    };
  };
  runs: Array<{ variant: V; repetition: number; result?: RunResult; failure?: string; check: string; brokerCpuUsPerRow: number; otherCpuCores: number; stealCores: number }>;
  profiles?: Partial<Record<V, Profile>>;
}

const int = (x: number | null | undefined) => (typeof x !== 'number' || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fix = (x: number | null | undefined, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function render(raw: unknown, root: string): string {
  const r = raw as Results;
  const m = r.machine;
  const s = r.summary;
  const pf = r.prefill;
  const out: string[] = [];
  const mixTotal = Object.values(r.method.mix).reduce((a, b) => a + b, 0);
  out.push(
    measuredLine(r.generatedAt, r.durationS, 'load'),
    '',
    ...machineTable(m, r.loadAvgAtEnd, `${m.kafka ?? 'n/a'} (${r.method.kafkaBroker})`),
    '### Method',
    '',
    ...ORDER.map((v) => `- **${NAME[v]}** — ${r.method.variants[v] ? `${r.method.variants[v]}.` : 'not run (this results file is from before the variant existed).'}`),
    `- Topic: ${r.method.partitions} partitions, pre-filled once before any timed run with the real publisher (\`createPublisher\`, \`statsd: false\`): **${int(pf.records)} records**, ${mib(pf.payloadBytes)} of key + value + headers (${int(pf.payloadBytes / pf.records)} B/record: protobuf value plus the five envelope headers), ${mib(pf.diskBytes)} of log segments on the broker; the rows they become are ${int(pf.rowJsonBytes / pf.records)} B of metadata + content JSON each. Event types (all seven of orders.v1, out of every ${mixTotal}): ${Object.entries(r.method.mix).map(([t, w]) => `${t.replace('orders.v1.', '')} ${w}`).join(', ')}. Publishing took ${fix(pf.publishMs / 1000, 1)} s (not part of any figure).`,
    `- ${r.method.brokerWarmup ? 'Before the first measured run, one discarded C run reads the whole topic (broker JIT, page cache). ' : ''}${r.method.repetitions} repetitions per variant, interleaved (${r.method.variants.Cp ? 'order C C′ W L L′, then C′ W L L′ C, and so on' : 'order C W L, then W L C, then L C W'}); each run is its own child process (fresh JIT and heap, \`--expose-gc\`, one \`gc()\` before timing) with a fresh consumer group and, for W and the loader runs, a fresh DuckDB file; figures are the median over repetitions, each column taken separately.`,
    '- Rows/s: C — rows ÷ time from the first `eachBatch` call to the last record decoded (group join excluded); C′ — the same from the first message the stream hands over (`consume()`, which joins the group and looks up the offsets, excluded); W — rows ÷ time from the first `BEGIN` to the last `COMMIT`; L and L′ — rows ÷ time from `runOnce()` (i.e. `start()`) to the commit of the batch that caught up with the end offsets (everything the loader does to start — DuckDB open, table and views, Kafka admin/producer/consumer connect, group join — is inside). L and L′ are also shown from their first fetch (the first `eachBatch` call: kafkajs\'s for L, the platformatic adapter\'s for L′) to caught up ("steady"), the same window as C and C′.',
    '- Client CPU µs/row: `process.cpuUsage()` of the child process over the same window (user + system, all threads, DuckDB\'s worker threads included), ÷ rows. Peak RSS sampled every 100 ms. Broker CPU: the broker JVM over the run, from /proc.',
    `- Correctness, every L and L′ run: afterwards the DuckDB table must hold exactly ${int(r.method.n)} rows with ${int(r.method.n)} distinct (partition, offset), the stored offsets must sum to ${int(r.method.n)} (every partition at its end offset), and the loader must report ${int(r.method.n)} rows loaded; a run that fails this is marked failed and left out of the medians.`,
    '',
    '### Results',
    '',
    '| Variant | rows | rows/s (min–max) | client CPU µs/row (min–max) | peak RSS | fetch batches | DuckDB transactions | broker CPU µs/row | other processes (median) / steal (max), cores | L, L′ checks ok |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const v of ORDER) {
    const x = s[v];
    if (!ran(x)) {
      out.push(`| **${NAME[v]}** | not run | | | | | | | | |`);
      continue;
    }
    out.push(
      `| **${NAME[v]}** | ${int(x.n)} | **${int(x.rowsPerSec)}** (${int(x.rowsPerSecRange[0])}–${int(x.rowsPerSecRange[1])}) | **${fix(x.cpuUsPerRow, 2)}** (${fix(x.cpuUsPerRowRange[0], 2)}–${fix(x.cpuUsPerRowRange[1], 2)}) | ${int(x.maxRssMiB)} MiB | ${v === 'W' ? '—' : `${int(x.fetchBatches)}${v === 'Cp' ? ' (responses)' : ''}`} | ${v === 'C' || v === 'Cp' ? '—' : int(x.transactions)} | ${v === 'W' ? '—' : fix(x.brokerCpuUsPerRow, 2)} | ${fix(x.otherCpuCores, 2)} / ${fix(x.stealCores, 2)} | ${LOADERS.includes(v) ? x.checks : '—'} |`,
    );
  }
  if (ran(s.Cp)) out.push('', 'C′ has no batches: its "fetch batches" are the fetch responses of platformatic\'s message stream (one per broker per fetch, all partitions in one), the others\' are `eachBatch` calls (one per partition per fetch).');
  out.push('');
  for (const v of LOADERS) {
    const L = s[v];
    if (!ran(L)) continue;
    out.push(
      `${NAME[v]} in time (medians): first fetch after **${int(L.startToFirstFetchMs)} ms**, first committed batch after **${int(L.firstCommitMs)} ms**, caught up after ${int(L.caughtUpMs)} ms, \`runOnce()\` resolved (consumer, producer and admin disconnected, DuckDB closed) after ${int(L.runOnceMs)} ms. From the first fetch to caught up ("steady"): **${int(L.steadyRowsPerSec)} rows/s** (${int(L.steadyRowsPerSecRange?.[0])}–${int(L.steadyRowsPerSecRange?.[1])}), ${fix(L.steadyCpuUsPerRow, 2)} µs CPU/row.`,
      '',
    );
  }
  out.push(
    '<details><summary>Every run</summary>',
    '',
    '| run | rows/s | CPU µs/row | peak RSS | fetch batches | transactions | L, L′: first fetch / first commit / caught up / runOnce (ms) | L, L′: steady rows/s | L, L′: check (rows, distinct, offsets) | other processes / steal (cores) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const run of r.runs) {
    const x = run.result;
    const name = NAME[run.variant] ?? run.variant;
    const loader = LOADERS.includes(run.variant);
    out.push(
      x
        ? `| ${name}#${run.repetition} | ${int(x.rowsPerSec)} | ${fix(x.cpuUsPerRow, 2)} | ${int(x.maxRssMiB)} MiB | ${int(x.fetchBatches)} | ${int(x.transactions)} | ${loader ? `${int(x.startToFirstFetchMs)} / ${int(x.firstCommitMs)} / ${int(x.caughtUpMs)} / ${int(x.runOnceMs)}` : '—'} | ${loader ? int(x.steadyRowsPerSec) : '—'} | ${x.check ? `${run.check} (${int(x.check.rows)}, ${int(x.check.distinctPartitionOffset)}, ${int(x.check.offsetsSum)})` : '—'} | ${fix(run.otherCpuCores, 2)} / ${fix(run.stealCores, 2)} |${run.failure ? ` failed: ${run.failure}` : ''}`
        : `| ${name}#${run.repetition} | failed: ${run.failure ?? '?'} | | | | | | | | |`,
    );
  }
  out.push('', '</details>', '');
  const busy = r.runs.filter((run) => run.otherCpuCores >= 0.2 || run.stealCores >= 0.1);
  if (busy.length > 0) {
    out.push(
      `> **Warning:** ${busy.map((run) => `${NAME[run.variant] ?? run.variant}#${run.repetition}`).join(', ')} ran while other processes used ≥ 0.2 cores (or the hypervisor stole ≥ 0.1): those figures are pessimistic. Medians damp one disturbed repetition, not more.`,
      '',
    );
  }

  out.push(...wallSplit(r));

  const rt = r.ratios;
  const d = rt.diagnostic;
  out.push(
    '### Against the targets',
    '',
    'Targets from the issue, stated before measuring; the benchmark was not tuned to meet them.',
    '',
    '| | measured | target | |',
    '|---|--:|---|---|',
    targetRow('L / C throughput', rt.throughputLvsC, (x) => `${fix(x, 2)}×`, ran(s.L) && ran(s.C)),
    targetRow('L throughput', rt.absoluteL, (x) => `${int(x)} rows/s`, ran(s.L)),
    targetRow('L′ / C′ throughput', rt.throughputLpvsCp ?? { value: null, target: 'L′ ≥ 0.7 × C′ (the consume limit on @platformatic/kafka)', pass: null }, (x) => `${fix(x, 2)}×`, ran(s.Lp) && ran(s.Cp)),
    targetRow('L′ throughput', rt.absoluteLp ?? { value: null, target: 'L′ ≥ 50,000 rows/s on this machine', pass: null }, (x) => `${int(x)} rows/s`, ran(s.Lp)),
    targetRow('K (lake) / C throughput', rt.throughputKvsC ?? { value: null, target: 'K ≥ 0.8 × C (the consume limit, same client)', pass: null }, (x) => `${fix(x, 2)}×`, ran(s.K) && ran(s.C)),
    '',
    ...(s.K?.lake
      ? [
          `Lake files (K, median run): ${int(s.K.lake.files)} Parquet files (${s.K.lake.compression}), ${mib(s.K.lake.bytes)} in all (${fix(s.K.lake.bytes / r.method.n, 1)} B/row, against ${int(pf.rowJsonBytes / pf.records)} B of row JSON); rows per file min / median / max ${int(s.K.lake.rowsPerFile[0])} / ${int(s.K.lake.rowsPerFile[1])} / ${int(s.K.lake.rowsPerFile[2])}; bytes per file ${fix(s.K.lake.bytesPerFile[0] / 1024, 1)} / ${fix(s.K.lake.bytesPerFile[1] / 1024, 1)} / ${fix(s.K.lake.bytesPerFile[2] / 1024, 1)} KiB. A batch writes one file per partition × event type × hour of occurred-at, so files are about batch ÷ (partitions × types × hours) rows: here ${r.method.partitions} partitions × ${Object.keys(r.method.mix).length} types in one hour.`,
          '',
        ]
      : []),
    `No target: L / W throughput ${fix(d.throughputLvsW, 2)}×; L steady (first fetch → caught up) / C ${fix(d.steadyLvsC, 2)}×; L CPU per row ${fix(d.cpuLvsC, 2)}× C's and ${fix(d.cpuLvsCplusW, 2)}× C's + W's; C then W one after the other on one thread would give ${int(d.serialCW)} rows/s (1 / (1/C + 1/W)).`,
    '',
  );
  if (ran(s.Lp) || ran(s.Cp)) {
    out.push(
      `No target, platformatic: L′ steady / C′ ${fix(d.steadyLpvsCp, 2)}×; L′ CPU per row ${fix(d.cpuLpvsCp, 2)}× C′'s; C′ then W one after the other would give ${int(d.serialCpW)} rows/s. Across clients: C′ / C ${fix(d.CpvsC, 2)}×, L′ / L ${fix(d.LpvsL, 2)}×.`,
      '',
    );
  }

  for (const pv of LOADERS) {
    const P = r.profiles?.[pv];
    if (!P) continue;
    const us = (ms: number) => (ms * 1000) / P.n;
    const res = P.run.result;
    out.push(
      `### Where the time goes in ${NAME[pv]} (generated from the profile)`,
      '',
      `One extra ${NAME[pv]} run (not in the table above) under \`node --cpu-prof --cpu-prof-interval=250\`, cut to the timed window (start() → caught up): ${int(P.n)} rows, ${int(P.samples)} samples, ${int(P.busyMs)} ms busy and ${int(P.idleMs)} ms idle main thread${P.windowApplied ? '' : ' (**the cut to the timed phase failed; whole process shown**)'}${res ? `, ${int(res.rowsPerSec)} rows/s and ${fix(res.cpuUsPerRow, 2)} µs CPU/row under the profiler` : ''}. The profile samples the main JavaScript thread only: DuckDB work on its own threads is not in it, native calls into DuckDB made from JavaScript (appender, queries run synchronously) are. Saved as \`${P.file}\` (git-ignored).`,
      '',
      'Main-thread time by component (self time; native and node-core frames charged to the nearest library or application caller):',
      '',
      '| component | µs/row | % of busy |',
      '|---|--:|--:|',
      ...P.components.filter((c) => us(c.ms) >= 0.05).map((c) => `| ${c.component} | ${fix(us(c.ms), 2)} | ${fix(c.percent, 1)} |`),
      `| **total (busy main thread)** | **${fix(us(P.busyMs), 2)}** | 100 |`,
      `| idle (waiting: fetch, DuckDB threads, timers) | ${fix(us(P.idleMs), 2)} | — |`,
      '',
      'Inclusive time of the steps (a sample counts for every listed step on its stack; indented steps are inside the one above):',
      '',
      '| step | µs/row | % of busy |',
      '|---|--:|--:|',
      ...P.inclusive.map((c) => `| ${c.label.replace(/^( +)/, (sp) => '&nbsp;'.repeat(sp.length * 2))} | ${fix(us(c.ms), 2)} | ${fix(c.percent, 1)} |`),
      '',
      'Top functions by self time:',
      '',
      '| function | where | component | µs/row | % of busy |',
      '|---|---|---|--:|--:|',
      ...P.topSelf.slice(0, 20).map((f) => `| \`${f.name}\` | ${f.where} | ${f.component} | ${fix(us(f.ms), 2)} | ${fix(f.percent, 1)} |`),
      '',
    );
  }

  out.push(...notesSection(root, 'load', 'Bottleneck notes', r.generatedAt, 'the figures they quote may differ from the table. Re-read the profile above and update NOTES.md.'));
  return out.join('\n');
}

function targetRow(label: string, t: Ratio, show: (x: number | null) => string, ran: boolean): string {
  if (!ran || t.pass === null) return `| ${label} | not run | ${t.target} | — |`;
  return `| ${label} | ${show(t.value)} | ${t.target} | ${t.pass ? '**PASS**' : '**MISS**'} |`;
}

const med = (xs: number[]): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const h = v.length >> 1;
  return v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
};

/** Wall time per row by stage, medians over the successful runs of each variant (from the child's accounting). */
function wallSplit(r: Results): string[] {
  const ok = (v: V) => r.runs.filter((x) => x.variant === v && x.result?.wall && !x.failure).map((x) => x.result!);
  if (ok('L').length === 0 && ok('Lp').length === 0) return [];
  const cols = ORDER.filter((v) => ok(v).length > 0);
  const sqlMs = (x: RunResult, k: string) => x.wall!.sql[k]?.ms ?? 0;
  const writeSql = (x: RunResult) => ['BEGIN', 'SELECT', 'UPDATE', 'INSERT', 'COMMIT'].reduce((a, k) => a + sqlMs(x, k), 0);
  type Cell = ((x: RunResult) => number) | 'n/a';
  const startUp: Cell = (x) => x.startToFirstFetchMs ?? Number.NaN;
  const outside: Cell = (x) => x.elapsedMs - (x.startToFirstFetchMs ?? 0) - x.wall!.inEachBatchMs;
  const inside: Cell = (x) => x.wall!.inEachBatchMs - x.wall!.writeBatchMs;
  const write: Cell = (x) => x.wall!.writeBatchMs;
  const appender: Cell = (x) => x.wall!.writeBatchMs - writeSql(x);
  const total: Cell = (x) => x.elapsedMs;
  const rows: Array<[string, Partial<Record<V, Cell>>]> = [
    ['start-up: start() → first fetch (DuckDB open, table, views, Kafka connects, group join)', { L: startUp, Lp: startUp }],
    ['outside eachBatch after the first fetch (no batch ready: waiting for a fetch, the client decoding a fetch response)', { C: (x) => x.elapsedMs - x.wall!.inEachBatchMs, Cp: 'n/a', L: outside, Lp: outside }],
    ['inside eachBatch, without the DuckDB write (C: decodeRecord loop; L, L′: the loader\'s per-record loop)', { C: (x) => x.wall!.inEachBatchMs, Cp: 'n/a', L: inside, Lp: inside }],
    ['DuckDB write (L, L′: DuckDbWarehouse.writeBatch, awaited inside eachBatch; W: everything)', { W: (x) => x.elapsedMs, L: write, Lp: write }],
    ['&nbsp;&nbsp;&nbsp;&nbsp;appender: createAppender, appendVarchar × 2, endRow, flushSync, closeSync (the rest of the write)', { W: (x) => x.elapsedMs - writeSql(x), L: appender, Lp: appender }],
    ...(['BEGIN', 'SELECT', 'UPDATE', 'INSERT', 'COMMIT'] as const).map((k) => {
      const f: Cell = (x) => sqlMs(x, k);
      return [`&nbsp;&nbsp;&nbsp;&nbsp;\`${k}\`${k === 'SELECT' ? ' (offsets read-back for the compare-and-set; L also reads offsets twice at start)' : k === 'UPDATE' || k === 'INSERT' ? ' (offsets)' : ''}`, { W: f, L: f, Lp: f }] as [string, Partial<Record<V, Cell>>];
    }),
    ['**total: the timed window**', { C: total, Cp: total, W: total, L: total, Lp: total }],
  ];
  const cell = (v: V, f: Cell | undefined) => {
    if (!f) return '—';
    if (f === 'n/a') return 'n/a';
    const xs = ok(v).map((x) => (f(x) * 1000) / x.n);
    return fix(med(xs), 2);
  };
  const count = (v: V, k: string) => med(ok(v).map((x) => x.wall!.sql[k]?.n ?? 0));
  const loaderStatements = (v: V) =>
    ok(v).length === 0
      ? []
      : [`${NAME[v]} — ${['BEGIN', 'SELECT', 'UPDATE', 'INSERT', 'COMMIT'].map((k) => `${int(count(v, k))} ${k}`).join(', ')} in ${int(med(ok(v).map((x) => x.wall!.writeBatches)))} writeBatch calls`];
  return [
    '### Where the wall time goes (measured in every run)',
    '',
    `Wall-clock time of the timed window per row, split by stage from timers in the child process (the eachBatch callbacks, \`DuckDbWarehouse.writeBatch\` and every awaited DuckDB statement are wrapped), medians over the runs. This is wall time, not CPU: kafkajs 2 fetches in the background, and its main-thread work (decoding fetch responses) runs whenever the callback awaits (e.g. a DuckDB statement), so it is charged to whatever stage was waiting. In L the callback awaits each DuckDB transaction before its next record (one lock, one batch at a time).${ok('Lp').length > 0 || ok('Cp').length > 0 ? ' L′\'s eachBatch is the platformatic adapter\'s, timed the same way; the adapter fetches between batches (one round of fetches, then their batches, then the next round), not in the background. C′ has no eachBatch (platformatic\'s stream hands over one message at a time, and timing each would cost more than it measures), so only its total is given.' : ''}`,
    '',
    `| stage | ${cols.map((v) => `${NAME[v]} µs/row`).join(' | ')} |`,
    `|---|${cols.map(() => '--:|').join('')}`,
    ...rows
      .filter(([label]) => !/`(INSERT)`/.test(label) || cols.reduce((a, v) => a + count(v, 'INSERT'), 0) > 0)
      .map(([label, fs]) => `| ${label} | ${cols.map((v) => cell(v, fs[v])).join(' | ')} |`),
    '',
    `Statements per run (median): ${[
      ...(ok('W').length > 0 ? [`W — ${['BEGIN', 'UPDATE', 'COMMIT'].map((k) => `${int(count('W', k))} ${k}`).join(', ')}`] : []),
      ...loaderStatements('L'),
      ...loaderStatements('Lp'),
    ].join('; ')}.`,
    '',
  ];
}
