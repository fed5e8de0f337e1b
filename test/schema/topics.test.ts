import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SchemaError } from '../../src/errors.js';
import { buildBundle } from '../../src/schema/index.js';
import { topicsOfSchema } from '../../src/schema/topics.js';

const fixtures = new URL('../fixtures/protos/', import.meta.url).pathname;

describe('topicsOfSchema', () => {
  it('one topic per distinct schema topic, with the declared partitions or the default', async () => {
    const { bundle } = await buildBundle({ protoDir: join(fixtures, 'partitions') });
    assert.deepEqual(topicsOfSchema(bundle, { defaultPartitions: 6 }), [
      { topic: 'parts.heartbeat', partitions: 6, partitionsFrom: 'default', eventTypes: ['parts.v1.Heartbeat'] },
      { topic: 'parts.orders', partitions: 3, partitionsFrom: 'schema', eventTypes: ['parts.v1.Cancelled', 'parts.v1.Placed', 'parts.v1.Shipped'] },
    ]);
  });

  it('renames apply first; merging two topics that declare different counts names both types and the topic', async () => {
    const { bundle } = await buildBundle({ protoDir: join(fixtures, 'partitions') });
    const heartbeat = bundle.events.find((e) => e.type === 'parts.v1.Heartbeat')!;
    const declared = { ...bundle, events: bundle.events.map((e) => (e === heartbeat ? { ...e, partitions: 9 } : e)) };
    assert.deepEqual(topicsOfSchema(declared, { defaultPartitions: 6, renames: { 'parts.heartbeat': 'hb' } }).map((p) => [p.topic, p.partitions]), [['hb', 9], ['parts.orders', 3]]);
    assert.throws(
      () => topicsOfSchema(declared, { defaultPartitions: 6, renames: { 'parts.heartbeat': 'parts.orders' } }),
      (err: unknown) => err instanceof SchemaError && /parts\.v1\.Heartbeat/.test(err.message) && /parts\.v1\.Placed/.test(err.message) && /'parts\.orders'/.test(err.message),
    );
  });
});
