/** The end of a benchmark's parent (run.ts): interrupted, failed, or done. */
import { saveAndRender } from './doc.js';
import type { BenchKafka } from './kafka-env.js';

/**
 * On SIGINT or SIGTERM: says "<signal>: stopping <what>", calls `markFailed` (so that the broker's logs are kept),
 * then `cleanup` (kill the children, stop the broker, remove scratch files), and exits with code 130 once it settles.
 */
export function exitOnSignals(say: (msg: string) => void, what: string, cleanup: () => Promise<unknown>, markFailed: () => void): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`${sig}: stopping ${what}`);
      markFailed();
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/** main()'s catch: marks the run failed, says FAILED (with the stack), cleans up and exits with code 1. */
export async function exitOnError(err: unknown, say: (msg: string) => void, cleanup: () => Promise<unknown>, markFailed: () => void): Promise<never> {
  markFailed();
  say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await cleanup();
  process.exit(1);
}

/**
 * The end of a run that got through: stops the broker (its directory kept when `failed`, and said where), then
 * saves the results and rewrites docs/benchmarks.md (saveAndRender).
 */
export async function stopAndSave(kafka: BenchKafka, failed: boolean, root: string, name: string, data: { durationS: number }, started: number, say: (msg: string) => void): Promise<void> {
  await kafka.stop({ keepDir: failed });
  if (failed) say(`some runs failed or did not check out; broker logs kept in ${kafka.workDir}`);
  await saveAndRender(root, name, data, started, say);
}
