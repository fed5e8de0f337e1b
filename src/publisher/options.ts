import { z } from 'zod';
import { kafkaConnectionSchema } from '../kafka/client.js';

const positiveInt = z.number().int().positive();

export const statsdOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(8125),
    protocol: z.enum(['udp', 'uds', 'tcp']).default('udp'),
    /** Unix datagram socket path, with protocol 'uds'. */
    path: z.string().min(1).optional(),
    /** Prepended to every metric name, e.g. `checkout.`. */
    prefix: z.string().default(''),
    /** Tags added to every counter, e.g. `{ service: 'checkout', env: 'prod' }`. */
    globalTags: z.record(z.string()).default({}),
    /** Client-side aggregation window; 0 sends every increment (still packed into datagrams). */
    aggregateMs: z.number().int().min(0).max(60_000).default(1000),
    maxPacketBytes: z.number().int().min(0).max(65_000).default(1432),
    /** Distinct values a tag of one metric may take; further values are sent as `other`. */
    maxTagValuesPerTag: positiveInt.default(100),
    /** Count when the event is accepted (alerting keeps working while Kafka is down) or when Kafka acknowledged it. */
    countOn: z.enum(['accept', 'ack']).default('accept'),
    /** Name the counters carry the event type under (set to '' to leave it out). */
    eventTypeTag: z.string().default('event_type'),
  })
  .strict()
  .refine((s) => s.protocol !== 'uds' || !!s.path, { message: "protocol 'uds' needs a socket path", path: ['path'] });

export const publisherOptionsSchema = z
  .object({
    schema: z.object({ bundle: z.object({ version: z.literal(1) }).passthrough() }).passthrough(),
    /** Name of the producing service, written to every record's envelope. */
    producer: z.string().min(1).default('multidispatch'),
    kafka: kafkaConnectionSchema,
    /** `false` turns the StatsD side channel off. */
    statsd: z.union([statsdOptionsSchema, z.literal(false)]).default({}),
    /** How long a record waits for more to batch with, like the Java producer's linger.ms. */
    lingerMs: z.number().int().min(0).max(60_000).default(5),
    maxBatchCount: positiveInt.max(1_000_000).default(10_000),
    maxBatchBytes: positiveInt.default(1_000_000),
    maxBufferedEvents: positiveInt.default(100_000),
    maxBufferedBytes: positiveInt.default(64 * 1024 * 1024),
    /** What publish() does when the buffer is full: reject with BufferFullError, or wait for room. */
    overflow: z.enum(['reject', 'block']).default('reject'),
    /** A record not acknowledged this long after publish() is failed with DeliveryTimeoutError. */
    deliveryTimeoutMs: positiveInt.default(120_000),
    retryBackoffMs: positiveInt.default(100),
    metadataMaxAgeMs: positiveInt.default(300_000),
    /** Topic rename map applied to every event (`{ 'orders.v1': 'staging.orders.v1' }`). */
    topics: z.record(z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a legal Kafka topic name')).optional(),
    /** Dispatch rules set in code, per event type, for schemas whose .proto cannot be changed. */
    overrides: z
      .record(
        z
          .object({
            topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a legal Kafka topic name').optional(),
            keyField: z.string().min(1).optional(),
            metricName: z.string().min(1).optional(),
            statsdCounter: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    /** Push the schema's event types to the event catalogue when the publisher starts (only versions it lacks). */
    catalogue: z
      .object({
        push: z.boolean().default(false),
        topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a legal Kafka topic name').default('multidispatch.catalogue'),
        owner: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Called with StatsD errors (and other side-channel problems); never thrown into publish(). */
    onError: z.custom<(err: Error) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  })
  .strict()
  .refine((o) => o.maxBatchCount <= o.maxBufferedEvents, { message: 'must not exceed maxBufferedEvents', path: ['maxBatchCount'] });

export type StatsdOptions = z.input<typeof statsdOptionsSchema>;
