/** Pieces of the doc sections (benchmarks/<name>/render.ts) that every benchmark renders alike. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.js';

/** The machine as saved in a results file (machineInfo's fields; each benchmark may add its own). */
export type MachineSummary = MachineInfo;

/** The first line of a section: when it was measured, how long it took, where the raw results are. */
export function measuredLine(generatedAt: string, durationS: number, name: string): string {
  const s = Number.isFinite(durationS) ? durationS.toFixed(0) : 'n/a';
  return `Measured ${generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}; the whole benchmark took ${s} s. Raw results: \`benchmarks/results/${name}.json\`.`;
}

/**
 * The "### Machine" heading and table (followed by a blank line). `kafka` is the Kafka cell; `extraRows` go after
 * the Node.js row (e.g. Java).
 */
export function machineTable(m: MachineSummary, loadAvgAtEnd: number[] | undefined, kafka: string, extraRows: Array<[string, string]> = []): string[] {
  return [
    '### Machine',
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${m.cpuModel} |`,
    `| Cores | ${m.cores} |`,
    `| Memory | ${m.memoryGiB} GiB |`,
    `| OS | ${m.os} |`,
    `| Node.js | ${m.node} |`,
    ...extraRows.map(([k, v]) => `| ${k} | ${v} |`),
    `| Kafka | ${kafka} |`,
    `| Libraries | ${Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
    `| Checkout | ${m.gitHead ? `HEAD ${m.gitHead} (plus any uncommitted changes in the working tree; multidispatch as built in dist/)` : 'n/a'} |`,
    `| Load average | ${m.loadAvgAtStart.join(' ')} at start${loadAvgAtEnd ? `, ${loadAvgAtEnd.join(' ')} at end` : ''} |`,
    '',
  ];
}

/**
 * The hand-written notes of a benchmark (benchmarks/<name>/NOTES.md) under `heading`, verbatim, or nothing when
 * there are none. When their `<!-- written-from-run: … -->` stamp is not the run shown, a warning says so and
 * ends with `stale` (what to re-read).
 */
export function notesSection(root: string, name: string, heading: string, generatedAt: string, stale: string): string[] {
  const notes = join(root, 'benchmarks', name, 'NOTES.md');
  if (!existsSync(notes)) return [];
  const text = readFileSync(notes, 'utf8').trim();
  const from = /<!--\s*written-from-run:\s*(\S+)\s*-->/.exec(text)?.[1];
  const out = [`### ${heading} (hand-written, included verbatim from benchmarks/${name}/NOTES.md)`, ''];
  if (from !== generatedAt) {
    out.push(`> **Note:** these notes were written from the run of ${from ?? 'an unknown date'}, not from the run shown above (${generatedAt}); ${stale}`, '');
  }
  out.push(text, '');
  return out;
}
