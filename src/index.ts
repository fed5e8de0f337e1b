/**
 * multidispatch: one typed event, published once, to Kafka (full payload) and StatsD (tag-trimmed counter).
 *
 * @example
 * import { createPublisher } from 'multidispatch';
 * import { schema } from './generated/events.js';
 * const publisher = createPublisher({ schema, kafka: { brokers: ['localhost:9092'] } });
 */
export * from './errors.js';
export { createPublisher, createMemoryPublisher } from './publisher/index.js';
export type { MemoryPublisher, MemoryPublisherOptions, MemoryRecord, Publisher, PublisherOptions, PublisherStats, PublishReceipt, StatsdOptions } from './publisher/index.js';
export { codegen, loadSchema, buildBundle, EventRegistry } from './schema/index.js';
export type { CodegenOptions, CodegenResult, EncodedEvent, EventMapBase, EventRule, EventSchema, Int64, SchemaBundle, TagRule, TimestampInput, UntypedEventMap } from './schema/index.js';
export { HEADER } from './schema/envelope.js';
export { murmur2, partitionForKey, toPositive } from './kafka/murmur2.js';
