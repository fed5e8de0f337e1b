/** An event-time field may be left out, in both forms, and the record then carries the instant publish() stamped. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSchema, ValidationError } from '../../src/index.js';
import { createMemoryPublisher } from '../../src/testing.js';
import { HEADER } from '../../src/schema/envelope.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { renderEventMap, renderEventMapJs } from '../../src/schema/codegen.js';

const PROTO = `syntax = "proto3";
package clock.v1;
import "google/protobuf/timestamp.proto";
import "multidispatch/options.proto";

message Stamped {
  option (multidispatch.event) = { topic: "clock.v1" };
  string id = 1;
  google.protobuf.Timestamp at = 2 [(multidispatch.field).event_time = true];
}

message Millis {
  option (multidispatch.event) = { topic: "clock.v1" };
  string id = 1;
  int64 at_ms = 2 [(multidispatch.field).event_time = true];
  int64 count = 3;
}
`;

async function schemaFor(t: { after(fn: () => unknown): unknown }) {
  const dir = await mkdtemp(join(tmpdir(), 'md-event-time-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'clock.proto'), PROTO);
  return loadSchema(dir);
}

describe('event-time fields', () => {
  const cases = [['clock.v1.Stamped', 'at', { id: 'x' }], ['clock.v1.Millis', 'atMs', { id: 'x', count: 2 }]] as const;
  for (const [type, field, event] of cases) {
    it(`${type}: left out, the record's ${field} and the occurred-at header are the same now`, async (t) => {
      const schema = await schemaFor(t);
      const publisher = createMemoryPublisher({ schema, statsd: false });
      const before = Date.now();
      const receipt = await publisher.publish(type, event);
      const after = Date.now();
      const record = publisher.records[0]!;
      const decoded = new EventRegistry(schema).decode(type, record.value);
      const stamped = typeof decoded[field] === 'string' && /^\d+$/.test(decoded[field] as string) ? Number(decoded[field]) : Date.parse(decoded[field] as string);
      assert.ok(stamped >= before && stamped <= after, `${field} = ${String(decoded[field])}`);
      assert.equal(receipt.occurredAt.getTime(), stamped);
      assert.equal(record.headers[HEADER.occurredAt], new Date(stamped).toISOString());
    });
  }

  it('a given event time is kept, and other int64 scalars stay required', async (t) => {
    const registry = new EventRegistry(await schemaFor(t));
    assert.equal(registry.encode('clock.v1.Millis', { id: 'x', atMs: 1_700_000_000_123, count: 1 }).eventTimeMs, 1_700_000_000_123);
    assert.equal(registry.encode('clock.v1.Stamped', { id: 'x', at: new Date(5_000) }).eventTimeMs, 5_000);
    assert.throws(() => registry.encode('clock.v1.Millis', { id: 'x', atMs: 1 }), (err) => err instanceof ValidationError && /count.*is required/.test(err.message));
  });

  it('is optional in the generated types, in both forms, with a doc comment saying what publish() does', async (t) => {
    const { bundle } = await schemaFor(t);
    const ts = renderEventMap(bundle, { importFrom: 'multidispatch', source: 'clock' });
    const { dts } = renderEventMapJs(bundle, { importFrom: 'multidispatch', source: 'clock' }, 'events.d.ts');
    for (const text of [ts, dts]) {
      assert.match(text, /\* Event time\. Optional: when left out, publish\(\) sets it to now[^\n]*\n {3}\*\/\n {2}at\?: TimestampInput;/);
      assert.match(text, /\* Event time, milliseconds since the epoch\. Optional: when left out, publish\(\) sets it to now[^\n]*\n {3}\*\/\n {2}atMs\?: Int64;/);
      assert.match(text, /^ {2}count: Int64;$/m);
      assert.match(text, /^ {2}id: string;$/m);
    }
  });
});
