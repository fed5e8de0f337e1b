#!/usr/bin/env node
// `npm run bench`: builds with `npm run build` when dist/ is missing or older than src/, then runs the
// benchmarks (every benchmarks/<name>/run.ts, or the names given: `npm run bench -- publish`), one after the
// other, each as `node --import tsx benchmarks/<name>/run.ts`. Each benchmark starts and stops its own local
// servers, saves benchmarks/results/<name>.json and rewrites docs/benchmarks.md. Exits non-zero when any failed.
// `npm run bench -- --doc-only` only re-renders docs/benchmarks.md from the saved results (after editing a NOTES.md).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const started = Date.now();
const say = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const secs = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const available = readdirSync(join(root, 'benchmarks'), { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(root, 'benchmarks', e.name, 'run.ts')))
  .map((e) => e.name)
  .sort();
if (process.argv.includes('--doc-only')) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('benchmarks', 'lib', 'write-doc.ts')], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const w of wanted) {
  if (!available.includes(w)) {
    say(`no such benchmark '${w}' (available: ${available.join(', ')})`);
    process.exit(2);
  }
}
const selected = wanted.length > 0 ? wanted : available;

// (a) build if needed: the benchmarks import the package as built (`multidispatch` → dist/src).
const builtAt = existsSync('dist/src/index.js') ? statSync('dist/src/index.js').mtimeMs : 0;
const sourceAt = Math.max(newestMtime(join(root, 'src')), statSync('tsconfig.json').mtimeMs);
if (builtAt < sourceAt) {
  const t0 = Date.now();
  say(builtAt === 0 ? 'dist/ missing: npm run build' : 'src/ changed since the last build: npm run build');
  const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) {
    say(`npm run build failed (exit ${build.status ?? build.signal})`);
    process.exit(1);
  }
  say(`build done in ${secs(t0)}`);
} else {
  say('dist/ is up to date with src/: no build');
}

// (b) the benchmarks, one at a time (they share the machine's cores).
let child;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child?.kill(sig));
const failed = [];
for (const name of selected) {
  const t0 = Date.now();
  say(`running benchmarks/${name}/run.ts`);
  const code = await new Promise((res) => {
    child = spawn(process.execPath, ['--import', 'tsx', join('benchmarks', name, 'run.ts')], { stdio: 'inherit', env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' } });
    child.once('exit', (c, signal) => res(c ?? (signal ? 1 : 0)));
    child.once('error', (err) => {
      say(`could not start benchmarks/${name}/run.ts: ${err.message}`);
      res(1);
    });
  });
  child = undefined;
  say(`${name} finished in ${secs(t0)} with exit code ${code}`);
  if (code !== 0) failed.push(name);
}
say(`total ${secs(started)}${failed.length > 0 ? `; FAILED: ${failed.join(', ')}` : ''} (docs/benchmarks.md rewritten by each benchmark)`);
process.exit(failed.length > 0 ? 1 : 0);
