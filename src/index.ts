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

// The loader: Kafka topics → warehouse (DuckDB by default, Snowflake), exactly once.
export { createLoader, Loader, type LoaderStats, type LoaderProgress, type LoaderHooks } from './loader/loader.js';
export type { LoaderOptions } from './loader/options.js';
export type { Warehouse, LoadRow, BatchWrite, OffsetMove, ViewSpec, ViewColumn, RowBuffer, TableRows } from './warehouse/types.js';
export { ArrayRowBuffer } from './warehouse/types.js';
export { openWarehouse } from './warehouse/open.js';
export { tableNameForTopic, viewNameForEvent, viewSpecFor, quoteIdent, checkIdentifier } from './warehouse/naming.js';

// Derived metrics (first cut; see docs when it lands): definitions, windows, the engine and the runner.
export { defineMetrics, DefinitionError, type MetricDefinition, type TableDefinition, type Aggregate, type ResolvedMetric } from './derive/definitions.js';
export { tumbling, hopping, sliding, parseDuration, type WindowSpec } from './derive/windows.js';
export { MetricEngine, routeKey, type MetricValue, type AlertTransition, type MetricInput, type EngineEvent } from './derive/engine.js';
export { DeriveRunner, type DeriveOptions } from './derive/runner.js';
export { decodeMetric, decodeAlert, type DecodedMetric, type DecodedAlert } from './derive/outputs.js';
export { resolveKafkaConfig, readKafkaProperties, connectionFromProperties, KAFKA_PROPERTIES, type KafkaConfigSources, type KafkaProperties } from './config/kafka.js';
