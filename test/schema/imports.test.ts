/** protoc's import rule: a file uses only the types and options of the files it imports (or they `import public`). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { SchemaError } from '../../src/errors.js';
import { buildBundle } from '../../src/schema/index.js';

async function protoDir(t: { after(fn: () => unknown): unknown }, files: Record<string, string[]>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'md-imports-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, lines] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), [...lines, ''].join('\n'));
  }
  return dir;
}

async function schemaError(dir: string): Promise<string> {
  const err = await buildBundle({ protoDir: dir }).then(() => undefined, (e: Error) => e);
  assert.ok(err instanceof SchemaError, `expected a SchemaError, got ${String(err)}`);
  return err.message;
}

const EVENT = (pkg: string, imports: string[], body: string[] = []) => [
  'syntax = "proto3";',
  `package ${pkg};`,
  ...imports.map((i) => `import "${i}";`),
  '',
  'message Sold {',
  `  option (multidispatch.event) = { topic: "${pkg}" };`,
  '  string id = 1 [(multidispatch.field).high_cardinality = true];',
  ...body,
  '}',
];

const TIMESTAMP = 'google/protobuf/timestamp.proto';
const OPTIONS = 'multidispatch/options.proto';

describe('imports are checked as protoc checks them', () => {
  it('options used without importing multidispatch/options.proto: file:line:column and the import to add', async (t) => {
    const dir = await protoDir(t, { 'shop/a.proto': EVENT('shop.v1', []) });
    assert.equal(await schemaError(dir), `${join(dir, 'shop/a.proto')}:5:10: option (multidispatch.event) is not defined by shop/a.proto or any file it imports; add: import "${OPTIONS}";`);
  });

  it('options imported by another file of the folder, but not by this one', async (t) => {
    const dir = await protoDir(t, { 'a.proto': EVENT('a.v1', [OPTIONS]), 'b.proto': EVENT('b.v1', []) });
    assert.equal(await schemaError(dir), `${join(dir, 'b.proto')}:5:10: option (multidispatch.event) is defined in "${OPTIONS}", which b.proto does not import; add: import "${OPTIONS}";`);
  });

  it('google.protobuf.Timestamp without its import, when no file imports it', async (t) => {
    const dir = await protoDir(t, { 'a.proto': EVENT('a.v1', [OPTIONS], ['  google.protobuf.Timestamp at = 2 [(multidispatch.field).event_time = true];']) });
    assert.equal(
      await schemaError(dir),
      `${join(dir, 'a.proto')}:8:3: unknown type 'google.protobuf.Timestamp' (in a.v1.Sold): it is defined in "${TIMESTAMP}", which a.proto does not import; add: import "${TIMESTAMP}";`,
    );
  });

  it('google.protobuf.Timestamp without its import, when another file imports it', async (t) => {
    const dir = await protoDir(t, {
      'a.proto': EVENT('a.v1', [TIMESTAMP, OPTIONS], ['  google.protobuf.Timestamp at = 2;']),
      'b.proto': EVENT('b.v1', [OPTIONS], ['  // a comment naming google.protobuf.Timestamp is not the field', '  google.protobuf.Timestamp at = 2;']),
    });
    assert.equal(await schemaError(dir), `${join(dir, 'b.proto')}:9:3: google.protobuf.Timestamp is defined in "${TIMESTAMP}", which b.proto does not import; add: import "${TIMESTAMP}";`);
  });

  it("a type of the folder's own, used through a file that imports it without `public`, is refused; with `import public` it is accepted", async (t) => {
    const money = ['syntax = "proto3";', 'package common.v1;', 'message Money { int64 amount_minor = 1; }'];
    const use = (via: string) => EVENT('shop.v1', [OPTIONS, via], ['  common.v1.Money total = 2;']);
    const refused = await protoDir(t, {
      'common/money.proto': money,
      'common/all.proto': ['syntax = "proto3";', 'import "common/money.proto";'],
      'shop/a.proto': use('common/all.proto'),
    });
    assert.equal(await schemaError(refused), `${join(refused, 'shop/a.proto')}:9:3: common.v1.Money is defined in "common/money.proto", which shop/a.proto does not import; add: import "common/money.proto";`);
    const accepted = await protoDir(t, {
      'common/money.proto': money,
      'common/all.proto': ['syntax = "proto3";', 'import public "common/money.proto";'],
      'shop/a.proto': use('common/all.proto'),
    });
    const { bundle } = await buildBundle({ protoDir: accepted });
    assert.deepEqual(bundle.events.map((e) => e.type), ['shop.v1.Sold']);
  });

  it('every file with a missing import is named, one line each', async (t) => {
    const dir = await protoDir(t, {
      'a.proto': EVENT('a.v1', [TIMESTAMP, OPTIONS], ['  google.protobuf.Timestamp at = 2;']),
      'b.proto': EVENT('b.v1', [], ['  google.protobuf.Timestamp at = 2;']),
    });
    const lines = (await schemaError(dir)).split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /b\.proto:5:10: option \(multidispatch\.event\) is defined in "multidispatch\/options\.proto"/);
    assert.match(lines[1]!, /b\.proto:7:3: google\.protobuf\.Timestamp is defined in "google\/protobuf\/timestamp\.proto"/);
  });

  it('the CLI exits 3 with the problem', async (t) => {
    const dir = await protoDir(t, { 'a.proto': EVENT('a.v1', []) });
    const r = spawnSync(process.execPath, ['bin/multidispatch.js', 'codegen', '--proto', dir, '--out', join(dir, 'never-written.ts')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stderr.trim(), `multidispatch: ${join(dir, 'a.proto')}:5:10: option (multidispatch.event) is not defined by a.proto or any file it imports; add: import "${OPTIONS}";`);
  });

  it('the example schema passes the rule (lint.test.ts loads every lint fixture)', async () => {
    await buildBundle({ protoDir: 'proto/examples' });
  });
});
