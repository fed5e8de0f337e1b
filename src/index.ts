/**
 * multidispatch: one typed event, published once, to Kafka (full payload) and StatsD (tag-trimmed counter).
 *
 * The root entry holds what an application needs to publish, load and derive. Each capability also has its own
 * entry with the rest of its surface: `multidispatch/publisher`, `/schema`, `/loader`, `/derive`, `/kafka`, and
 * `/testing` (in-memory doubles). Anything not exported from one of these is internal and may change.
 *
 * @example
 * import { createPublisher } from 'multidispatch';
 * import { schema } from './generated/events.js';
 * const publisher = createPublisher({ schema, kafka: { brokers: ['localhost:9092'] } });
 */
export * from './errors.js';

// Publishing: one call, Kafka + StatsD.
export { createPublisher } from './publisher/index.js';
export type { Publisher, PublisherOptions, PublisherStats, PublishReceipt, StatsdOptions } from './publisher/index.js';
export { codegen, loadSchema } from './schema/index.js';
export type { CodegenOptions, CodegenResult, EventMapBase, EventRule, EventSchema, Int64, SchemaBundle, TagRule, TimestampInput, UntypedEventMap } from './schema/index.js';
export { HEADER } from './schema/envelope.js';

// The loader: Kafka topics → warehouse (DuckDB by default, Snowflake), exactly once.
export { createLoader, openWarehouse } from './loader/index.js';
export type { Loader, LoaderOptions, LoaderStats, LoaderProgress, LoaderHooks, Warehouse } from './loader/index.js';

// Derived metrics.
export { defineMetrics, tumbling, hopping, sliding, DeriveRunner, decodeMetric, decodeAlert } from './derive/index.js';
export type { MetricDefinition, TableDefinition, Aggregate, WindowSpec, DeriveOptions, DecodedMetric, DecodedAlert, MetricValue, AlertTransition } from './derive/index.js';

// Configuration shared by every command and the library.
export { resolveKafkaConfig } from './config/kafka.js';
export type { KafkaConnectionOptions } from './kafka/client.js';

// Logging and instrumentation seams.
export { stderrLogger, silentLogger, CHANNELS, type Logger, type LogLevel } from './log.js';
