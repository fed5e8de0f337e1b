/** The state section of docs/benchmarks.md, from benchmarks/results/state.json. */
import { machineTable, measuredLine, notesSection, type MachineSummary } from '../lib/render.js';
import type { ChildResult } from './child.js';

interface Results {
  generatedAt: string;
  durationS: number;
  method: { sizes: number[]; commits: number; baselineCommits: number; changedPerCommit: number; cacheKeys?: number; fillCommitKeys?: number; targets: { restoreKeysPerSec: number; resumeMsAt1M: number; peakRssMiBAt1M: number } };
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
    `One derive task (one changelog partition) holding 1k, 100k and 1M live keys (open 5-minute windows, one per restaurant), each size in its own process, run as \`--state-dir\` runs it${m.cacheKeys ? `: windows spilled to the LMDB local store, at most ${n(m.cacheKeys)} cached in memory besides those changed since the last commit, filled with a commit every ${n(m.fillCommitKeys ?? 0)} new keys` : ''}. A commit is the runner's own path: the engine's changed keys → one record each to a compacted changelog partition in a Kafka transaction (\`sendChunked\`) → the LMDB local store with the offset after them. Steady commits follow ${n(m.changedPerCommit)} events on random existing restaurants; **baseline** in the same run: the whole-state commit (every live key written at every commit, ${m.baselineCommits} commits). Restore: from the changelog alone, each batch written to a fresh local store as it is read, then a fresh engine attached to it. Resume: after a clean stop, the LMDB store (a throwaway process first reads it whole, in case it is damaged), the changelog after its checkpoint, a fresh engine attached.`,
    '',
    '### Commit cost',
    '',
    '| live keys | per-key commit: ms (changes / Kafka / LMDB) | records | bytes | whole-state commit: ms | records | bytes | fill: every key new |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.results.map((x) => `| ${n(x.liveKeys)} | ${x.perKey.ms} (${x.perKey.changesMs} / ${x.perKey.kafkaMs} / ${x.perKey.localMs}) | ${n(x.perKey.records)} | ${kb(x.perKey.bytes)} | ${n(x.wholeState.ms)} | ${n(x.wholeState.records)} | ${kb(x.wholeState.bytes)} | ${n(x.initial.ms)} ms, ${n(x.initial.records)} records${x.initial.commits ? ` in ${x.initial.commits} commits` : ''} |`),
    '',
    `Medians over ${m.commits} per-key commits and ${m.baselineCommits} whole-state commits. Largest changelog record: ${Math.max(...r.results.map((x) => x.changelogMaxRecordBytes))} bytes.`,
    '',
    '### Restore, resume, memory',
    '',
    '| live keys | restore from the changelog | keys/s | of which: read+write store / attach | resume from the local store | of which: open+probe / checkpoint / changelog tail / attach | tail records | peak RSS (derive paths; of it anonymous) | of which in the restore | RSS, heap at size | windows in memory at size | read back from disk | peak RSS of the baseline |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.results.map((x) => `| ${n(x.liveKeys)} | ${n(x.restore.ms)} ms (${n(x.restore.records)} records) | ${n(x.restore.keysPerSec)} | ${n(x.restore.readMs)} / ${n(x.restore.engineMs)} ms | ${n(x.resume.ms)} ms | ${n(x.resume.openMs)} / ${n(x.resume.loadMs)} / ${n(x.resume.tailMs)} / ${n(x.resume.engineMs)} ms | ${n(x.resume.tailRecords)} | ${n(x.peakRssMiB)} MiB${x.peakAnonMiB === undefined ? '' : ` (${n(x.peakAnonMiB)})`} | ${x.restore.peakRssMiB === undefined ? '—' : `${n(x.restore.peakRssMiB)} MiB${x.restore.peakAnonMiB === undefined ? '' : ` (${n(x.restore.peakAnonMiB)})`}`} | ${n(x.rssAtSizeMiB)} / ${n(x.heapAtSizeMiB)} MiB | ${x.cachedAtSize === undefined ? '—' : n(x.cachedAtSize)} | ${x.misses === undefined ? '—' : n(x.misses)} | ${x.baselinePeakRssMiB === undefined ? '—' : `${n(x.baselinePeakRssMiB)} MiB`} |`),
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
      `| peak RSS ≤ ${m.targets.peakRssMiBAt1M} MiB | ${n(at1M.peakRssMiB)} MiB${at1M.peakAnonMiB === undefined ? '' : ` (anonymous: ${n(at1M.peakAnonMiB)} MiB)`} | ${verdict(at1M.peakRssMiB <= m.targets.peakRssMiBAt1M)} |`,
      `| commit cost follows changed keys, not live keys | ${at1M.perKey.ms} ms per commit at 1M vs ${r.results[0]!.perKey.ms} ms at ${n(r.results[0]!.liveKeys)} | ${verdict(at1M.perKey.records <= 2 * m.changedPerCommit)} |`,
      '',
    );
  }
  out.push(...machineTable(r.machine, undefined, r.kafka));
  out.push(...notesSection(root, 'state', 'Notes', r.generatedAt, 're-read them against the tables above.'));
  return out.join('\n');
}
