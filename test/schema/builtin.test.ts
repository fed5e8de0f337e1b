/** The built-in schema (derive's records) merged into the user's: available, and never silently shadowed. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSchema, SchemaError } from '../../src/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { withBuiltinSchema } from '../../src/schema/builtin.js';
import { encodeAlert } from '../../src/derive/outputs.js';

async function protoDir(t: { after(fn: () => unknown): unknown }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'md-builtin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

const event = (extra = '') => `syntax = "proto3";
package shop.v1;
import "multidispatch/options.proto";
${extra}
message Sold {
  option (multidispatch.event) = { topic: "shop.v1" };
  string id = 1;
}
`;

describe('built-in schema', () => {
  it("is merged into the user's: derive's records decode, the user's events are kept", async (t) => {
    const registry = new EventRegistry(withBuiltinSchema(await loadSchema(await protoDir(t, { 'shop.proto': event() }))));
    assert.deepEqual(registry.eventTypes.sort(), ['multidispatch.metrics.v1.Alert', 'multidispatch.metrics.v1.DerivedMetric', 'shop.v1.Sold']);
    assert.equal(registry.lookup('multidispatch.metrics.v1.DerivedMetric').rule.topic, 'multidispatch.metrics');
    assert.equal(registry.lookup('multidispatch.metrics.v1.Alert').rule.statsdCounter, false);
    const bytes = encodeAlert({ metric: 'm', dimensions: { a: 'b' }, state: 'firing', value: 3, windowStart: 0, windowEnd: 60_000, partition: 0 }, 1000);
    assert.deepEqual(registry.decode('multidispatch.metrics.v1.Alert', bytes), {
      metric: 'm', dimensions: { a: 'b' }, state: 'FIRING', value: 3, windowStart: '1970-01-01T00:00:00.000Z', windowEnd: '1970-01-01T00:01:00.000Z', emittedAt: '1970-01-01T00:00:01.000Z',
    });
  });

  it('a user schema that imports the bundled metrics.proto (an identical copy) is accepted', async (t) => {
    const dir = await protoDir(t, {
      'shop.proto': event('import "multidispatch/metrics/v1/metrics.proto";').replace('string id = 1;', 'string id = 1;\n  multidispatch.metrics.v1.DerivedMetric last = 2;'),
    });
    const registry = new EventRegistry(withBuiltinSchema(await loadSchema(dir)));
    assert.ok(registry.has('multidispatch.metrics.v1.DerivedMetric') && registry.has('shop.v1.Sold'));
  });

  it('a user type with a built-in name and another shape is refused (exit 3 in tail), naming the type', async (t) => {
    const dir = await protoDir(t, {
      'shop.proto': event(),
      'fake.proto': 'syntax = "proto3";\npackage multidispatch.metrics.v1;\nimport "multidispatch/options.proto";\nmessage DerivedMetric {\n  option (multidispatch.event) = { topic: "mine" };\n  string name = 1;\n  int64 value = 3;\n}\n',
    });
    await assert.rejects(
      (async () => withBuiltinSchema(await loadSchema(dir)))(),
      (err: unknown) => err instanceof SchemaError && /declares multidispatch\.metrics\.v1\.DerivedMetric, which differs from multidispatch's built-in/.test(err.message),
    );
    const r = spawnSync(process.execPath, ['bin/multidispatch.js', 'tail', '--topic', 'x', '--proto', dir, '--brokers', '127.0.0.1:1'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /^multidispatch: the schema declares multidispatch\.metrics\.v1\.DerivedMetric, which differs/);
  });
});
