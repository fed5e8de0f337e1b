import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublisher, HEADER, MdError, type PublishReceipt } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, freshTopic, readAll, restartBroker } from '../support/kafka.js';
import { paymentFailed } from '../support/events.js';

describe('broker stopped mid-stream and restarted', () => {
  it('every publish() that resolved is in the topic exactly once, every rejection says why, nothing is lost silently', async (t) => {
    const topic = await freshTopic(t, { partitions: 3 });
    const publisher = createPublisher({ schema, kafka: { brokers: brokers(), requestTimeoutMs: 5000 }, statsd: false, topics: { 'orders.v1': topic }, deliveryTimeoutMs: 90_000, lingerMs: 5 });
    t.after(() => publisher.close());

    const resolved: PublishReceipt[] = [];
    const rejected: Error[] = [];
    const settled: Array<Promise<void>> = [];
    let stop = false;
    let published = 0;
    const producerLoop = (async () => {
      while (!stop) {
        for (let i = 0; i < 20; i++) {
          published++;
          settled.push(
            publisher.publish('orders.v1.PaymentFailed', paymentFailed()).then(
              (r) => void resolved.push(r),
              (e: Error) => void rejected.push(e),
            ),
          );
        }
        await sleep(10);
      }
    })();

    await sleep(1500);
    const before = resolved.length;
    await restartBroker({ downMs: 4000 });
    await sleep(1500);
    stop = true;
    await producerLoop;
    await Promise.all(settled);

    assert.ok(before > 0, 'events were acknowledged before the broker stopped');
    assert.equal(resolved.length + rejected.length, published, 'every publish() settled');
    for (const err of rejected) {
      assert.ok(err instanceof MdError, `rejections are typed: ${String(err)}`);
      assert.ok(err.message.length > 10);
    }
    const records = await readAll(topic, { count: resolved.length, settleMs: 3000 });
    const seen = new Map<string, number>();
    for (const r of records) seen.set(r.headers[HEADER.eventId]!, (seen.get(r.headers[HEADER.eventId]!) ?? 0) + 1);
    const duplicates = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(duplicates, [], 'no event is in the topic twice');
    for (const r of resolved) assert.equal(seen.get(r.eventId), 1, `resolved event ${r.eventId} is in the topic exactly once`);
    t.diagnostic(`published ${published}, resolved ${resolved.length}, rejected ${rejected.length}, records ${records.length}, resolved before stop ${before}`);
  });
});
