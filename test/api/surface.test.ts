import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as root from '../../src/index.js';
import { CHANNELS, createLoader, silentLogger, stderrLogger } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, freshTopic } from '../support/kafka.js';
import { publishMixed, tempDir } from '../support/loader.js';

describe('the public surface', () => {
  it('the root entry keeps internals out', () => {
    const names = Object.keys(root);
    for (const internal of ['MetricEngine', 'routeKey', 'toPositive', 'quoteIdent', 'EventRegistry', 'murmur2', 'partitionForKey', 'createKafkaClient', 'Loader']) {
      assert.ok(!names.includes(internal), `${internal} is not exported from the root`);
    }
    for (const entry of ['createPublisher', 'codegen', 'loadSchema', 'createLoader', 'openWarehouse', 'defineMetrics', 'tumbling', 'DeriveRunner', 'resolveKafkaConfig', 'CHANNELS', 'stderrLogger', 'MdError']) {
      assert.ok(names.includes(entry), `${entry} is exported from the root`);
    }
  });

  it('every subpath in package.json exports points at a module that loads and exports something', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, { import: string; types: string }> };
    const entries = Object.entries(pkg.exports);
    assert.ok(entries.length >= 7, `found ${entries.length} entries`);
    for (const [name, target] of entries) {
      // The build's module (npm test builds first), as a user's import would load it.
      const mod = (await import(join(process.cwd(), target.import))) as Record<string, unknown>;
      assert.ok(Object.keys(mod).length > 0, `${name} exports something`);
      assert.ok(target.types.endsWith('.d.ts'), `${name} has type declarations`);
    }
    const testing = (await import(join(process.cwd(), pkg.exports['./testing']!.import))) as Record<string, unknown>;
    assert.equal(typeof testing.MetricEngine, 'function');
    assert.equal(typeof testing.createMemoryPublisher, 'function');
  });
});

describe('logging seam', () => {
  it('stderrLogger writes JSON lines at and above its level only', (t) => {
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    t.mock.method(process.stderr, 'write', (chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const log = stderrLogger('unit', 'warn');
    log.debug({ a: 1 }, 'dropped');
    log.info({ a: 2 }, 'dropped too');
    log.warn({ a: 3, err: new Error('boom') }, 'kept');
    log.error({ a: 4 }, 'kept too');
    t.mock.restoreAll();
    void original;
    const lines = written.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.level, l.name, l.msg, l.a]), [[40, 'unit', 'kept', 3], [50, 'unit', 'kept too', 4]]);
    assert.equal(lines[0]!.err, 'boom', 'an Error is written as its message');
  });

  it('the loader logs through an injected logger and publishes each committed batch on its diagnostics channel', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    await publishMixed(topic, 90);
    const seen: Array<Record<string, unknown>> = [];
    const onBatch = (m: unknown) => void seen.push(m as Record<string, unknown>);
    diagnostics_channel.subscribe(CHANNELS.loaderBatch, onBatch);
    t.after(() => diagnostics_channel.unsubscribe(CHANNELS.loaderBatch, onBatch));
    const logged: string[] = [];
    const logger = { ...silentLogger, info: (_f: object, msg?: string) => void logged.push(msg ?? '') };
    const group = `g-${topic}`;
    const stats = await createLoader(
      { kafka: { brokers: brokers() }, schema, topics: [topic], group, warehouse: `duckdb:${join(tempDir(t), 'w.duckdb')}`, batchRecords: 40, topicRenames: { 'orders.v1': topic } },
      { logger },
    ).runOnce();
    assert.equal(stats.rowsLoaded, 90);
    assert.ok(seen.length >= 3, `one message per committed batch of at most 40 (saw ${seen.length})`);
    assert.equal(seen.reduce((n, m) => n + (m.rows as number), 0), 90);
    assert.ok(seen.every((m) => m.group === group && typeof m.reason === 'string'));
    assert.ok(logged.includes('loader started'), `the injected logger got the loader's lines: ${JSON.stringify(logged)}`);
  });
});
