import { parseOptions } from '../config/parse.js';
import { EventRegistry } from '../schema/registry.js';
import type { EventMapBase, EventSchema } from '../schema/types.js';
import { MemoryCounterSink, MemoryRecordSink, type MemoryRecord } from '../sinks/memory/sinks.js';
import type { CounterIncrement } from '../sinks/types.js';
import { createPublisherCore, type Publisher } from './core.js';
import { statsdOptionsSchema, type StatsdOptions } from './options.js';

export type { MemoryRecord };

export interface MemoryPublisherOptions<M extends EventMapBase = EventMapBase> {
  schema: EventSchema<M>;
  producer?: string;
  /** The StatsD naming rules to apply (prefix, global tags, tag cap); connection settings are ignored. */
  statsd?: StatsdOptions | false;
  /** Topic rename map and per-event-type rules, as for createPublisher. */
  topics?: Record<string, string>;
  overrides?: Record<string, { topic?: string; keyField?: string; metricName?: string; statsdCounter?: boolean }>;
  /** Partition count per topic, for the partition the record would land in (default 1). */
  partitions?: Record<string, number>;
}

export interface MemoryPublisher<M extends EventMapBase = EventMapBase> extends Publisher<M> {
  /** Every Kafka record publish() would have produced, in order, with its envelope headers. */
  readonly records: MemoryRecord[];
  /** Every StatsD counter increment publish() would have sent, with final name and tags. */
  readonly counters: CounterIncrement[];
}

/**
 * A publisher for application unit tests: the same validation, envelope, encoding and tag rules as the real
 * one, but records and counters are kept in memory for assertions.
 *
 * @example
 * const publisher = createMemoryPublisher({ schema });
 * await publisher.publish('orders.v1.PaymentFailed', event);
 * assert.equal(publisher.counters[0].tags.market, 'GB');
 */
export function createMemoryPublisher<M extends EventMapBase>(options: MemoryPublisherOptions<M>): MemoryPublisher<M> {
  const statsd = options.statsd === false ? undefined : parseOptions(statsdOptionsSchema, options.statsd ?? {}, 'statsd');
  const registry = new EventRegistry(options.schema, { ...(options.topics ? { topics: options.topics } : {}), ...(options.overrides ? { events: options.overrides } : {}) });
  const records = new MemoryRecordSink((topic) => options.partitions?.[topic] ?? 1);
  const counters = new MemoryCounterSink();
  const core = createPublisherCore<M>({
    producer: options.producer ?? 'multidispatch',
    registry,
    records,
    counters: statsd ? counters : undefined,
    statsd: statsd ? { prefix: statsd.prefix, globalTags: statsd.globalTags, maxTagValuesPerTag: statsd.maxTagValuesPerTag, countOn: statsd.countOn, eventTypeTag: statsd.eventTypeTag } : undefined,
  });
  return Object.assign(core, { records: records.records, counters: counters.counters });
}
