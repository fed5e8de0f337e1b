export { createPublisher, type PublisherOptions } from './create.js';
export { createMemoryPublisher, type MemoryPublisher, type MemoryPublisherOptions, type MemoryRecord } from './memory.js';
export type { Publisher, PublisherStats, PublishReceipt } from './core.js';
export type { StatsdOptions } from './options.js';
