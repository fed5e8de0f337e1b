import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { createMemoryPublisher } from '../../src/testing.js';
import { HEADER } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { IsoTime, UuidV7, uuidV7Of } from '../../src/publisher/envelope.js';
import { paymentFailed } from '../support/events.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('envelope: event id and occurred-at', () => {
  it('IsoTime gives the text of Date#toISOString for every millisecond, cached per second or not', () => {
    const iso = new IsoTime();
    const values = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 951782400000, 1_700_000_000_000, 1_700_000_000_999, 253402300799999, 253402300800000, -1, -62198755200000, 8.64e15];
    for (let i = 0; i < 2000; i++) values.push(randomInt(0, 2 ** 47));
    // Runs within one second, the case the cache is for.
    for (let i = 0; i < 2000; i++) values.push(1_764_000_000_000 + i);
    for (const ms of values) assert.equal(iso.format(ms), new Date(ms).toISOString(), `ms ${ms}`);
    assert.equal(iso.format(1.5), new Date(1.5).toISOString());
    assert.throws(() => iso.format(Number.NaN), RangeError, 'an invalid time fails as toISOString does');
  });

  it('UuidV7 lays ids out byte for byte as the uuid package does', () => {
    for (let i = 0; i < 2000; i++) {
      const msecs = randomInt(0, 2 ** 47);
      const seq = randomInt(0, 2 ** 32) | 0;
      const random = randomBytes(16);
      assert.equal(uuidV7Of(msecs, seq, random.subarray(10)), uuidv7({ msecs, seq, random }));
    }
  });

  it('UuidV7 ids are v7, unique, and sort in generation order within and across milliseconds', () => {
    const gen = new UuidV7();
    const ids: string[] = [];
    const t = 1_764_000_000_000;
    for (let ms = 0; ms < 5; ms++) for (let i = 0; i < 3000; i++) ids.push(gen.next(t + ms));
    // A clock that steps back keeps the order (the counter goes on from the last id).
    for (let i = 0; i < 100; i++) ids.push(gen.next(t));
    for (let i = 0; i < 3000; i++) ids.push(gen.next());
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length, 'unique');
    assert.deepEqual([...ids].sort(), ids, 'sorted as generated');
    assert.equal(ids[0]!.replace(/-/g, '').slice(0, 12), (t).toString(16).padStart(12, '0'), 'the first 48 bits are the milliseconds');
  });

  it("publish() writes the same header names and values as before: HEADER's names, the uuid, toISOString of the event time", async () => {
    const publisher = createMemoryPublisher({ schema, producer: 'checkout' });
    const failedAt = new Date('2026-03-01T12:34:56.007Z');
    const receipt = await publisher.publish('orders.v1.PaymentFailed', paymentFailed({ failedAt }));
    const { headers } = publisher.records[0]!;
    assert.deepEqual(Object.keys(headers), [HEADER.eventType, HEADER.eventId, HEADER.occurredAt, HEADER.producer, HEADER.schemaFingerprint]);
    const bytes = (v: unknown) => Buffer.from(v as string | Buffer);
    assert.deepEqual(bytes(headers[HEADER.eventType]), Buffer.from('orders.v1.PaymentFailed'));
    assert.deepEqual(bytes(headers[HEADER.eventId]), Buffer.from(receipt.eventId));
    assert.deepEqual(bytes(headers[HEADER.occurredAt]), Buffer.from(failedAt.toISOString()));
    assert.deepEqual(bytes(headers[HEADER.producer]), Buffer.from('checkout'));
    assert.match(bytes(headers[HEADER.schemaFingerprint]).toString(), /^[0-9a-f]{16}$/);
    assert.match(receipt.eventId, UUID_V7);
    assert.deepEqual(receipt.occurredAt, failedAt);
    await publisher.close();
  });
});
