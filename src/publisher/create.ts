import { entriesFromBundle } from '../catalogue/entry.js';
import { pushCatalogue } from '../catalogue/store.js';
import { OptionsError, SchemaLintError } from '../errors.js';
import { parseOptions } from '../config/parse.js';
import { createKafkaClient } from '../kafka/client.js';
import { ProducerPort } from '../kafka/producer.js';
import { EventRegistry } from '../schema/registry.js';
import type { EventMapBase, EventSchema } from '../schema/types.js';
import { KafkaSink } from '../sinks/kafka/sink.js';
import { HotShotsSink } from '../sinks/statsd/sink.js';
import { createPublisherCore, type Publisher } from './core.js';
import { publisherOptionsSchema, type StatsdOptions } from './options.js';
import type { KafkaConnectionOptions } from '../kafka/client.js';

export interface PublisherOptions<M extends EventMapBase = EventMapBase> {
  /** The generated schema (`import { schema } from './generated/events.js'`) or `await loadSchema(dir)`. */
  schema: EventSchema<M>;
  /** Name of the producing service, written to every record's envelope. Default `multidispatch`. */
  producer?: string;
  kafka: KafkaConnectionOptions;
  /**
   * StatsD side channel; `false` turns it off. Default: UDP to `$STATSD_HOST` (else 127.0.0.1) port `$STATSD_PORT`
   * (else 8125) — what `multidispatch dev up --statsd` exports.
   */
  statsd?: StatsdOptions | false;
  /** Batching across publish() calls (default 5 ms), like the Java producer's linger.ms. */
  lingerMs?: number;
  /** Most records in one produce request (default 10,000). */
  maxBatchCount?: number;
  /** Most bytes in one produce request (default 1,000,000). */
  maxBatchBytes?: number;
  /** Most events accepted but not yet acknowledged (default 100,000). */
  maxBufferedEvents?: number;
  /** Most bytes accepted but not yet acknowledged (default 64 MiB). */
  maxBufferedBytes?: number;
  /** When the buffer is full: `reject` (BufferFullError, the default) or `block` until there is room. */
  overflow?: 'reject' | 'block';
  /** Time from publish() within which a record must be acknowledged (default 120,000 ms). */
  deliveryTimeoutMs?: number;
  /** First wait before resending a failed batch; doubles up to 2 s (default 100 ms). */
  retryBackoffMs?: number;
  /** How long partition counts are cached (default 300,000 ms). */
  metadataMaxAgeMs?: number;
  /** Topic rename map applied to every event, e.g. per environment: `{ 'orders.v1': 'staging.orders.v1' }`. */
  topics?: Record<string, string>;
  /** Dispatch rules set in code, per event type, for schemas whose .proto cannot be changed. */
  overrides?: Record<string, { topic?: string; keyField?: string; metricName?: string; statsdCounter?: boolean }>;
  /**
   * The event catalogue (docs/catalogue.md). With `push: true` the publisher pushes the versions of its event types the
   * catalogue does not hold yet when it starts, after the same evolution checks as `multidispatch catalogue push`.
   * publish() calls made meanwhile wait for the push. A refused push (an incompatible change) makes every publish()
   * reject with its SchemaLintError; a push that cannot reach the catalogue (ACL, broker) is reported to `onError`
   * and publishing goes on.
   */
  catalogue?: { push?: boolean; topic?: string; owner?: string };
  /** Side-channel errors (StatsD unreachable, ...). Never thrown into publish(). */
  onError?: (err: Error) => void;
}

/**
 * Creates a publisher: one `publish(eventType, event)` sends the full event to Kafka and a tag-trimmed
 * counter to StatsD. Options are validated here; a bad one throws OptionsError naming its path.
 *
 * @example
 * import { createPublisher } from 'multidispatch';
 * import { schema } from './generated/events.js';
 *
 * const publisher = createPublisher({ schema, producer: 'checkout', kafka: { brokers: ['localhost:9092'] } });
 * await publisher.publish('orders.v1.PaymentFailed', { orderId: 'o-1', market: 'GB', ... });
 * await publisher.close();
 */
/**
 * The publisher's Kafka client when the connection names none (`kafka.client`): @platformatic/kafka. In the same
 * benchmark run publish() on it made 1.4× the events/s of publish() on kafkajs at 0.73× the CPU per event, and every
 * publisher test passes on both (docs/operations.md, "Choosing the Kafka client").
 */
const PUBLISHER_KAFKA_CLIENT = 'platformatic';

/** STATSD_HOST / STATSD_PORT fill the StatsD host and port the options leave out (a bad port names the variable). */
function withStatsdEnv<T extends { statsd?: StatsdOptions | false }>(options: T, env: NodeJS.ProcessEnv): T {
  if (options.statsd === false || (!env.STATSD_HOST && !env.STATSD_PORT)) return options;
  const given = options.statsd ?? {};
  const statsd: StatsdOptions = { ...given };
  if (given.host === undefined && env.STATSD_HOST) statsd.host = env.STATSD_HOST;
  if (given.port === undefined && env.STATSD_PORT) {
    const port = Number(env.STATSD_PORT);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new OptionsError('statsd.port', `$STATSD_PORT must be a port number, got '${env.STATSD_PORT}'`);
    statsd.port = port;
  }
  return { ...options, statsd };
}

export function createPublisher<M extends EventMapBase>(options: PublisherOptions<M>): Publisher<M> {
  const o = parseOptions(publisherOptionsSchema, withStatsdEnv(options, process.env));
  const registry = new EventRegistry(options.schema, { ...(o.topics ? { topics: o.topics } : {}), ...(o.overrides ? { events: o.overrides } : {}) });
  const onError = o.onError ?? (() => undefined);
  const port = new ProducerPort(createKafkaClient(o.kafka, PUBLISHER_KAFKA_CLIENT), { metadataMaxAgeMs: o.metadataMaxAgeMs, requestTimeoutMs: o.kafka.requestTimeoutMs });
  const records = new KafkaSink(port, {
    lingerMs: o.lingerMs,
    maxBatchCount: o.maxBatchCount,
    maxBatchBytes: o.maxBatchBytes,
    maxBufferedEvents: o.maxBufferedEvents,
    maxBufferedBytes: o.maxBufferedBytes,
    overflow: o.overflow,
    deliveryTimeoutMs: o.deliveryTimeoutMs,
    retryBackoffMs: o.retryBackoffMs,
  });
  const s = o.statsd;
  const counters = s
    ? new HotShotsSink({ host: s.host, port: s.port, protocol: s.protocol, ...(s.path ? { path: s.path } : {}), aggregateMs: s.aggregateMs, maxPacketBytes: s.maxPacketBytes, onError })
    : undefined;
  const publisher = createPublisherCore<M>({
    producer: o.producer,
    registry,
    records: Object.assign(records, { stats: records.stats }),
    counters,
    statsd: s ? { prefix: s.prefix, globalTags: s.globalTags, maxTagValuesPerTag: s.maxTagValuesPerTag, countOn: s.countOn, eventTypeTag: s.eventTypeTag } : undefined,
  });
  return o.catalogue?.push ? withCataloguePush(publisher, options.schema, o.kafka, o.catalogue, onError) : publisher;
}

/** Gates publish() on the catalogue push started here (see PublisherOptions.catalogue); no cost once it is done. */
function withCataloguePush<M extends EventMapBase>(
  publisher: Publisher<M>, schema: EventSchema<M>, kafka: Parameters<typeof createKafkaClient>[0], catalogue: { topic: string; owner?: string | undefined }, onError: (err: Error) => void,
): Publisher<M> {
  const client = createKafkaClient(kafka);
  const pushing = pushCatalogue(client, entriesFromBundle(schema.bundle), { topic: catalogue.topic, onlyNewVersions: true, ...(catalogue.owner ? { owner: catalogue.owner } : {}) });
  let gate: Promise<void> | undefined = pushing.then(
    () => {
      gate = undefined;
    },
    (err: unknown) => {
      if (err instanceof SchemaLintError) throw err;
      onError(new Error(`could not push the schemas to catalogue ${catalogue.topic}: ${(client.classify(err, { topics: [catalogue.topic], operation: 'write' }) as Error).message}`, { cause: err }));
      gate = undefined;
    },
  );
  gate.catch(() => undefined);
  const publish = publisher.publish.bind(publisher);
  const close = publisher.close.bind(publisher);
  return Object.assign(publisher, {
    publish: ((eventType: string, event: object) => (gate ? gate.then(() => publish(eventType as never, event as never)) : publish(eventType as never, event as never))) as Publisher<M>['publish'],
    async close() {
      await pushing.catch(() => undefined);
      await close();
    },
  });
}
