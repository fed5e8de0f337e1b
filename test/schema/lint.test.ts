import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildBundle, codegen } from '../../src/schema/index.js';
import { SchemaLintError } from '../../src/errors.js';

const fixtures = new URL('../fixtures/protos/', import.meta.url).pathname;

async function lintProblems(dir: string, against?: string) {
  try {
    await buildBundle({ protoDir: join(fixtures, dir), ...(against ? { against } : {}) });
  } catch (err) {
    assert.ok(err instanceof SchemaLintError, `expected SchemaLintError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail(`${dir}: expected lint problems, the schema was accepted`);
}

describe('schema lint', () => {
  it('rejects an event without a topic, naming file and message', async () => {
    const [p, ...rest] = await lintProblems('no-topic');
    assert.equal(rest.length, 0);
    assert.deepEqual({ file: p!.file, message: p!.message, rule: p!.rule }, { file: 'a.proto', message: 'lint.v1.NoTopic', rule: 'topic-required' });
  });

  it('rejects a key field that does not exist', async () => {
    const [p] = await lintProblems('bad-key');
    assert.equal(p!.rule, 'key-field-exists');
    assert.equal(p!.message, 'lint.v1.BadKey');
    assert.match(p!.text, /order_id/);
  });

  it('rejects a field that is both tag and high_cardinality', async () => {
    const [p] = await lintProblems('tag-hc');
    assert.deepEqual({ rule: p!.rule, field: p!.field }, { rule: 'tag-vs-high-cardinality', field: 'platform' });
  });

  it('rejects tags that are not enums, bools or allow-listed strings, and names each field as written', async () => {
    const problems = await lintProblems('tag-type');
    assert.deepEqual(problems.map((p) => [p.rule, p.field]).sort(), [['tag-type', 'attempt'], ['tag-type', 'user_id']]);
    assert.ok(problems.every((p) => p.file === 'a.proto' && p.message === 'lint.v1.BadTags'));
  });

  it('with --against, a removed field number must be reserved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'md-evo-'));
    try {
      const snapshot = join(dir, 'v1.json');
      await codegen({ protoDir: join(fixtures, 'evolution-v1'), out: join(dir, 'v1.ts'), snapshotOut: snapshot });
      const problems = await lintProblems('evolution-v2', snapshot);
      assert.deepEqual(problems.map((p) => [p.rule, p.message, p.field]), [['removed-field-reserved', 'evo.v1.Changed', 'note']]);
      assert.match(problems[0]!.text, /reserved 2/);
      // Reserving the number makes the same change acceptable.
      const { bundle } = await buildBundle({ protoDir: join(fixtures, 'evolution-v3'), against: snapshot });
      assert.deepEqual(bundle.events.map((e) => e.type), ['evo.v1.Changed']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts (multidispatch.event).partitions and carries it into the rules only where declared', async () => {
    const { bundle } = await buildBundle({ protoDir: join(fixtures, 'partitions') });
    assert.deepEqual(
      bundle.events.map((e) => [e.type, e.topic, e.partitions]),
      [['parts.v1.Cancelled', 'parts.orders', undefined], ['parts.v1.Heartbeat', 'parts.heartbeat', undefined], ['parts.v1.Placed', 'parts.orders', 3], ['parts.v1.Shipped', 'parts.orders', 3]],
    );
  });

  it('rejects two event types declaring different partitions for one topic, naming both and the topic', async () => {
    const [p, ...rest] = await lintProblems('partitions-conflict');
    assert.equal(rest.length, 0);
    assert.equal(p!.rule, 'topic-partitions-agree');
    assert.equal(p!.message, 'parts.v1.Shipped');
    assert.match(p!.text, /partitions 4 for topic 'parts\.orders', but parts\.v1\.Placed declares 3/);
  });

  it('the error message lists every problem with file: message: field', async () => {
    const err = await buildBundle({ protoDir: join(fixtures, 'tag-type') }).catch((e: Error) => e);
    assert.ok(err instanceof SchemaLintError);
    assert.match(err.message, /a\.proto: lint\.v1\.BadTags: user_id: .*\[tag-type\]/);
    assert.match(err.message, /a\.proto: lint\.v1\.BadTags: attempt: .*\[tag-type\]/);
  });
});

describe('codegen of the example schema', () => {
  it('extracts the dispatch rules from the options', async () => {
    const { bundle } = await buildBundle({ protoDir: 'proto/examples' });
    const failed = bundle.events.find((e) => e.type === 'orders.v1.PaymentFailed')!;
    assert.equal(failed.topic, 'orders.v1');
    assert.equal(failed.keyField, 'orderId');
    assert.equal(failed.metricName, 'payment_failed');
    assert.equal(failed.statsdCounter, true);
    assert.deepEqual(failed.eventTime, { field: 'failedAt', kind: 'timestamp' });
    assert.deepEqual(failed.tags.map((t) => [t.protoName, t.kind]), [['market', 'string'], ['platform', 'enum'], ['method', 'enum'], ['retryable', 'bool']]);
    assert.deepEqual(failed.tags[0]!.allowedValues, ['GB', 'FR', 'IT', 'IE', 'AE', 'KW']);
  });

  it('the committed src/generated/examples.ts is what codegen produces now', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'md-cg-'));
    try {
      const out = join(dir, 'examples.ts');
      await codegen({ protoDir: 'proto/examples', out, importFrom: '../index.js' });
      assert.equal(await readFile(out, 'utf8'), await readFile('src/generated/examples.ts', 'utf8'), 'run `npm run codegen:examples` and commit the result');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
