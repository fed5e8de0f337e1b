/**
 * What multidispatch itself costs per event, without a Kafka client: `publish()` through the real publisher core,
 * KafkaSink and ProducerPort, with the Kafka client replaced by a no-op that acknowledges every batch at once
 * (for measurement only; nothing here is a test double used elsewhere). StatsD goes through the real HotShotsSink
 * to a UDP port nobody listens on (aggregated: a few datagrams per second).
 *
 * The driver is C's (benchmarks/publish/variants.ts): ≤ maxOutstanding publishes unsettled, a setImmediate yield
 * every 1,000 events, then flush(). Reports CPU µs/event (process.cpuUsage, user + system) and wall µs/event over
 * the timed phase, the median of BENCH_HOTPATH_REPS runs, each in this process after a warm-up.
 *
 *   npm run build && node --import tsx --expose-gc benchmarks/publish/hotpath.ts     (200,000 events × 3 runs)
 *   BENCH_HOTPATH_N=100000 BENCH_HOTPATH_REPS=5 npx tsx benchmarks/publish/hotpath.ts
 *   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof benchmarks/publish/hotpath.ts   (then benchmarks/lib/cpuprofile.ts)
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { schema, type EventMap } from 'multidispatch/examples';
import type { KafkaAdmin, KafkaClient, KafkaProducer, ProduceAck, SendBatchRequest } from '../../src/kafka/port.js';
import { median, round } from '../lib/stats.js';
import { EVENT_TYPE, eventPool } from './events.js';

// The package's compiled modules (dist/, as an application runs them; `npm run build` first), typed from src/. Not
// src/ through tsx: tsx compiles with keepNames, whose __name() wrappers around inner functions cost more per event
// than some of the work measured here.
const dist = (path: string) => import(new URL(`../../dist/src/${path}`, import.meta.url).href);
const { ProducerPort } = (await dist('kafka/producer.js')) as typeof import('../../src/kafka/producer.js');
const { createPublisherCore } = (await dist('publisher/core.js')) as typeof import('../../src/publisher/core.js');
const { EventRegistry } = (await dist('schema/registry.js')) as typeof import('../../src/schema/registry.js');
const { KafkaSink } = (await dist('sinks/kafka/sink.js')) as typeof import('../../src/sinks/kafka/sink.js');
const { HotShotsSink } = (await dist('sinks/statsd/sink.js')) as typeof import('../../src/sinks/statsd/sink.js');

const envInt = (name: string, dflt: number) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : dflt);
const N = envInt('BENCH_HOTPATH_N', 200_000);
const REPS = envInt('BENCH_HOTPATH_REPS', 3);
const WARMUP = envInt('BENCH_HOTPATH_WARMUP', 50_000);
const PARTITIONS = 6;
const MAX_OUTSTANDING = 50_000;

/** A Kafka client whose producer acknowledges every batch on the next microtask, offsets counted per partition. */
function noopClient(): KafkaClient {
  const next = new Map<string, number>();
  const producer: KafkaProducer = {
    connect: async () => undefined,
    send: async () => [],
    sendBatch: async (r: SendBatchRequest): Promise<ProduceAck[]> => {
      const acks: ProduceAck[] = [];
      for (const t of r.topicMessages) {
        const counts = new Map<number, number>();
        for (const m of t.messages) counts.set(m.partition ?? 0, (counts.get(m.partition ?? 0) ?? 0) + 1);
        for (const [partition, count] of counts) {
          const k = `${t.topic}/${partition}`;
          const base = next.get(k) ?? 0;
          next.set(k, base + count);
          acks.push({ topicName: t.topic, partition, baseOffset: String(base) });
        }
      }
      return acks;
    },
    transaction: async () => {
      throw new Error('not in the hot-path benchmark');
    },
    disconnect: async () => undefined,
  };
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchTopicMetadata: async (req?: { topics?: string[] }) => ({
      topics: (req?.topics ?? []).map((name) => ({ name, partitions: Array.from({ length: PARTITIONS }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1] })) })),
    }),
  } as unknown as KafkaAdmin;
  return {
    name: 'kafkajs',
    producer: () => producer,
    consumer: () => {
      throw new Error('not in the hot-path benchmark');
    },
    admin: () => admin,
    classify: (err) => err,
    isRetriable: () => false,
  };
}

async function main(): Promise<void> {
  const pool = eventPool();
  const registry = new EventRegistry(schema, {});
  const port = new ProducerPort(noopClient(), { metadataMaxAgeMs: 300_000, requestTimeoutMs: 30_000 });
  const records = new KafkaSink(port, {
    lingerMs: 5,
    maxBatchCount: 10_000,
    maxBatchBytes: 1_000_000,
    maxBufferedEvents: 100_000,
    maxBufferedBytes: 64 * 2 ** 20,
    overflow: 'reject',
    deliveryTimeoutMs: 120_000,
    retryBackoffMs: 100,
  });
  const counters = new HotShotsSink({ host: '127.0.0.1', port: 9, protocol: 'udp', aggregateMs: 1000, maxPacketBytes: 1432, onError: () => undefined });
  const publisher = createPublisherCore<EventMap>({
    producer: 'bench',
    registry,
    records: Object.assign(records, { stats: records.stats }),
    counters,
    statsd: { prefix: '', globalTags: {}, maxTagValuesPerTag: 100, countOn: 'accept', eventTypeTag: 'event_type' },
  });

  let errors = 0;
  const phase = async (n: number, offset: number) => {
    let outstanding = 0;
    let wake: (() => void) | undefined;
    const settled = () => {
      outstanding--;
      if (wake && outstanding < MAX_OUTSTANDING) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    const fail = () => {
      errors++;
      settled();
    };
    for (let i = 0; i < n; i++) {
      if (outstanding >= MAX_OUTSTANDING) await new Promise<void>((r) => (wake = r));
      if (i > 0 && i % 1000 === 0) await yieldToLoop();
      outstanding++;
      publisher.publish(EVENT_TYPE, pool[(offset + i) % pool.length]!).then(settled, fail);
    }
    await publisher.flush();
  };

  await phase(WARMUP, 0);
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    (globalThis as { gc?: () => void }).gc?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await phase(N, WARMUP + rep * N);
    const t = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / N);
    wall.push((t * 1000) / N);
  }
  await publisher.close();
  const out = {
    n: N,
    reps: REPS,
    cpuUsPerEvent: round(median(cpu), 3),
    cpuRuns: cpu.map((x) => round(x, 3)),
    wallUsPerEvent: round(median(wall), 3),
    wallRuns: wall.map((x) => round(x, 3)),
    errors,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
