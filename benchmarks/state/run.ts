/**
 * benchmarks/state: what derive's state costs as it grows — a task with 1,000, 100,000 and 1,000,000 live keys
 * (open 5-minute windows, one per restaurant) run as with --state-dir (windows spilled to the LMDB local store,
 * 50,000 cached), against one local broker this script starts and stops:
 *   per-key commit (multidispatch): the keys changed since the last commit, one changelog record each, in a Kafka
 *     transaction to a compacted changelog partition, then the LMDB local store with its checkpoint;
 *   whole-state commit (baseline, same run): every live key written at every commit.
 * Then a restore from the changelog alone (keys/s) and a resume from the local store after a clean stop. Each
 * size is its own child process (child.ts), so its peak RSS is its own.
 * Writes benchmarks/results/state.json and rewrites docs/benchmarks.md.
 *
 *   npx tsx benchmarks/state/run.ts                (npm run bench -- state runs it after building)
 *   BENCH_STATE_SIZES=1000,100000 npx tsx benchmarks/state/run.ts   (a quick look)
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchKafka, type BenchKafka } from '../lib/kafka-env.js';
import { machineInfo } from '../lib/machine.js';
import { exitOnError, exitOnSignals, stopAndSave } from '../lib/lifecycle.js';
import type { ChildConfig, ChildResult } from './child.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const say = (msg: string) => process.stderr.write(`[bench:state] ${msg}\n`);

const method = {
  sizes: (process.env.BENCH_STATE_SIZES ?? '1000,100000,1000000').split(',').map(Number),
  commits: 20,
  baselineCommits: 3,
  changedPerCommit: 1000,
  /** The engine's window cache (--state-cache-keys, the default) and the keys between commits while filling. */
  cacheKeys: 50_000,
  fillCommitKeys: 50_000,
  targets: { restoreKeysPerSec: 100_000, resumeMsAt1M: 5000, peakRssMiBAt1M: 1024 },
};

function runChild(cfg: ChildConfig): Promise<ChildResult> {
  return new Promise((res, rej) => {
    const child = fork(join(here, 'child.ts'), [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'] });
    child.once('message', (m: { type: string; result?: ChildResult; error?: string }) => (m.type === 'result' ? res(m.result!) : rej(new Error(m.error))));
    child.once('exit', (code) => (code !== 0 ? rej(new Error(`size ${cfg.size}: child exited with ${code}`)) : undefined));
    child.send(cfg);
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  let kafka: BenchKafka | undefined;
  let failed = false;
  const stateDir = mkdtempSync(join(tmpdir(), 'multidispatch-bench-state-'));
  const cleanup = async () => {
    rmSync(stateDir, { recursive: true, force: true });
    await kafka?.stop({ keepDir: failed });
  };
  exitOnSignals(say, 'the state benchmark', cleanup, () => (failed = true));
  try {
    kafka = await startBenchKafka(say);
    const results: ChildResult[] = [];
    for (const size of method.sizes) {
      say(`${size.toLocaleString('en')} live keys: fill, ${method.commits} per-key commits of ${method.changedPerCommit} changed events, ${method.baselineCommits} whole-state commits, restore, resume`);
      const r = await runChild({ brokers: kafka.handle.brokers, size, commits: method.commits, baselineCommits: method.baselineCommits, changedPerCommit: method.changedPerCommit, stateDir, cacheKeys: method.cacheKeys, fillCommitKeys: method.fillCommitKeys });
      say(`  per-key commit ${r.perKey.ms} ms / ${r.perKey.records} records / ${r.perKey.bytes} B; whole-state ${r.wholeState.ms} ms / ${r.wholeState.records} records; restore ${r.restore.keysPerSec} keys/s; resume ${r.resume.ms} ms; peak RSS ${r.peakRssMiB} MiB`);
      results.push(r);
    }
    const data = { generatedAt: new Date().toISOString(), durationS: 0, method, machine: machineInfo(root, ['kafkajs', 'lmdb']), kafka: kafka.handle.version, results };
    rmSync(stateDir, { recursive: true, force: true });
    await stopAndSave(kafka, failed, root, 'state', data, started, say);
  } catch (err) {
    await exitOnError(err, say, cleanup, () => (failed = true));
  }
}

await main();
