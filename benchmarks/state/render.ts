/** The state section of docs/benchmarks.md, from benchmarks/results/state.json. */
import { machineTable, measuredLine, notesSection, type MachineSummary } from '../lib/render.js';
import type { ChildResult } from './child.js';

interface Results {
  generatedAt: string;
  durationS: number;
  method: { sizes: number[]; commits: number; baselineCommits: number; changedPerCommit: number; targets: { restoreKeysPerSec: number; resumeMsAt1M: number; peakRssMiBAt1M: number } };
  machine: MachineSummary;
  kafka: string;
  results: ChildResult[];
}

const n = (x: number) => x.toLocaleString('en');
const kb = (b: number) => (b >= 1e6 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

export function render(r: Results, root: string): string {
  const m = r.method;
  const at1M = r.results.find((x) => x.size === 1_000_000);
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const out = [
    measuredLine(r.generatedAt, r.durationS, 'state'),
    '',
    `One derive task (one changelog partition) holding 1k, 100k and 1M live keys (open 5-minute windows, one per restaurant), each size in its own process. A commit is the runner's own path: the engine's changed keys → one record each to a compacted changelog partition in a Kafka transaction (\`sendChunked\`) → the LMDB local store with the offset after them. Steady commits follow ${n(m.changedPerCommit)} events on random existing restaurants; **baseline** in the same run: the whole-state commit (every live key written at every commit, ${m.baselineCommits} commits). Restore: a fresh engine from the changelog alone (latest record per key). Resume: after a clean stop, the LMDB store (a throwaway process first reads it whole, in case it is damaged), the changelog after its checkpoint, the engine.`,
    '',
    '### Commit cost',
    '',
    '| live keys | per-key commit: ms (changes / Kafka / LMDB) | records | bytes | whole-state commit: ms | records | bytes | first commit (every key new) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.results.map((x) => `| ${n(x.liveKeys)} | ${x.perKey.ms} (${x.perKey.changesMs} / ${x.perKey.kafkaMs} / ${x.perKey.localMs}) | ${n(x.perKey.records)} | ${kb(x.perKey.bytes)} | ${n(x.wholeState.ms)} | ${n(x.wholeState.records)} | ${kb(x.wholeState.bytes)} | ${n(x.initial.ms)} ms, ${n(x.initial.records)} records |`),
    '',
    `Medians over ${m.commits} per-key commits and ${m.baselineCommits} whole-state commits. Largest changelog record: ${Math.max(...r.results.map((x) => x.changelogMaxRecordBytes))} bytes.`,
    '',
    '### Restore, resume, memory',
    '',
    '| live keys | restore from the changelog | keys/s | of which: read / engine | resume from the local store | of which: open+probe / load / changelog tail / engine | tail records | peak RSS | RSS, heap at size |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.results.map((x) => `| ${n(x.liveKeys)} | ${n(x.restore.ms)} ms (${n(x.restore.records)} records) | ${n(x.restore.keysPerSec)} | ${n(x.restore.readMs)} / ${n(x.restore.engineMs)} ms | ${n(x.resume.ms)} ms | ${n(x.resume.openMs)} / ${n(x.resume.loadMs)} / ${n(x.resume.tailMs)} / ${n(x.resume.engineMs)} ms | ${n(x.resume.tailRecords)} | ${n(x.peakRssMiB)} MiB | ${n(x.rssAtSizeMiB)} / ${n(x.heapAtSizeMiB)} MiB |`),
    '',
  ];
  if (at1M) {
    out.push(
      '### Targets at 1M live keys',
      '',
      '| target | measured | |',
      '|---|---:|---|',
      `| restore ≥ ${n(m.targets.restoreKeysPerSec)} keys/s | ${n(at1M.restore.keysPerSec)} | ${verdict(at1M.restore.keysPerSec >= m.targets.restoreKeysPerSec)} |`,
      `| resume after a clean stop < ${m.targets.resumeMsAt1M / 1000} s | ${(at1M.resume.ms / 1000).toFixed(1)} s | ${verdict(at1M.resume.ms < m.targets.resumeMsAt1M)} |`,
      `| peak RSS ≤ ${m.targets.peakRssMiBAt1M} MiB | ${n(at1M.peakRssMiB)} MiB | ${verdict(at1M.peakRssMiB <= m.targets.peakRssMiBAt1M)} |`,
      `| commit cost follows changed keys, not live keys | ${at1M.perKey.ms} ms per commit at 1M vs ${r.results[0]!.perKey.ms} ms at ${n(r.results[0]!.liveKeys)} | ${verdict(at1M.perKey.records <= 2 * m.changedPerCommit)} |`,
      '',
    );
  }
  out.push(...machineTable(r.machine, undefined, r.kafka));
  out.push(...notesSection(root, 'state', 'Notes', r.generatedAt, 're-read them against the tables above.'));
  return out.join('\n');
}
