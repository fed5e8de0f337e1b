/** decodeRecord: the row's two JSON texts, checked by parsing them back (headers with hostile text included). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schema } from '../../src/generated/examples.js';
import { decodeRecord } from '../../src/loader/record.js';
import { HEADER } from '../../src/schema/envelope.js';
import { EventRegistry } from '../../src/schema/registry.js';

describe('decodeRecord', () => {
  const registry = new EventRegistry(schema);
  const event = { orderId: 'ord_1', context: { userId: 'u"1\\', sessionId: 's', deviceId: 'd' }, restaurantId: 'r', market: 'GB', platform: 'IOS', total: { amountMinor: 1234, currency: 'GBP' }, itemCount: 2, placedAt: new Date('2026-12-04T10:00:00.123Z') } as const;
  const { bytes } = registry.encode('orders.v1.OrderPlaced', event);

  it('writes metadata and content that parse back to the record, for two topics and load times in turn', () => {
    for (const [topic, loadTime] of [['orders.v1', '2026-12-04T10:00:01.000Z'], ['orders "quoted"\n', '2026-12-04T10:00:02.000Z'], ['orders.v1', '2026-12-04T10:00:01.000Z']] as const) {
      const headers = {
        [HEADER.eventType]: Buffer.from('orders.v1.OrderPlaced'),
        [HEADER.eventId]: Buffer.from('0193-id'),
        [HEADER.occurredAt]: Buffer.from('2026-12-04T10:00:00.123Z'),
        [HEADER.producer]: Buffer.from('svc "a"\u2028'),
        [HEADER.schemaFingerprint]: Buffer.from('abcdef0123456789'),
        'x-custom "name"\n': [Buffer.from('first'), Buffer.from('last \\ value')],
        'x-empty': undefined,
      };
      const out = decodeRecord(registry, topic, 3, { offset: '42', timestamp: '1764842400123', key: Buffer.from('ord_1'), value: Buffer.from(bytes), headers }, loadTime);
      assert.equal(out.kind, 'row');
      if (out.kind !== 'row') return;
      assert.deepEqual(JSON.parse(out.row.metadata), {
        topic, partition: 3, offset: 42, CreateTime: 1764842400123, key: 'ord_1',
        headers: { [HEADER.eventType]: 'orders.v1.OrderPlaced', [HEADER.eventId]: '0193-id', [HEADER.occurredAt]: '2026-12-04T10:00:00.123Z', [HEADER.producer]: 'svc "a"\u2028', [HEADER.schemaFingerprint]: 'abcdef0123456789', 'x-custom "name"\n': 'last \\ value' },
        event_type: 'orders.v1.OrderPlaced', event_id: '0193-id', occurred_at: '2026-12-04T10:00:00.123Z', producer: 'svc "a"\u2028', schema_fingerprint: 'abcdef0123456789', load_time: loadTime,
      });
      assert.equal(out.row.content, JSON.stringify(registry.decode('orders.v1.OrderPlaced', bytes)));
      assert.equal(JSON.parse(out.row.content).context.userId, 'u"1\\');
      assert.equal(out.bytes, out.row.metadata.length + out.row.content.length);
    }
  });

  it('leaves envelope fields null when their headers are missing, and refuses what it cannot decode', () => {
    const out = decodeRecord(registry, 't', 0, { offset: '1', timestamp: '2', key: null, value: Buffer.from(bytes), headers: { [HEADER.eventType]: Buffer.from('orders.v1.OrderPlaced') } }, 'now');
    assert.equal(out.kind, 'row');
    if (out.kind === 'row') {
      const m = JSON.parse(out.row.metadata);
      assert.deepEqual([m.key, m.event_id, m.occurred_at, m.producer, m.schema_fingerprint], [null, null, null, null, null]);
    }
    assert.deepEqual(decodeRecord(registry, 't', 0, { offset: '1', timestamp: '2', key: null, value: null, headers: {} }, 'now'), { kind: 'tombstone' });
    assert.equal(decodeRecord(registry, 't', 0, { offset: '1', timestamp: '2', key: null, value: Buffer.from(bytes), headers: {} }, 'now').kind, 'poison');
    const bad = decodeRecord(registry, 't', 0, { offset: '1', timestamp: '2', key: null, value: Buffer.from([0x0a, 0x05, 0x61]), headers: { [HEADER.eventType]: Buffer.from('orders.v1.OrderPlaced') } }, 'now');
    assert.equal(bad.kind, 'poison');
    if (bad.kind === 'poison') assert.match(bad.reason, /cannot decode the value as orders\.v1\.OrderPlaced: index out of range/);
  });
});
