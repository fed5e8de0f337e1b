/**
 * Test doubles for application teams: `import { createMemoryPublisher, MetricEngine } from 'multidispatch/testing'`.
 * The memory publisher validates and records events as the real one does, without Kafka or StatsD; the metric
 * engine runs derive's definitions over events in memory, to unit-test a definition.
 */
export { createMemoryPublisher, type MemoryPublisher, type MemoryPublisherOptions, type MemoryRecord } from './publisher/index.js';
export type { CounterIncrement } from './sinks/types.js';
export { MetricEngine, type MetricInput, type EngineEvent } from './derive/engine.js';
