import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createPublisher, loadSchema } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { exporter, scrape, waitForSample } from '../support/statsd.js';
import { paymentFailed } from '../support/events.js';
import { freeUdpPort } from '../../src/dev/net.js';

const prefix = () => `t${randomBytes(4).toString('hex')}_`;

describe('StatsD counters against a real statsd_exporter', () => {
  it('one counter per event, with exactly the tag fields as labels, summing to the events published', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const p = prefix();
    const { host, port, metricsUrl } = exporter();
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, topics: { 'orders.v1': topic }, statsd: { host, port, prefix: p, aggregateMs: 100, globalTags: { service: 'checkout' } } });
    t.after(() => publisher.close());

    const events = [
      ...Array.from({ length: 30 }, () => paymentFailed({ market: 'GB', platform: 'ANDROID', retryable: true })),
      ...Array.from({ length: 12 }, () => paymentFailed({ market: 'FR', platform: 'IOS', retryable: true })),
    ];
    await Promise.all(events.map((e) => publisher.publish('orders.v1.PaymentFailed', e)));
    await publisher.flush();

    const name = `${p}payment_failed`;
    const gb = await waitForSample((s) => s.name === name && s.labels.market === 'GB' && s.value === 30, 15_000, metricsUrl);
    assert.deepEqual(Object.keys(gb.labels).sort(), ['event_type', 'market', 'method', 'platform', 'retryable', 'service']);
    assert.deepEqual(gb.labels, { event_type: 'orders.v1.PaymentFailed', market: 'GB', method: 'CARD', platform: 'ANDROID', retryable: 'true', service: 'checkout' });
    await waitForSample((s) => s.name === name && s.labels.market === 'FR' && s.labels.platform === 'IOS' && s.value === 12, 15_000, metricsUrl);
    const all = (await scrape(metricsUrl)).filter((s) => s.name === name);
    assert.equal(all.reduce((sum, s) => sum + s.value, 0), 42, 'counter totals equal the events published');
    for (const s of all) for (const label of ['order_id', 'user_id', 'error_code', 'session_id']) assert.ok(!(label in s.labels), `${label} is high cardinality`);
  });

  it('a tag value with | , # : and a newline cannot inject a metric', async (t) => {
    const hostile = await loadSchema(new URL('../fixtures/protos/hostile-tags', import.meta.url).pathname);
    const topic = await freshTopic(t, { partitions: 1 });
    const p = prefix();
    const { host, port, metricsUrl } = exporter();
    const publisher = createPublisher({ schema: hostile, kafka: { brokers: brokers() }, topics: { 'hostile.v1': topic }, statsd: { host, port, prefix: p, aggregateMs: 0, globalTags: { 'team|x': 'a:b,c#d\ne' } } });
    t.after(() => publisher.close());
    await publisher.publish('hostile.v1.Probe', { id: '1', label: 'x|c\nforged_metric:100|c' });
    await publisher.publish('hostile.v1.Probe', { id: '2', label: 'a,b#c:d@e' });
    await publisher.flush();

    await waitForSample((s) => s.name === `${p}probe` && s.labels.label === 'x_c_forged_metric_100_c', 15_000, metricsUrl);
    await waitForSample((s) => s.name === `${p}probe` && s.labels.label === 'a_b_c_d_e', 15_000, metricsUrl);
    const samples = await scrape(metricsUrl);
    assert.deepEqual(samples.filter((s) => s.name.includes('forged')), [], 'no forged metric exists');
    const ours = samples.filter((s) => s.name.startsWith(p));
    assert.deepEqual([...new Set(ours.map((s) => s.name))], [`${p}probe`]);
    assert.ok(ours.every((s) => s.labels.team_x === 'a_b_c_d_e'), 'global tags are sanitised too');
    const records = await readAll(topic, { count: 2 });
    assert.equal(records.length, 2, 'the Kafka side kept both events');
  });

  it('more distinct values than the cap end in other', async (t) => {
    const topic = await freshTopic(t, { partitions: 1 });
    const p = prefix();
    const { host, port, metricsUrl } = exporter();
    const publisher = createPublisher({ schema, kafka: { brokers: brokers() }, topics: { 'orders.v1': topic }, statsd: { host, port, prefix: p, aggregateMs: 100, maxTagValuesPerTag: 2 } });
    t.after(() => publisher.close());
    for (const platform of ['ANDROID', 'IOS', 'WEB', 'PLATFORM_UNSPECIFIED', 'WEB'] as const) await publisher.publish('orders.v1.PaymentFailed', paymentFailed({ platform, market: 'IE', retryable: false }));
    await publisher.flush();
    await waitForSample((s) => s.name === `${p}payment_failed` && s.labels.platform === 'other' && s.value === 3, 15_000, metricsUrl);
    const platforms = (await scrape(metricsUrl)).filter((s) => s.name === `${p}payment_failed`).map((s) => s.labels.platform).sort();
    assert.deepEqual(platforms, ['ANDROID', 'IOS', 'other']);
    assert.equal(publisher.stats().tagOverflows, 3);
  });

  it('with no StatsD receiver listening, publish() still resolves and Kafka has every event', async (t) => {
    const topic = await freshTopic(t, { partitions: 2 });
    const errors: Error[] = [];
    const deadPort = await freeUdpPort();
    const publisher = createPublisher({
      schema,
      kafka: { brokers: brokers() },
      topics: { 'orders.v1': topic },
      statsd: { host: '127.0.0.1', port: deadPort, aggregateMs: 0, maxPacketBytes: 0 },
      onError: (err) => {
        errors.push(err);
        throw new Error('a throwing hook must not break publish()');
      },
    });
    t.after(() => publisher.close());
    const receipts = await Promise.all(Array.from({ length: 60 }, () => publisher.publish('orders.v1.PaymentFailed', paymentFailed())));
    assert.equal(receipts.length, 60);
    await publisher.flush();
    const records = await readAll(topic, { count: 60 });
    assert.equal(new Set(records.map((r) => r.headers['md-event-id'])).size, 60);
    assert.equal(publisher.stats().delivered, 60);
    assert.equal(publisher.stats().statsdIncrements, 60);
  });
});
