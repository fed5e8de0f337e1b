import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPublisher, HEADER, type PublishReceipt } from '../../src/index.js';
import { EventRegistry } from '../../src/schema/registry.js';
import { partitionForKey } from '../../src/kafka/murmur2.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { orderPlaced, paymentFailed } from '../support/events.js';

const registry = new EventRegistry(schema);

describe('publisher against a real Kafka broker', () => {
  it('published events read back by an independent consumer decode to what was published, with the envelope headers', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const publisher = createPublisher({ schema, producer: 'kafka-test', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    t.after(() => publisher.close());

    const sent: Array<{ type: string; event: object; receipt: PublishReceipt }> = [];
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 300; i++) {
      const [type, event] =
        i % 3 === 0
          ? (['orders.v1.OrderPlaced', orderPlaced()] as const)
          : i % 3 === 1
            ? (['orders.v1.PaymentFailed', paymentFailed()] as const)
            : (['orders.v1.OrderRejected', { orderId: `r-${i}`, restaurantId: 'rest-1', market: 'AE', aggregator: 'talabat', reason: 'TOO_BUSY', rejectedAt: new Date() }] as const);
      pending.push(publisher.publish(type as 'orders.v1.OrderPlaced', event as never).then((receipt) => void sent.push({ type, event, receipt })));
    }
    await Promise.all(pending);
    await publisher.flush();
    assert.equal(publisher.stats().delivered, 300);

    const records = await readAll(topic, { count: 300 });
    assert.equal(records.length, 300);
    const byId = new Map(records.map((r) => [r.headers[HEADER.eventId], r]));
    assert.equal(byId.size, 300, 'every event id appears once');
    for (const { type, event, receipt } of sent) {
      const r = byId.get(receipt.eventId);
      assert.ok(r, `event ${receipt.eventId} is in the topic`);
      assert.equal(r.headers[HEADER.eventType], type);
      assert.equal(r.headers[HEADER.producer], 'kafka-test');
      assert.equal(r.headers[HEADER.occurredAt], receipt.occurredAt.toISOString());
      assert.match(r.headers[HEADER.schemaFingerprint]!, /^[0-9a-f]{16}$/);
      assert.equal(r.partition, receipt.partition);
      assert.equal(r.offset, receipt.offset);
      assert.equal(r.key, (event as { orderId: string }).orderId);
      assert.equal(r.partition, partitionForKey(r.key!, 3), 'Java-compatible murmur2 partition');
      assert.ok(Math.abs(Number(r.timestamp) - Date.now()) < 120_000, 'the record timestamp is the publish time');
      const expected = registry.decode(type, registry.encode(type, event).bytes);
      assert.deepEqual(registry.decode(type, r.value!), expected);
    }
  });

  it('a topic that does not exist fails publish() with an error naming it', async (t) => {
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': `missing-${Date.now()}` } });
    t.after(() => publisher.close());
    const err = await publisher.publish('orders.v1.PaymentFailed', paymentFailed()).catch((e: Error) => e);
    assert.ok(err instanceof Error && 'code' in err, String(err));
    assert.equal(err.code, 'MD_KAFKA_DELIVERY');
    assert.match(err.message, /missing-\d+.*does not exist/);
  });

  it('an invalid event sends nothing to Kafka', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    t.after(() => publisher.close());
    await assert.rejects(publisher.publish('orders.v1.PaymentFailed', { ...paymentFailed(), attempt: 'twice' } as never), { code: 'MD_VALIDATION', fieldPath: 'attempt' });
    await publisher.publish('orders.v1.PaymentFailed', paymentFailed({ orderId: 'the-valid-one' }));
    await publisher.flush();
    const records = await readAll(topic, { count: 1, settleMs: 1500 });
    assert.deepEqual(records.map((r) => r.key), ['the-valid-one']);
  });

  it('flush() waits for everything accepted; close() then refuses new events', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic }, lingerMs: 1000 });
    t.after(() => publisher.close());
    const results: string[] = [];
    for (let i = 0; i < 50; i++) void publisher.publish('orders.v1.PaymentFailed', paymentFailed()).then((r) => results.push(r.offset));
    await publisher.flush();
    assert.equal(results.length, 50, 'every publish() settled before flush() returned, well before lingerMs');
    await publisher.close();
    await assert.rejects(publisher.publish('orders.v1.PaymentFailed', paymentFailed()), { code: 'MD_CLOSED' });
  });

  it('a full buffer rejects with a typed error and keeps what it accepted', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic }, maxBufferedEvents: 10, maxBatchCount: 10, lingerMs: 200 });
    t.after(() => publisher.close());
    const accepted: Array<Promise<PublishReceipt>> = [];
    let full: unknown;
    for (let i = 0; i < 25 && !full; i++) {
      const p = publisher.publish('orders.v1.PaymentFailed', paymentFailed());
      const outcome = await Promise.race([p.then(() => 'ok', (e: Error) => e), new Promise((r) => setImmediate(() => r('pending')))]);
      if (outcome instanceof Error) full = outcome;
      else accepted.push(p);
    }
    assert.ok(full && (full as { code?: string }).code === 'MD_BUFFER_FULL', `expected MD_BUFFER_FULL, got ${String(full)}`);
    await Promise.all(accepted);
    assert.equal(publisher.stats().dropped, 1);
    const records = await readAll(topic, { count: accepted.length, settleMs: 1000 });
    assert.equal(records.length, accepted.length);
  });
});
