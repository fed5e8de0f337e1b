import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const resultsDir = (root: string) => join(root, 'benchmarks', 'results');

/** Saves a benchmark's raw results to benchmarks/results/<name>.json. */
export function saveResults(root: string, name: string, data: unknown): string {
  const dir = resultsDir(root);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
