/**
 * The three ways of publishing that the benchmark compares. Each `phase(n, offset, latencies)` publishes n
 * events from the pool and returns once every one of them is acknowledged by Kafka (acks=all) and handed to
 * the StatsD socket; latencies[i] gets event i's publish-to-ack time in ms.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import HotShots, { type StatsD } from 'hot-shots';
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import protobuf from 'protobufjs';
import { v7 as uuidv7 } from 'uuid';
import { createPublisher } from 'multidispatch';
import { schema } from 'multidispatch/examples';
import { counterTags, EVENT_TYPE, METRIC, type PaymentFailed } from './events.js';

export interface VariantConfig {
  variant: 'A' | 'B' | 'Bh' | 'C';
  brokers: string;
  topic: string;
  statsdPort: number;
  /** B: records per sendBatch. */
  batchSize: number;
  /** C: most publish() calls the driver lets be outstanding. */
  maxOutstanding: number;
  /** B and C: the driver yields to the event loop (setImmediate) every this many events. */
  yieldEvery: number;
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
  const root = protobuf.Root.fromJSON(schema.bundle.descriptor as protobuf.INamespace);
  const fingerprint = createHash('sha256').update(JSON.stringify(root.lookupType(EVENT_TYPE).toJSON())).digest('hex').slice(0, 16);
  return (e) => ({
    'md-event-type': EVENT_TYPE,
    'md-event-id': uuidv7(),
    'md-occurred-at': (e.failedAt instanceof Date ? e.failedAt : new Date()).toISOString(),
    'md-producer': 'bench',
    'md-schema-fingerprint': fingerprint,
  });
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

/** (C) multidispatch with default options; the driver keeps at most maxOutstanding publishes unsettled. */
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
      for (let i = 0; i < n; i++) {
        if (outstanding >= cfg.maxOutstanding) await new Promise<void>((r) => (wake = r));
        if (i > 0 && i % cfg.yieldEvery === 0) await yieldToLoop();
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
    kafka: { brokers: [cfg.brokers] },
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
    case 'C':
      return multidispatch(cfg, pool);
  }
}
