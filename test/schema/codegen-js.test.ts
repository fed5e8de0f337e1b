/**
 * `codegen --out events.js`: the JavaScript event map runs under plain `node` (no tsx, no build step), and its
 * events.d.ts types publish() for a TypeScript or `// @ts-check` consumer exactly as the .ts output does.
 *
 * The files are generated into a folder inside the project so that `import ... from 'multidispatch'` resolves
 * to this package's build (a package may import itself by name), as it would from an application's
 * node_modules. Needs `npm run build` (npm test does it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { codegen } from '../../src/schema/index.js';

const root = process.cwd();
let dir: string;

/** A child `node` without the test runner's --import tsx: what a user without a TypeScript toolchain runs. */
function plainNode(args: string[], cwd = root) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env, timeout: 120_000 });
}

const PAYMENT_FAILED = `orderId: 'o-1', market: 'GB', platform: 'ANDROID', method: 'CARD', errorCode: 'declined', retryable: false, attempt: 1`;

describe('codegen --out events.js', () => {
  before(async () => {
    dir = await mkdtemp(join(root, '.tmp-codegen-js-'));
    const r = plainNode(['bin/multidispatch.js', 'codegen', '--proto', 'proto/examples', '--out', join(dir, 'events.js')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /wrote .*events\.js and .*events\.d\.ts with 8 event type\(s\)/);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes a JavaScript module that imports nothing, and its declarations', async () => {
    const js = await readFile(join(dir, 'events.js'), 'utf8');
    const dts = await readFile(join(dir, 'events.d.ts'), 'utf8');
    assert.doesNotMatch(js, /^\s*import\b/m);
    assert.match(js, /^export const schema = \{ bundle: \{"version":1,/m);
    assert.match(dts, /^import type \{ EventSchema, Int64, TimestampInput \} from 'multidispatch';$/m);
    assert.match(dts, /^export declare const schema: EventSchema<EventMap>;$/m);
    assert.match(dts, /^ {2}'orders\.v1\.PaymentFailed': PaymentFailed;$/m);
    assert.match(dts, /^ {2}failedAt\?: TimestampInput;$/m);
  });

  it('plain node imports it and publishes to the memory publisher', async () => {
    await writeFile(
      join(dir, 'app.mjs'),
      [
        "import { createMemoryPublisher } from 'multidispatch/testing';",
        "import { schema } from './events.js';",
        'const publisher = createMemoryPublisher({ schema });',
        `const receipt = await publisher.publish('orders.v1.PaymentFailed', { ${PAYMENT_FAILED} });`,
        'const [record] = publisher.records;',
        "console.log(JSON.stringify({ topic: record.topic, key: record.key, type: record.headers['md-event-type'], occurredAt: receipt.occurredAt, counters: publisher.counters.length }));",
        '',
      ].join('\n'),
    );
    const r = plainNode([join(dir, 'app.mjs')], dir);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual({ ...out, occurredAt: typeof out.occurredAt }, { topic: 'orders.v1', key: 'o-1', type: 'orders.v1.PaymentFailed', occurredAt: 'string', counters: 1 });
  });

  it('events.d.ts types publish(): a correct call and one without the event time compile; a misspelt or missing field does not', async () => {
    const consumer = (body: string) =>
      ["import { createMemoryPublisher } from 'multidispatch/testing';", "import { schema } from './events.js';", 'const publisher = createMemoryPublisher({ schema });', body, ''].join('\n');
    const files: Record<string, string> = {
      'ok.ts': consumer(`await publisher.publish('orders.v1.PaymentFailed', { ${PAYMENT_FAILED}, failedAt: new Date() });`),
      'no-event-time.ts': consumer(`await publisher.publish('orders.v1.PaymentFailed', { ${PAYMENT_FAILED} });`),
      'misspelt.ts': consumer(`await publisher.publish('orders.v1.PaymentFailed', { ${PAYMENT_FAILED}, retryabel: true });`),
      'missing.ts': consumer(`await publisher.publish('orders.v1.PaymentFailed', { orderId: 'o-1', market: 'GB', platform: 'ANDROID', method: 'CARD', retryable: false, attempt: 1 });`),
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    // One compiler run over the four consumers; without skipLibCheck, so the generated .d.ts is checked too.
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = plainNode([tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--pretty', 'false', ...Object.keys(files)], dir);
    const errors = (file: string) => r.stdout.split('\n').filter((l) => l.startsWith(`${file}(`));
    const all = r.stdout.trim();
    assert.deepEqual(errors('ok.ts'), [], all);
    assert.deepEqual(errors('no-event-time.ts'), [], all);
    assert.deepEqual(errors('events.d.ts'), [], all);
    assert.ok(errors('misspelt.ts').some((l) => /'retryabel' does not exist in type 'PaymentFailed'/.test(l)), all);
    assert.match(all, /missing\.ts\(\d+,\d+\): error TS2345:[\s\S]*Property 'errorCode' is missing/);
    assert.equal(r.status, 2, `tsc must fail on the two bad consumers:\n${all}\n${r.stderr}`);
  });

  it('--import-from names the module the .d.ts imports from; .mjs gets a .d.mts', async () => {
    const result = await codegen({ protoDir: 'proto/examples', out: join(dir, 'other', 'events.mjs'), importFrom: '../lib/index.js' });
    assert.equal(result.declarations, join(dir, 'other', 'events.d.mts'));
    assert.match(await readFile(join(dir, 'other', 'events.d.mts'), 'utf8'), /^import type \{ EventSchema, Int64, TimestampInput \} from '\.\.\/lib\/index\.js';$/m);
    assert.match(await readFile(join(dir, 'other', 'events.mjs'), 'utf8'), /in events\.d\.mts\./);
  });
});
