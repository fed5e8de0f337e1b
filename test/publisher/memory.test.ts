import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryPublisher } from '../../src/testing.js';
import { ClosedError, HEADER, UnknownEventTypeError, ValidationError } from '../../src/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { partitionForKey } from '../../src/kafka/murmur2.js';
import { schema } from '../../src/generated/examples.js';
import { orderPlaced, paymentFailed } from '../support/events.js';

describe('in-memory publisher', () => {
  it('records the Kafka record and the StatsD counter one publish() produces', async () => {
    const publisher = createMemoryPublisher({ schema, producer: 'checkout', partitions: { 'orders.v1': 6 }, statsd: { prefix: 'orders.', globalTags: { env: 'test' } } });
    const event = paymentFailed({ orderId: 'order-42', market: 'FR', platform: 'IOS', retryable: true });
    const receipt = await publisher.publish('orders.v1.PaymentFailed', event);

    assert.equal(publisher.records.length, 1);
    const record = publisher.records[0]!;
    assert.equal(record.topic, 'orders.v1');
    assert.equal(record.key, 'order-42');
    assert.equal(record.partition, partitionForKey('order-42', 6));
    assert.equal(record.headers[HEADER.eventType], 'orders.v1.PaymentFailed');
    assert.equal(record.headers[HEADER.eventId], receipt.eventId);
    assert.match(receipt.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
    assert.equal(record.headers[HEADER.occurredAt], (event.failedAt as Date).toISOString(), 'occurred-at is the event time field');
    assert.equal(record.headers[HEADER.producer], 'checkout');
    assert.ok(Math.abs(record.timestampMs - Date.now()) < 60_000, 'the record timestamp is the publish time');

    const decoded = new EventRegistry(schema).decode('orders.v1.PaymentFailed', record.value);
    assert.equal(decoded.orderId, 'order-42');
    assert.equal(decoded.market, 'FR');
    assert.equal(decoded.platform, 'IOS');
    assert.deepEqual(decoded.amount, { amountMinor: String(event.amount!.amountMinor), currency: 'GBP' });

    assert.deepEqual(publisher.counters.map(({ name, value, tags }) => ({ name, value, tags })), [
      {
        name: 'orders.payment_failed',
        value: 1,
        tags: { env: 'test', event_type: 'orders.v1.PaymentFailed', market: 'FR', platform: 'IOS', method: 'CARD', retryable: 'true' },
      },
    ]);
  });

  it('keeps high-cardinality fields out of the counter tags', async () => {
    const publisher = createMemoryPublisher({ schema });
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed());
    const tags = Object.keys(publisher.counters[0]!.tags);
    for (const field of ['order_id', 'orderId', 'user_id', 'error_code', 'errorCode', 'amount']) assert.ok(!tags.includes(field), `${field} must not be a tag`);
  });

  it('int64 values beyond 2^53 survive as decimal strings', async () => {
    const publisher = createMemoryPublisher({ schema });
    await publisher.publish('orders.v1.OrderPlaced', orderPlaced({ total: { amountMinor: 9007199254740993n, currency: 'EUR' } }));
    const decoded = new EventRegistry(schema).decode('orders.v1.OrderPlaced', publisher.records[0]!.value);
    assert.deepEqual(decoded.total, { amountMinor: '9007199254740993', currency: 'EUR' });
  });

  it('a string tag outside its allow-list is sent as other; the Kafka record keeps the real value', async () => {
    const publisher = createMemoryPublisher({ schema });
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed({ market: 'ZZ' }));
    assert.equal(publisher.counters[0]!.tags.market, 'other');
    assert.equal(new EventRegistry(schema).decode('orders.v1.PaymentFailed', publisher.records[0]!.value).market, 'ZZ');
  });

  it('caps distinct values per tag: values past the cap become other and are counted', async () => {
    const publisher = createMemoryPublisher({ schema, statsd: { maxTagValuesPerTag: 2 } });
    for (const platform of ['ANDROID', 'IOS', 'WEB', 'PLATFORM_UNSPECIFIED'] as const) {
      await publisher.publish('orders.v1.PaymentFailed', paymentFailed({ platform }));
    }
    assert.deepEqual(publisher.counters.map((c) => c.tags.platform), ['ANDROID', 'IOS', 'other', 'other']);
    assert.equal(publisher.stats().tagOverflows, 2);
  });

  it('an invalid event is rejected with the field path and nothing is recorded', async () => {
    const publisher = createMemoryPublisher({ schema });
    const cases: Array<[unknown, string, RegExp]> = [
      [{ ...paymentFailed(), amount: { amountMinor: 'lots', currency: 'GBP' } }, 'amount.amountMinor', /int64/],
      [{ ...paymentFailed(), platform: 'BLACKBERRY' }, 'platform', /one of PLATFORM_UNSPECIFIED, ANDROID, IOS, WEB/],
      [{ ...paymentFailed(), attempt: 1.5 }, 'attempt', /int32/],
      [{ ...paymentFailed(), context: { userId: 'u', sessionId: 's', deviceId: 7 } }, 'context.deviceId', /string/],
      [{ ...paymentFailed(), errorcode: 'x' }, 'errorcode', /did you mean 'errorCode'/],
      [(({ orderId: _omit, ...rest }) => rest)(paymentFailed()), 'orderId', /is required/],
      [{ ...paymentFailed(), failedAt: 'yesterday' }, 'failedAt', /Date/],
    ];
    for (const [event, path, problem] of cases) {
      const err = await publisher.publish('orders.v1.PaymentFailed', event as never).catch((e: Error) => e);
      assert.ok(err instanceof ValidationError, `${path}: expected ValidationError, got ${String(err)}`);
      assert.equal(err.fieldPath, path);
      assert.match(err.message, problem);
      assert.match(err.message, /orders\.v1\.PaymentFailed/);
    }
    assert.equal(publisher.records.length, 0);
    assert.equal(publisher.counters.length, 0);
    assert.equal(publisher.stats().invalid, cases.length);
  });

  it('an unknown event type is a typed error', async () => {
    const publisher = createMemoryPublisher({ schema });
    const err = await publisher.publish('orders.v1.PaymentFialed' as never, {} as never).catch((e: Error) => e);
    assert.ok(err instanceof UnknownEventTypeError);
    assert.match(err.message, /orders\.v1\.PaymentFialed/);
    assert.equal(publisher.records.length, 0);
  });

  it('publish after close is a typed error', async () => {
    const publisher = createMemoryPublisher({ schema });
    await publisher.close();
    const err = await publisher.publish('orders.v1.PaymentFailed', paymentFailed()).catch((e: Error) => e);
    assert.ok(err instanceof ClosedError);
    assert.equal(err.code, 'MD_CLOSED');
  });

  it('an event without an event-time value is stamped with now', async () => {
    const publisher = createMemoryPublisher({ schema });
    const before = Date.now();
    const { failedAt: _omit, ...event } = paymentFailed();
    const receipt = await publisher.publish('orders.v1.PaymentFailed', event);
    assert.ok(receipt.occurredAt.getTime() >= before && receipt.occurredAt.getTime() <= Date.now());
  });
});
