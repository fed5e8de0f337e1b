/** Test doubles for application teams: `import { createMemoryPublisher } from 'multidispatch/testing'`. */
export { createMemoryPublisher, type MemoryPublisher, type MemoryPublisherOptions, type MemoryRecord } from './publisher/index.js';
export type { CounterIncrement } from './sinks/types.js';
