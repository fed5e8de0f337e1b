/** Derived metrics: definitions, windows, the runner and its output records. `import … from 'multidispatch/derive'`. */
export { defineMetrics, DefinitionError, type MetricDefinition, type TableDefinition, type Aggregate, type ResolvedMetric } from './definitions.js';
export { tumbling, hopping, sliding, parseDuration, type WindowSpec } from './windows.js';
export { DeriveRunner, type DeriveOptions } from './runner.js';
export { decodeMetric, decodeAlert, type DecodedMetric, type DecodedAlert } from './outputs.js';
export type { MetricValue, AlertTransition } from './engine.js';
