import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, kafkaConnectionSchema } from '../kafka/client.js';
import { deleteTopics, ensureTopics } from '../kafka/admin.js';
import { tailTopic } from '../kafka/tail.js';
import { parseOptions } from '../config/parse.js';
import { startKafka, type KafkaHandle } from '../dev/kafka.js';
import { startStatsdExporter, type StatsdExporterHandle } from '../dev/statsd-exporter.js';
import { schema } from '../generated/examples.js';
import { createPublisher } from '../publisher/index.js';
import { HEADER } from '../schema/envelope.js';
import { EventRegistry } from '../schema/registry.js';
import { simulateOrders } from './simulate.js';

export interface DemoOptions {
  /** Use these brokers instead of starting a local one. */
  brokers?: string[];
  orders: number;
  seed: number;
  log: (line: string) => void;
}

export interface DemoSummary {
  published: number;
  failed: number;
  kafkaByType: Record<string, number>;
  statsdByType: Record<string, number>;
  agree: boolean;
}

/**
 * The main job as it stands: start (or use) a broker and a real StatsD receiver, publish the ordering flow
 * with one call per event, then read both sides back and show that they agree.
 */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const cleanups: Array<() => Promise<void>> = [];
  try {
    let brokers = o.brokers;
    if (!brokers) {
      const dir = await mkdtemp(join(tmpdir(), 'multidispatch-demo-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const kafka: KafkaHandle = await startKafka({ dataDir: join(dir, 'kafka'), onProgress: (m) => o.log(`kafka: ${m}`) });
      cleanups.push(() => kafka.stop());
      brokers = [kafka.brokers];
    }
    const exporter: StatsdExporterHandle = await startStatsdExporter({ onProgress: (m) => o.log(`statsd: ${m}`) });
    cleanups.push(() => exporter.stop());

    const kafka = createKafka(parseOptions(kafkaConnectionSchema, { brokers, clientId: 'multidispatch-demo' }, 'brokers'));
    const topic = `demo-${Date.now().toString(36)}.orders.v1`;
    await ensureTopics(kafka, [{ topic, partitions: 3 }]);
    cleanups.push(() => deleteTopics(kafka, [topic]).catch(() => undefined));
    o.log(`topic ${topic} (3 partitions) on ${brokers.join(',')}`);

    const publisher = createPublisher({
      schema,
      producer: 'demo-ordering-service',
      kafka: { brokers, clientId: 'multidispatch-demo' },
      topics: { 'orders.v1': topic },
      statsd: { host: exporter.host, port: exporter.port, aggregateMs: 200, globalTags: { service: 'ordering' } },
    });
    const started = Date.now();
    let published = 0;
    let failed = 0;
    const pending: Array<Promise<unknown>> = [];
    for (const { type, event } of simulateOrders({ orders: o.orders, users: Math.ceil(o.orders / 3), seed: o.seed, startMs: Date.now() - 30 * 60_000, spanMs: 30 * 60_000, paymentFailureRate: 0.12 })) {
      pending.push(publisher.publish(type, event as never).then(() => published++, () => failed++));
    }
    await Promise.all(pending);
    await publisher.close();
    o.log(`published ${published} events for ${o.orders} orders in ${((Date.now() - started) / 1000).toFixed(2)} s (${failed} failed)`);

    const registry = new EventRegistry(schema);
    const kafkaByType: Record<string, number> = {};
    let sample: unknown;
    await tailTopic(kafka, { topic, fromBeginning: true, max: published, idleMs: 15_000 }, (r) => {
      const type = r.headers[HEADER.eventType] ?? '(none)';
      kafkaByType[type] = (kafkaByType[type] ?? 0) + 1;
      if (!sample && type === 'orders.v1.PaymentFailed' && r.value) sample = { type, key: r.key?.toString(), partition: r.partition, offset: r.offset, headers: r.headers, event: registry.decode(type, r.value) };
    });

    const statsdByType = await scrapeCounters(exporter.metricsUrl, published);
    const types = [...new Set([...Object.keys(kafkaByType), ...Object.keys(statsdByType)])].sort();
    const agree = types.every((t) => kafkaByType[t] === statsdByType[t]);
    o.log('');
    o.log(`${'event type'.padEnd(34)} ${'Kafka records'.padStart(13)} ${'StatsD count'.padStart(13)}`);
    for (const t of types) o.log(`${t.padEnd(34)} ${String(kafkaByType[t] ?? 0).padStart(13)} ${String(statsdByType[t] ?? 0).padStart(13)}`);
    o.log('');
    o.log(agree ? 'Kafka and StatsD agree for every event type.' : 'Kafka and StatsD DISAGREE (see the table).');
    if (sample) o.log(`one PaymentFailed as read back from Kafka:\n${JSON.stringify(sample, null, 2)}`);
    return { published, failed, kafkaByType, statsdByType, agree };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

/** Sums the exporter's counters per event_type label, waiting until the expected total has arrived. */
async function scrapeCounters(metricsUrl: string, expected: number): Promise<Record<string, number>> {
  const deadline = Date.now() + 15_000;
  let byType: Record<string, number> = {};
  for (;;) {
    byType = {};
    const text = await (await fetch(metricsUrl)).text();
    for (const line of text.split('\n')) {
      const m = /^[a-z_]+\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
      const type = m && /event_type="([^"]+)"/.exec(m[1]!)?.[1];
      if (m && type) byType[type] = (byType[type] ?? 0) + Number(m[2]);
    }
    const total = Object.values(byType).reduce((a, b) => a + b, 0);
    if (total >= expected || Date.now() > deadline) return byType;
    await new Promise((r) => setTimeout(r, 250));
  }
}
