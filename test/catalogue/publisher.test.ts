/**
 * A publisher that pushes its own schemas to the catalogue at start (real broker): the version lands before the first
 * event, an existing version is left alone, and an incompatible schema makes publish() reject with the rule named,
 * sending nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { readCatalogue } from '../../src/catalogue/store.js';
import { createPublisher, loadSchema, SchemaLintError, type EventSchema, type UntypedEventMap } from '../../src/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { brokers, freshTopic, kafka, kafkaClient, randomSuffix, endOffsetSum } from '../support/kafka.js';

const V1 = `syntax = "proto3";
package pub.v1;
import "multidispatch/options.proto";
// A thing happened.
message Happened {
  option (multidispatch.event) = { topic: "pub.things" key_field: "thing_id" };
  string thing_id = 1;
  int64 count = 2;
}
`;

async function schemaOf(t: TestContext, text: string): Promise<EventSchema<UntypedEventMap>> {
  const dir = await mkdtemp(join(tmpdir(), 'md-cat-pub-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'pub.proto'), text);
  return loadSchema(dir);
}

describe('publisher catalogue push', () => {
  it('pushes missing versions before the first event, leaves existing ones, and refuses an incompatible schema', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const catalogue = `catalogue-${randomSuffix()}`;
    t.after(async () => {
      const admin = kafka('multidispatch-test-admin').admin();
      await admin.connect();
      if ((await admin.listTopics()).includes(catalogue)) await admin.deleteTopics({ topics: [catalogue] });
      await admin.disconnect();
    });
    const v1 = await schemaOf(t, V1);
    const errors: Error[] = [];
    const options = { kafka: { brokers: brokers() }, statsd: false as const, topics: { 'pub.things': topic }, catalogue: { push: true, topic: catalogue, owner: 'things-team' }, onError: (e: Error) => errors.push(e) };

    const first = createPublisher({ schema: v1, ...options });
    await first.publish('pub.v1.Happened', { thingId: 't-1', count: 1 });
    await first.close();
    const cat = await readCatalogue(kafkaClient(), catalogue);
    const latest = cat.entries.get('pub.v1.Happened');
    assert.ok(latest, 'the type is in the catalogue');
    assert.equal(latest.fingerprint, new EventRegistry(v1).lookup('pub.v1.Happened').fingerprint);
    assert.equal(latest.owner, 'things-team');
    assert.equal(latest.doc, 'A thing happened.');
    assert.deepEqual(latest.fields.map((f) => f.name), ['thing_id', 'count']);
    assert.equal(await endOffsetSum(topic), 1);

    // The same schema again: the catalogue is not written.
    const before = await endOffsetSum(catalogue);
    const second = createPublisher({ schema: v1, ...options });
    await second.publish('pub.v1.Happened', { thingId: 't-2', count: 2 });
    await second.close();
    assert.equal(await endOffsetSum(catalogue), before);

    // A field removed without reserving it: every publish() rejects, nothing is sent.
    const broken = await schemaOf(t, V1.replace('  int64 count = 2;\n', ''));
    const third = createPublisher({ schema: broken, ...options });
    const refused = await third.publish('pub.v1.Happened', { thingId: 't-3' }).then(() => undefined, (err: unknown) => err);
    assert.ok(refused instanceof SchemaLintError, `rejected with SchemaLintError, got ${String(refused)}`);
    assert.match(refused.message, /pub\.proto: pub\.v1\.Happened: count: .*\[field-removed-not-reserved\]/);
    await assert.rejects(third.publish('pub.v1.Happened', { thingId: 't-4' }), SchemaLintError);
    await third.close();
    assert.equal(await endOffsetSum(topic), 2, 'nothing from the refused publisher');
    assert.equal(await endOffsetSum(catalogue), before);
    assert.deepEqual(errors, []);
  });
});
