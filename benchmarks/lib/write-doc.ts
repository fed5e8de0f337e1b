/**
 * Re-renders docs/benchmarks.md from the saved results without measuring anything, e.g. after editing a
 * benchmark's NOTES.md: `npm run bench -- --doc-only` (or `npx tsx benchmarks/lib/write-doc.ts`).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchmarksDoc } from './doc.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
process.stderr.write(`[bench] rewrote ${await writeBenchmarksDoc(root)} from benchmarks/results/*.json\n`);
