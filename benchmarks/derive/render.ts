/** The derive section of docs/benchmarks.md, from benchmarks/results/derive.json. */
import type { ProfileSummary } from '../lib/cpuprofile.js';
import { machineTable, measuredLine, notesSection, type MachineSummary } from '../lib/render.js';

type GroupBy = 'key' | 'market' | 'join' | 'restaurant' | 'users';
/** One implementation × group-by: medians over its runs; run.ts builds it (summarise) and this file renders it. */

/**
 * D/K events/s target per benchmark: issue 12 raised derive's (both clients) from issue 9's 1.0× to 1.2× on every
 * variant; derive-hc keeps its own 1.0×.
 */
export function throughputTarget(benchmark: string): { ratio: number; text: string } {
  return benchmark === 'derive-hc'
    ? { ratio: 1.0, text: 'D ≥ 1.0 × K in events/s' }
    : { ratio: 1.2, text: 'D ≥ 1.2 × K in events/s on every variant (issue 12; issue 9 asked for 1.0×)' };
}

export interface SummaryRow {
  impl: 'D' | 'K';
  groupBy: GroupBy;
  runs: number;
  failed: number;
  n: number;
  eventsPerSec: number;
  eventsPerSecRange: [number, number];
  steadyEventsPerSec: number;
  cpuUsPerEvent: number;
  cpuUsPerEventRange: [number, number];
  peakRssMiB: number;
  brokerCpuUsPerEvent: number;
  firstCommitMs: number;
  elapsedMs: number;
  startMs: number;
  outputRecords: number;
  /** Median events dropped as late: K — Streams' dropped-records-total; D — DeriveRunner stats.lateDropped. */
  lateDropped: number;
  /** D: median DeriveRunner stats.repartitioned (metric inputs sent through `<group>-repartition`). */
  repartitioned?: number;
  otherCpuCores: number;
  checks: string;
}
interface Run {
  impl: 'D' | 'K';
  groupBy: GroupBy;
  repetition: number;
  failure?: string;
  elapsedMs?: number;
  eventsPerSec?: number;
  steadyEventsPerSec?: number;
  firstCommitMs?: number;
  cpuUsPerEvent?: number;
  peakRssMiB?: number;
  brokerCpuUsPerEvent?: number;
  otherCpuCores?: number;
  stealCores?: number;
  startMs?: number;
  d?: { consumed: number; produced: number; cpuUserMs: number; cpuSystemMs: number; consumedAllMs?: number; lateDropped?: number; lateDroppedAtTimed?: number; repartitioned?: number };
  k?: { processed?: number; dropped?: number; exit: string };
  threads?: ThreadShare[];
  output?: { records: number; windows: number; total: number; digest: string };
  check: string;
  checkText?: string;
}
interface ThreadShare {
  cls: string;
  cpuS: number;
  percent: number;
}
type Profile = ProfileSummary & { file: string; run: Run };
interface Diff {
  same: boolean;
  onlyInA: number;
  onlyInB: number;
  differing: number;
  aMinusB: number;
}
interface Results {
  /** `derive` or `derive-hc`. */
  benchmark?: string;
  generatedAt: string;
  durationS: number;
  machine: MachineSummary & { java: string; kafkaStreams: string };
  loadAvgAtEnd?: number[];
  /** Modification time of dist/src/index.js at the start and the end of the run. */
  dist?: { builtAtStart: string; builtAtEnd: string };
  method: {
    partitions: number; dClient?: 'kafkajs' | 'platformatic'; n: number; keys: number; idleMs?: number; restaurants?: number; hcRestaurants?: { restaurant: number; users: number }; hcUsers?: number; regions?: number; cpuProfIntervalUs?: number; spanMinutes: Record<GroupBy, number>; jitterS: number; repetitions: number; commitIntervalMs: number; groupBys: GroupBy[];
    warmup: boolean; streamsEmit: string; streamsThreads: number; jvmArgs: string[]; pollMs: number; metrics: Record<GroupBy, string>; kafkaBroker: string; flushRecordsPerRun: number;
  };
  prefill: Record<string, { publishMs: number; records: number; topic: string }>;
  profiles?: Record<string, Profile>;
  threadSplit?: Record<string, ThreadShare[]>;
  summary: Record<string, SummaryRow>;
  ratios: Record<string, { throughputDvsK: { value: number; target: string; pass: boolean }; steadyDvsK: number; cpuDvsK: number }>;
  agreement: Record<string, { reference?: string; digests: Record<string, string[]>; same: boolean; diffs: Record<string, Diff> }>;
  runs: Run[];
  warmups: Run[];
}

const int = (x: number | undefined) => (x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fix = (x: number | undefined, d: number) => (x !== undefined && x !== null && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const DESC: Record<GroupBy, { D: string; K: string }> = {
  key: {
    D: "`groupBy: ['order_id']` (the key field of OrderPlaced): the runner aggregates it in the source task, with no repartition round trip (like `groupByKey`); the \"repartitioned\" column shows what the runner reported",
    K: '`groupByKey()`: no repartition',
  },
  market: {
    D: "`groupBy: ['market']` (decoded from the protobuf value): source tasks send each input through `<group>-repartition` to the aggregate task of its group; an aggregate task's stream time is the smallest watermark of the source partitions (sent through the repartition topic after the data)",
    K: '`map` to (market read from the protobuf value with `CodedInputStream`, field 4, other fields skipped; empty value) → `groupByKey` → repartition topic `…-by-market-repartition`',
  },
  restaurant: {
    D: "`groupBy: ['restaurant_id']` (decoded from the value): source tasks send each input through `<group>-repartition` to the aggregate task of its restaurant; one open window per restaurant and window, each closed and emitted once",
    K: '`map` to (restaurant_id read with `CodedInputStream`, field 3; empty value) → `groupByKey` → repartition topic `…-by-restaurant-repartition` → `count()`',
  },
  users: {
    D: "`groupBy: ['restaurant_id']`, `aggregate: { kind: 'countDistinct', field: 'context.user_id' }` (HyperLogLog, sparse while small: exact up to 1,024 distinct values bar 32-bit hash collisions), through `<group>-repartition`",
    K: "`map` to (restaurant_id, user id — field 1 of field 2 — as bytes) → `groupByKey` → repartition → `aggregate` into the window's exact set of user ids (a byte array of length-prefixed ids, RocksDB window store) → `mapValues` to the set's size",
  },
  join: {
    D: "`join: { restaurant: 'restaurant_id' }, groupBy: ['restaurant.region']` with `tables: [{ name: 'restaurant', from: 'restaurants.v1.RestaurantProfile', global: true }]` and `tableTopics: { restaurant: <table topic> }`: the runner reads the whole table topic (decoding every row) before it processes input; source tasks look the restaurant up, and send each input through `<group>-repartition` to the aggregate task of its region",
    K: '`globalTable(<table topic>)` (values kept as bytes) → `stream.join(globalTable, restaurant_id read from the order value with `CodedInputStream` (field 3), the joiner reads the region from the row (field 3))` (inner join) → `map` to (region, empty value) → `groupByKey` → repartition topic `…-by-region-repartition`',
  },
};

export function render(raw: unknown, root: string): string {
  const r = raw as Results;
  const m = r.machine;
  const me = r.method;
  const out: string[] = [];
  const allRuns = [...r.warmups, ...r.runs];
  const badChecks = r.runs.filter((x) => x.check !== 'ok');
  const mismatches = Object.entries(r.agreement).filter(([, a]) => !a.same);
  out.push(
    measuredLine(r.generatedAt, r.durationS, r.benchmark ?? 'derive'),
    '',
  );
  if (r.dist && r.dist.builtAtEnd !== r.dist.builtAtStart) {
    out.push(`> **Warning:** dist/ was rebuilt during the run (${r.dist.builtAtStart} → ${r.dist.builtAtEnd}): the D runs may not all have measured the same build.`, '');
  }
  if (badChecks.length > 0 || mismatches.length > 0) {
    out.push(
      `> **CORRECTNESS WARNING:** ${badChecks.length > 0 ? `${badChecks.map((x) => `${x.impl}:${x.groupBy}#${x.repetition}`).join(', ')} did not count every event exactly once (${badChecks.map((x) => x.checkText ?? x.failure ?? '?').join(' / ')}). ` : ''}${mismatches.length > 0 ? `The per-window counts differ between runs for: ${mismatches.map(([g]) => g).join(', ')} (see "Same results?").` : ''} The throughput figures of those runs are shown, but they are not of the same work.`,
      '',
    );
  }
  out.push(
    ...machineTable(m, r.loadAvgAtEnd, `${m.kafka ?? 'n/a'} (${me.kafkaBroker}); kafka-streams ${m.kafkaStreams}`, [
      ['Java', `${m.java} (JVM defaults${me.jvmArgs.length > 0 ? ` plus ${me.jvmArgs.join(' ')}` : ''})`],
    ]),
    '### Method',
    '',
    `The metric: a count of \`orders.v1.OrderPlaced\` (\`users\`: a count of distinct users) per group in 5-minute tumbling windows, grace 1 minute, event time from the \`md-occurred-at\` header, exactly-once, commit interval ${int(me.commitIntervalMs)} ms in both.`,
    '',
    `- **D** — multidispatch: \`new DeriveRunner({ kafka, schema, metrics: defineMetrics(schema, [{ name, from: 'orders.v1.OrderPlaced', groupBy, window: tumbling('5m', { grace: '1m' }) }]), group, topics, metricsTopic, alertsTopic, idleMs: ${me.idleMs ?? 0}, commitIntervalMs: ${me.commitIntervalMs} })\`, in a node child process (multidispatch as built in dist/). Emits one final value per window when it closes.`,
    `- **K** — the same metric as a Kafka Streams ${m.kafkaStreams} application (\`benchmarks/derive/streams-app\`), \`processing.guarantee=exactly_once_v2\`, \`commit.interval.ms=${me.commitIntervalMs}\`, ${me.streamsThreads} stream thread, a \`TimestampExtractor\` parsing the header, \`TimeWindows.ofSizeAndGrace(5 min, 1 min)\`, \`count()\` (RocksDB window store, record cache on, default size), emit ${me.streamsEmit === 'update' ? 'on update (the default: the cache forwards the latest count of each window touched at each commit; the last one per window is its result)' : 'on window close'}; in a java child process.`,
    ...me.groupBys.map((g) => `- Group by **${g}** (metric \`${me.metrics[g]}\`): D — ${DESC[g].D}; K — ${DESC[g].K}.`),
    ...(me.groupBys.includes('restaurant') || me.groupBys.includes('users')
      ? [`- **High cardinality:** the orders of \`restaurant\` draw their \`restaurant_id\` from ${int(me.hcRestaurants?.restaurant)} restaurants, those of \`users\` from ${int(me.hcRestaurants?.users)} restaurants and their \`context.user_id\` from ${int(me.hcUsers)} users (an integer hash of the event number). For \`users\` the check is the sum over (restaurant, window) of the distinct users, counted by hand from the same plan, instead of N.`]
      : []),
    ...(me.groupBys.includes('join') ? [`- **Join table:** a compacted topic with 1 partition, pre-filled once with the publisher (\`topics: { 'restaurants.v1': <topic> }\`): ${int(me.restaurants)} \`RestaurantProfile\` rows keyed by \`restaurant_id\`, in ${int(me.regions)} regions (25 restaurants each); the join input's orders draw their \`restaurant_id\` from those ${int(me.restaurants)}, so no join misses. Both read the whole table inside the timed phase (D before it consumes input, K's global thread before it reaches RUNNING).`] : []),
    `- D's Kafka client: **${me.dClient ?? 'kafkajs'}** (the port's adapter; \`kafka.client\`).`,
    `- Input: one topic per group-by, ${me.partitions} partitions, pre-filled once before any run with the real publisher (\`createPublisher\`, \`statsd: false\`): **${int(me.n)} OrderPlaced events** keyed by \`order_id\` (${int(me.keys)} distinct ids), event times spread evenly over ${me.groupBys.map((g) => `${me.spanMinutes[g]} min (${g})`).join(' / ')}, each moved by up to ±${me.jitterS} s. Publishing took ${me.groupBys.map((g) => `${fix((r.prefill[g]?.publishMs ?? Number.NaN) / 1000, 1)} s`).join(' / ')} (not part of any figure).`,
    `- Each run: a fresh consumer group / \`application.id\`, a fresh output topic (1 partition) and a fresh, empty "flush" topic co-partitioned with the input that both read as a second input. ${me.warmup ? 'One discarded D and K run (group by key) came first (broker, page cache). ' : ''}Every run is a fresh process: **the JIT is cold in every run, for node and for the JVM alike**; the "steady" column leaves start-up out. ${me.repetitions} repetitions per implementation and group-by, D and K alternating which goes first; figures are medians over the runs whose timed phase completed.`,
    `- **Timed phase:** from "go" (the process is up and set up: modules loaded / JVM started and topology built) until the group's committed offsets reach the end of every input partition **and** of every partition of the group's repartition topics (end − 1: the last record is a transaction marker; not for D grouped by key, whose repartition topic carries only the runner's watermarks — checked after the run: \`stats.repartitioned\` must be 0), polled with the admin API every ${me.pollMs} ms — the same criterion for both. Events/s = N ÷ that time. "Steady" = the events committed after the first commit seen ÷ (first commit seen → done). Both commit once per interval, so "done" is seen up to one commit interval plus a poll late, for both alike.`,
    '- CPU per event: user + system time of the child process (all its threads: node\'s or the JVM\'s — JIT compiler, GC, RocksDB) from /proc/<pid>/stat over the timed phase ÷ N. Broker: the broker JVM over the same phase. Peak RSS: VmHWM of the child.',
    `- **Check (untimed, after the timed phase):** ${me.flushRecordsPerRun} flush records (every partition × every market × 4 order ids, event time a minute ago, i.e. past the end + grace of every real window) are written to the run's flush topic and consumed, so every real window closes; then the output topic is read back (read_committed). D: the final values (DerivedMetric protobuf, \`decodeMetric\`), added up per (group, window); K: the last count per windowed key. The counts must add up to N minus the events each reports as dropped late (K: Streams' \`dropped-records-total\`; D: \`DeriveRunner.stats.lateDropped\`, read after \`stop()\`), no event may be dropped late, and the per-window counts must be identical in every run of both (compared window by window with the first K run).`,
    '',
    '### Results',
    '',
    '| | events/s (min–max) | steady events/s | process CPU µs/event (min–max) | peak RSS | broker CPU µs/event | go → first commit seen | go → done | output records | late-dropped | repartitioned | other processes (cores) | checks ok |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const g of me.groupBys) {
    for (const impl of ['D', 'K'] as const) {
      const x = r.summary[`${impl}:${g}`];
      if (!x) continue;
      out.push(
        `| **${impl}** by ${g} | **${int(x.eventsPerSec)}** (${int(x.eventsPerSecRange[0])}–${int(x.eventsPerSecRange[1])}) | ${int(x.steadyEventsPerSec)} | **${fix(x.cpuUsPerEvent, 1)}** (${fix(x.cpuUsPerEventRange[0], 1)}–${fix(x.cpuUsPerEventRange[1], 1)}) | ${int(x.peakRssMiB)} MiB | ${fix(x.brokerCpuUsPerEvent, 1)} | ${int(x.firstCommitMs)} ms | ${int(x.elapsedMs)} ms | ${int(x.outputRecords)} | ${int(x.lateDropped)} | ${impl === 'D' ? int(x.repartitioned) : 'n/a'} | ${fix(x.otherCpuCores, 2)} | ${x.checks} |`,
      );
    }
  }
  out.push(
    '',
    '<details><summary>Every run</summary>',
    '',
    '| run | events/s | steady | CPU µs/event | peak RSS | go → first commit / done (ms) | output records / windows / total | late-dropped / repartitioned | check | other processes / steal (cores) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|--:|',
  );
  for (const x of allRuns) {
    const id = `${x.impl}:${x.groupBy}#${x.repetition < 0 ? 'warm-up' : x.repetition}`;
    out.push(
      x.eventsPerSec !== undefined
        ? `| ${id} | ${int(x.eventsPerSec)} | ${int(x.steadyEventsPerSec)} | ${fix(x.cpuUsPerEvent, 1)} | ${int(x.peakRssMiB)} MiB | ${int(x.firstCommitMs)} / ${int(x.elapsedMs)} | ${x.output ? `${int(x.output.records)} / ${int(x.output.windows)} / ${int(x.output.total)}` : 'n/a'} | ${int(x.impl === 'K' ? x.k?.dropped : x.d?.lateDropped)} / ${x.impl === 'D' ? int(x.d?.repartitioned) : 'n/a'} | ${x.check}${x.checkText ? `: ${x.checkText}` : ''}${x.failure ? `; failed: ${x.failure.split('\n')[0]}` : ''} | ${fix(x.otherCpuCores, 2)} / ${fix(x.stealCores, 2)} |`
        : `| ${id} | failed: ${(x.failure ?? '?').split('\n')[0]} | | | | | | | | |`,
    );
  }
  out.push('', '</details>', '');
  const busy = r.runs.filter((x) => (x.otherCpuCores ?? 0) >= 0.2 || (x.stealCores ?? 0) >= 0.1);
  if (busy.length > 0) {
    out.push(
      `> **Warning:** ${busy.map((x) => `${x.impl}:${x.groupBy}#${x.repetition}`).join(', ')} ran while other processes used ≥ 0.2 cores (or the hypervisor stole ≥ 0.1 cores) of the ${m.cores}: those figures are pessimistic, and unevenly so.`,
      '',
    );
  }

  out.push('### Same results?', '');
  for (const g of me.groupBys) {
    const a = r.agreement[g];
    if (!a) continue;
    if (a.same) {
      out.push(`- **${g}: yes** — every run of D and K produced the same per-window counts (digest \`${Object.keys(a.digests)[0]}\`).`);
    } else {
      out.push(`- **${g}: NO** — the per-window counts differ (${Object.entries(a.digests).map(([d, who]) => `\`${d}\`: ${who.join(', ')}`).join('; ')}). Against ${a.reference ?? 'n/a'}:`);
      for (const [who, d] of Object.entries(a.diffs)) if (!d.same) out.push(`  - ${who}: ${int(d.onlyInA)} windows only in ${who}, ${int(d.onlyInB)} only in ${a.reference}, ${int(d.differing)} with different counts; total ${d.aMinusB >= 0 ? '+' : ''}${int(d.aMinusB)} events.`);
    }
  }
  out.push('');

  const target = throughputTarget(r.benchmark ?? 'derive');
  out.push('### Against the target', '', `Target from the issue, stated before measuring: ${target.text}.`, '', '| | D / K events/s | target | | D / K steady | D / K CPU per event |', '|---|--:|---|---|--:|--:|');
  for (const g of me.groupBys) {
    const x = r.ratios[g];
    if (!x) continue;
    // Judged against the target in force now, whatever the run stored (results written before issue 12 say 1.0).
    out.push(`| by ${g} | ${fix(x.throughputDvsK.value, 2)}× | ≥ ${fix(target.ratio, 1)}× | ${x.throughputDvsK.value >= target.ratio ? '**MET**' : '**MISS**'}${r.agreement[g]?.same ? '' : ' (results differ: not the same work)'} | ${fix(x.steadyDvsK, 2)}× | ${fix(x.cpuDvsK, 2)}× |`);
  }
  out.push('');

  const ts = r.threadSplit;
  if (ts && Object.keys(ts).length > 0) {
    out.push(
      '### Where the time goes',
      '',
      "**CPU per thread** over the timed phase, from /proc/<pid>/task/*/stat (user + system), summed over the measured runs of each; K's threads are named after its `client.id` \"K\" (`K-StreamThread-1` does all the processing, `K-GlobalStreamThread` reads the table). Threads that ended during the phase are counted in the process total only.",
      '',
      '| | thread classes: share of the process CPU (CPU s) |',
      '|---|---|',
    );
    for (const g of me.groupBys) {
      for (const impl of ['D', 'K'] as const) {
        const x = ts[`${impl}:${g}`];
        if (x) out.push(`| **${impl}** by ${g} | ${x.map((t) => `${t.cls} ${fix(t.percent, 0)}% (${fix(t.cpuS, 1)})`).join('; ')} |`);
      }
    }
    out.push('');
  }
  const profs = Object.entries(r.profiles ?? {});
  if (profs.length > 0) {
    const pct = (x: number) => `${fix(x, 1)}%`;
    out.push(
      `**D's main thread, profiled:** one extra D run per variant (not in the tables above) under \`node --cpu-prof --cpu-prof-interval=${me.cpuProfIntervalUs ?? 250}\`, cut to the timed phase (go → the end of the input committed). The profile samples the JavaScript thread only (GC shows as "garbage collector"; V8's helper threads and the kernel's network work are not in it). \`JSON.parse\`/\`JSON.stringify\` do not appear as frames: their time is in their caller's self time. Native frames and node core are charged to the nearest library or multidispatch caller. Read it for proportions: the profiler slows the run down.`,
      '',
    );
    for (const [g, p] of profs) {
      const run = p.run;
      out.push(
        `- **by ${g}:** ${int(p.samples)} samples, ${int(p.busyMs)} ms busy, ${int(p.idleMs)} ms idle${p.windowApplied ? '' : ' (**the cut to the timed phase failed; whole process shown**)'}; under the profiler: ${int(run.eventsPerSec)} events/s, ${fix(run.cpuUsPerEvent, 1)} µs CPU/event, check ${run.check}. Saved as \`${p.file}\` (git-ignored).`,
        `  - By component: ${p.components.slice(0, 9).map((c) => `${c.component} ${pct(c.percent)}`).join('; ')}.`,
        `  - Inclusive: ${p.inclusive.filter((i) => i.ms > 0).map((i) => `${i.label.trim()} ${pct(i.percent)}`).join('; ')}.`,
        `  - Top self time: ${p.topSelf.slice(0, 10).map((t) => `\`${t.name}\` (${t.where}) ${pct(t.percent)}`).join('; ')}.`,
      );
    }
    out.push('');
  }

  out.push(...notesSection(root, r.benchmark ?? 'derive', 'Notes', r.generatedAt, 'the figures they quote may differ from the tables.'));
  return out.join('\n');
}
