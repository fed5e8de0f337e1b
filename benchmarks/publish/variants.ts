/**
 * The ways of publishing that the benchmark compares. Each `phase(n, offset, latencies)` publishes n
 * events from the pool and returns once every one of them is acknowledged by Kafka (acks=all) and handed to
 * the StatsD socket; latencies[i] gets event i's publish-to-ack time in ms.
 *
 * A, B and Bh are hand-written on kafkajs, B′ and Bh′ the same loop as B and Bh on @platformatic/kafka, C and C′
 * multidispatch's publish() on kafkajs and on @platformatic/kafka (the `kafka.client` connection option).
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import HotShots, { type StatsD } from 'hot-shots';
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { Producer as PlatformaticProducer, type MessageToProduce } from '@platformatic/kafka';
import protobuf from 'protobufjs';
import { v7 as uuidv7 } from 'uuid';
import { createPublisher, type PublisherOptions } from 'multidispatch';
import { murmur2, toPositive } from 'multidispatch/kafka';
import { schema } from 'multidispatch/examples';
import { counterTags, EVENT_TYPE, METRIC, type PaymentFailed } from './events.js';

export const VARIANT_IDS = ['A', 'B', 'Bh', 'B′', 'Bh′', 'C', 'C′'] as const;
export type VariantId = (typeof VARIANT_IDS)[number];

/** The Kafka client each variant runs on (C and C′ through the publisher's `kafka.client` option). */
export const CLIENT_OF: Record<VariantId, 'kafkajs' | 'platformatic'> = { A: 'kafkajs', B: 'kafkajs', Bh: 'kafkajs', 'B′': 'platformatic', 'Bh′': 'platformatic', C: 'kafkajs', 'C′': 'platformatic' };

export interface VariantConfig {
  variant: VariantId;
  brokers: string;
  topic: string;
  statsdPort: number;
  /** B: records per sendBatch. */
  batchSize: number;
  /** C: most publish() calls the driver lets be outstanding. */
  maxOutstanding: number;
  /** B and C: the driver yields to the event loop (setImmediate) every this many events. */
  yieldEvery: number;
  /** C and C′ only: publish at this steady rate (events/s) instead of as fast as possible, for latency at a given load. */
  ratePerSec?: number;
}

export interface Variant {
  phase(n: number, offset: number, latencies: Float64Array | undefined): Promise<void>;
  close(): Promise<void>;
  errors: number;
  firstError?: string;
}

const now = () => performance.now();

function kafka(brokers: string): Kafka {
  return new Kafka({ clientId: 'bench', brokers: [brokers], logLevel: logLevel.NOTHING });
}

/** protobufjs directly, as hand-written code would: fromObject (enum names, int64) then encode, no validation. */
function protobufEncoder(): (e: PaymentFailed) => Buffer {
  const root = protobuf.Root.fromJSON(schema.bundle.descriptor as protobuf.INamespace);
  const type = root.lookupType(EVENT_TYPE);
  return (e) => {
    const ms = e.failedAt instanceof Date ? e.failedAt.getTime() : Date.now();
    const msg = type.fromObject({ ...e, failedAt: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } });
    const bytes = type.encode(msg).finish();
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

async function idempotentProducer(brokers: string): Promise<Producer> {
  const producer = kafka(brokers).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}

function hotShots(port: number, buffered: boolean, onError: (e: Error) => void): StatsD {
  return new HotShots({
    host: '127.0.0.1',
    port,
    protocol: 'udp',
    cacheDns: true,
    errorHandler: onError,
    ...(buffered ? { maxBufferSize: 1432, bufferFlushInterval: 1000, aggregation: { flushInterval: 1000 } } : { maxBufferSize: 0 }),
  });
}

const flushStatsd = (c: StatsD) => new Promise<void>((res) => c.flush(() => res()));
const closeStatsd = (c: StatsD) => new Promise<void>((res) => c.close(() => res()));

/** (A) naive: encode, `await send([one])`, an unbuffered increment; one event at a time. */
async function naive(cfg: VariantConfig, pool: PaymentFailed[]): Promise<Variant> {
  const encode = protobufEncoder();
  const producer = await idempotentProducer(cfg.brokers);
  const v: Variant = {
    errors: 0,
    async phase(n, offset, lat) {
      for (let i = 0; i < n; i++) {
        const e = pool[(offset + i) % pool.length]!;
        const t = now();
        await producer.send({ topic: cfg.topic, acks: -1, messages: [{ key: e.orderId, value: encode(e) }] });
        statsd.increment(METRIC, 1, counterTags(e));
        if (lat) lat[i] = now() - t;
      }
      await flushStatsd(statsd);
    },
    async close() {
      await producer.disconnect();
      await closeStatsd(statsd);
    },
  };
  const statsd = hotShots(cfg.statsdPort, false, (err) => ((v.errors++, (v.firstError ??= err.message))));
  return v;
}

/**
 * The five envelope headers multidispatch writes on every record (md-event-type, md-event-id as uuid v7,
 * md-occurred-at as ISO-8601, md-producer, md-schema-fingerprint), built by hand: for the diagnostic
 * variant Bh, which is B producing records of the same shape as C.
 */
function envelopeHeaders(): (e: PaymentFailed) => Record<string, string> {
  const fingerprint = schemaFingerprint();
  return (e) => ({
    'md-event-type': EVENT_TYPE,
    'md-event-id': uuidv7(),
    'md-occurred-at': (e.failedAt instanceof Date ? e.failedAt : new Date()).toISOString(),
    'md-producer': 'bench',
    'md-schema-fingerprint': fingerprint,
  });
}

function schemaFingerprint(): string {
  const root = protobuf.Root.fromJSON(schema.bundle.descriptor as protobuf.INamespace);
  return createHash('sha256').update(JSON.stringify(root.lookupType(EVENT_TYPE).toJSON())).digest('hex').slice(0, 16);
}

/**
 * (B) tuned: fixed-size sendBatch, one batch in flight while the next one is encoded, StatsD buffered
 * into 1432-byte datagrams with hot-shots' client-side aggregation (1 s), counted when the event is accepted.
 * With `envelope` (variant Bh, a diagnostic), every record also carries multidispatch's five headers.
 */
async function tuned(cfg: VariantConfig, pool: PaymentFailed[], envelope = false): Promise<Variant> {
  const encode = protobufEncoder();
  const headers = envelope ? envelopeHeaders() : undefined;
  const producer = await idempotentProducer(cfg.brokers);
  const v: Variant = {
    errors: 0,
    async phase(n, offset, lat) {
      const starts = new Float64Array(cfg.batchSize);
      let inFlight: Promise<void> | undefined;
      let batch: Message[] = [];
      let first = 0;
      const send = (messages: Message[], from: number, t0: Float64Array): Promise<void> =>
        producer.sendBatch({ acks: -1, topicMessages: [{ topic: cfg.topic, messages }] }).then(() => {
          if (!lat) return;
          const t = now();
          for (let j = 0; j < messages.length; j++) lat[from + j] = t - t0[j]!;
        });
      let batchStarts = starts;
      for (let i = 0; i < n; i++) {
        if (i > 0 && i % cfg.yieldEvery === 0) await yieldToLoop();
        const e = pool[(offset + i) % pool.length]!;
        batchStarts[batch.length] = now();
        batch.push(headers ? { key: e.orderId, value: encode(e), headers: headers(e) } : { key: e.orderId, value: encode(e) });
        statsd.increment(METRIC, 1, counterTags(e));
        if (batch.length === cfg.batchSize) {
          if (inFlight) await inFlight;
          inFlight = send(batch, first, batchStarts);
          batch = [];
          first = i + 1;
          batchStarts = new Float64Array(cfg.batchSize);
        }
      }
      if (inFlight) await inFlight;
      if (batch.length > 0) await send(batch, first, batchStarts);
      await flushStatsd(statsd);
    },
    async close() {
      await producer.disconnect();
      await closeStatsd(statsd);
    },
  };
  const statsd = hotShots(cfg.statsdPort, true, (err) => ((v.errors++, (v.firstError ??= err.message))));
  return v;
}

/**
 * The same five headers as `envelopeHeaders`, as @platformatic/kafka takes them: a Map of Buffers, names
 * included (it hangs on a plain object of strings). Names and constant values are Buffers made once, as
 * hand-tuned code would make them.
 */
function envelopeHeaderMap(): (e: PaymentFailed) => Map<Buffer, Buffer> {
  const [kType, kId, kAt, kProducer, kFingerprint] = ['md-event-type', 'md-event-id', 'md-occurred-at', 'md-producer', 'md-schema-fingerprint'].map((k) => Buffer.from(k)) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  const type = Buffer.from(EVENT_TYPE);
  const producer = Buffer.from('bench');
  const fingerprint = Buffer.from(schemaFingerprint());
  return (e) =>
    new Map([
      [kType, type],
      [kId, Buffer.from(uuidv7())],
      [kAt, Buffer.from((e.failedAt instanceof Date ? e.failedAt : new Date()).toISOString())],
      [kProducer, producer],
      [kFingerprint, fingerprint],
    ]);
}

/**
 * (B′) B's loop on @platformatic/kafka's Producer: idempotent (acks -1), the same batch size, one batch in flight
 * while the next one is encoded, the same records (key as a UTF-8 Buffer, partitioned with the Java client's
 * murmur2 like B) and the same StatsD client. With `envelope` (Bh′), every record also carries the five headers.
 */
async function tunedPlatformatic(cfg: VariantConfig, pool: PaymentFailed[], envelope = false): Promise<Variant> {
  const encode = protobufEncoder();
  const headers = envelope ? envelopeHeaderMap() : undefined;
  const producer = new PlatformaticProducer({
    clientId: 'bench',
    bootstrapBrokers: [cfg.brokers],
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
    partitioner: (_m, key) => (key ? toPositive(murmur2(key)) : 0),
  });
  const v: Variant = {
    errors: 0,
    async phase(n, offset, lat) {
      const starts = new Float64Array(cfg.batchSize);
      let inFlight: Promise<void> | undefined;
      let batch: MessageToProduce[] = [];
      let first = 0;
      const send = (messages: MessageToProduce[], from: number, t0: Float64Array): Promise<void> =>
        producer.send({ messages, acks: -1 }).then(() => {
          if (!lat) return;
          const t = now();
          for (let j = 0; j < messages.length; j++) lat[from + j] = t - t0[j]!;
        });
      let batchStarts = starts;
      for (let i = 0; i < n; i++) {
        if (i > 0 && i % cfg.yieldEvery === 0) await yieldToLoop();
        const e = pool[(offset + i) % pool.length]!;
        batchStarts[batch.length] = now();
        const key = Buffer.from(e.orderId);
        batch.push(headers ? { topic: cfg.topic, key, value: encode(e), headers: headers(e) } : { topic: cfg.topic, key, value: encode(e) });
        statsd.increment(METRIC, 1, counterTags(e));
        if (batch.length === cfg.batchSize) {
          if (inFlight) await inFlight;
          inFlight = send(batch, first, batchStarts);
          batch = [];
          first = i + 1;
          batchStarts = new Float64Array(cfg.batchSize);
        }
      }
      if (inFlight) await inFlight;
      if (batch.length > 0) await send(batch, first, batchStarts);
      await flushStatsd(statsd);
    },
    async close() {
      await producer.close();
      await closeStatsd(statsd);
    },
  };
  const statsd = hotShots(cfg.statsdPort, true, (err) => ((v.errors++, (v.firstError ??= err.message))));
  return v;
}

/**
 * Whether this build's createPublisher takes `kafka.client` and has an adapter for it; the reason when not.
 * The publisher is created (no connection is made until the first publish) and closed again.
 */
export async function clientUnavailable(client: 'kafkajs' | 'platformatic', brokers: string): Promise<string | undefined> {
  if (client === 'kafkajs') return undefined;
  try {
    const publisher = createPublisher({ schema, statsd: false, kafka: kafkaOptions(brokers, client) });
    await publisher.close();
    return undefined;
  } catch (err) {
    return `createPublisher({ kafka: { client: '${client}' } }) failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** `{ brokers, client }`, the client only when it is not the default, so this compiles and runs before the option exists. */
function kafkaOptions(brokers: string, client: 'kafkajs' | 'platformatic'): PublisherOptions['kafka'] {
  // Named explicitly, whatever the publisher's default client is.
  return { brokers: [brokers], client } as PublisherOptions['kafka'];
}

/**
 * (C, C′) multidispatch with default options, on the variant's Kafka client; the driver keeps at most
 * maxOutstanding publishes unsettled. With `ratePerSec`, it publishes at that steady rate instead (every
 * millisecond or so it makes up the events due by then), to read the latency at a given load.
 */
async function multidispatch(cfg: VariantConfig, pool: PaymentFailed[]): Promise<Variant> {
  const v: Variant = {
    errors: 0,
    async phase(n, offset, lat) {
      let outstanding = 0;
      let wake: (() => void) | undefined;
      const settled = () => {
        outstanding--;
        if (wake && outstanding < cfg.maxOutstanding) {
          const w = wake;
          wake = undefined;
          w();
        }
      };
      const publishOne = (i: number) => {
        const t = now();
        outstanding++;
        publisher.publish(EVENT_TYPE, pool[(offset + i) % pool.length]!).then(
          () => {
            if (lat) lat[i] = now() - t;
            settled();
          },
          (err: Error) => {
            v.errors++;
            v.firstError ??= err.message;
            settled();
          },
        );
      };
      if (cfg.ratePerSec) {
        const t0 = now();
        let i = 0;
        while (i < n) {
          const due = Math.min(n, Math.floor(((now() - t0) * cfg.ratePerSec) / 1000) + 1);
          while (i < due) publishOne(i++);
          await sleep(1);
        }
      } else {
        for (let i = 0; i < n; i++) {
          if (outstanding >= cfg.maxOutstanding) await new Promise<void>((r) => (wake = r));
          if (i > 0 && i % cfg.yieldEvery === 0) await yieldToLoop();
          publishOne(i);
        }
      }
      await publisher.flush();
    },
    async close() {
      await publisher.close();
    },
  };
  const publisher = createPublisher({
    schema,
    producer: 'bench',
    kafka: kafkaOptions(cfg.brokers, CLIENT_OF[cfg.variant]),
    statsd: { host: '127.0.0.1', port: cfg.statsdPort },
    topics: { 'orders.v1': cfg.topic },
    onError: (err) => {
      v.errors++;
      v.firstError ??= err.message;
    },
  });
  return v;
}

export function createVariant(cfg: VariantConfig, pool: PaymentFailed[]): Promise<Variant> {
  switch (cfg.variant) {
    case 'A':
      return naive(cfg, pool);
    case 'B':
      return tuned(cfg, pool);
    case 'Bh':
      return tuned(cfg, pool, true);
    case 'B′':
      return tunedPlatformatic(cfg, pool);
    case 'Bh′':
      return tunedPlatformatic(cfg, pool, true);
    case 'C':
    case 'C′':
      return multidispatch(cfg, pool);
  }
}
