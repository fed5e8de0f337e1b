/**
 * The derive runner against a real broker: events published with chosen event times → metric values read back
 * from the metrics topic (read_committed) equal a count done by hand; windows close when traffic stops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPublisher } from '../../src/index.js';
import { schema } from '../../src/generated/examples.js';
import { defineMetrics } from '../../src/derive/definitions.js';
import { decodeMetric } from '../../src/derive/outputs.js';
import { DeriveRunner } from '../../src/derive/runner.js';
import { tumbling } from '../../src/derive/windows.js';
import { brokers, freshTopic, readAll } from '../support/kafka.js';
import { capturingLogger } from '../support/loader.js';
import { exporter, waitForSample } from '../support/statsd.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

describe('derive runner (real broker)', () => {
  it('tumbling counts per aggregator, read back from the metrics topic, equal a count by hand; the last window closes on the idle clock', async (t) => {
    // Three input partitions: events of one aggregator come from all of them and meet after the repartition.
    const topic = await freshTopic(t, { partitions: 3 });
    const metricsTopic = await freshTopic(t, { partitions: 1, prefix: 'metrics' });
    const alertsTopic = await freshTopic(t, { partitions: 1, prefix: 'alerts' });
    const aggregators = ['talabat', 'careem', 'deliveroo'];
    const events = Array.from({ length: 240 }, (_, i) => ({
      orderId: `o-${i}`, restaurantId: `r-${i % 7}`, market: 'AE', aggregator: aggregators[(i * 7) % 3]!, reason: 'TOO_BUSY' as const,
      rejectedAt: new Date(T0 + i * 5_000 + (i % 4) * 700), // 20 minutes, in order
    }));
    const publisher = createPublisher({ schema, producer: 'derive-test', kafka: { brokers: brokers() }, statsd: false, topics: { 'orders.v1': topic } });
    await Promise.all(events.map((e) => publisher.publish('orders.v1.OrderRejected', e)));
    await publisher.close();

    const metrics = defineMetrics(schema, [
      { name: 'rejections_5m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: tumbling('5m') },
    ]);
    const { logger } = capturingLogger();
    const group = `derive-${topic}`;
    const runner = new DeriveRunner({ kafka: { brokers: brokers() }, schema, metrics, group, topics: [topic], metricsTopic, alertsTopic, idleMs: 1500, commitIntervalMs: 300, prometheusPort: 0, logger,
      statsd: { host: exporter().host, port: exporter().port, prefix: `derive_${topic.replace(/[^a-z0-9]/gi, '_')}_` } });
    t.after(() => runner.stop());
    await runner.start();

    // Expected: per (aggregator, 5-minute window), by hand.
    const expected = new Map<string, number>();
    for (const e of events) {
      const k = `${e.aggregator}|${Math.floor(e.rejectedAt.getTime() / (5 * MIN)) * 5 * MIN}`;
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    // All windows close, the last one by the idle clock once traffic has stopped; read them back (read_committed)
    // and keep reading a little longer so a duplicate would show.
    const records = await readAll(metricsTopic, { count: expected.size, timeoutMs: 60_000, settleMs: 2000 });
    const values = records.map((r) => decodeMetric(r.value!));
    const got = new Map(values.map((m) => [`${m.dimensions.aggregator}|${m.windowStart}`, m.value]));
    assert.equal(got.size, values.length, 'each window once');
    assert.deepEqual(got, expected);
    assert.ok(values.every((v) => v.final && v.windowEnd! - v.windowStart! === 5 * MIN && v.emittedAt! > 0));
    assert.ok(runner.stats.consumed >= events.length);

    // Prometheus: the latest closed window per aggregator, and the consumer's health.
    const text = await (await fetch(`http://127.0.0.1:${runner.prometheusPort}/metrics`)).text();
    const lastWindow = Math.max(...[...expected.keys()].map((k) => Number(k.split('|')[1])));
    for (const agg of aggregators) {
      const m = new RegExp(`^rejections_5m\\{aggregator="${agg}"\\} (\\S+)$`, 'm').exec(text);
      assert.ok(m, `gauge for ${agg} in:\n${text.slice(0, 800)}`);
      assert.equal(Number(m[1]), expected.get(`${agg}|${lastWindow}`));
    }
    assert.match(text, new RegExp(`^multidispatch_derive_consumed_records_total ${events.length}$`, 'm'));
    assert.match(text, new RegExp(`^multidispatch_derive_produced_records_total ${expected.size}$`, 'm'));
    assert.match(text, /^multidispatch_derive_rebalances_total [1-9]/m);

    // StatsD (a real statsd_exporter): the same latest window per aggregator, as a gauge with the tag.
    for (const agg of aggregators) {
      const sample = await waitForSample((x) => x.name === `derive_${topic.replace(/[^a-z0-9]/gi, '_')}_rejections_5m` && x.labels.aggregator === agg && x.value === expected.get(`${agg}|${lastWindow}`), 10_000);
      assert.equal(sample.value, expected.get(`${agg}|${lastWindow}`));
    }
  });
});
