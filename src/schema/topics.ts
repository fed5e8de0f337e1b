import { SchemaError } from '../errors.js';
import type { SchemaBundle } from './types.js';

export interface PlannedTopic {
  topic: string;
  partitions: number;
  /** Where the count came from: an event type's `partitions` option, or the caller's default. */
  partitionsFrom: 'schema' | 'default';
  /** The event types written to the topic, sorted. */
  eventTypes: string[];
}

/**
 * The topics a schema writes to, one per distinct `(multidispatch.event).topic` after `renames`, each with the
 * partition count its event types declare (or `defaultPartitions`). Two event types on one topic declaring
 * different counts is a SchemaError naming both and the topic; lint already rejects that within one schema,
 * so here it can only come from renames that merge two schema topics.
 *
 * @example
 * topicsOfSchema(schema.bundle, { defaultPartitions: 6, renames: { 'orders.v1': 'staging.orders.v1' } })
 */
export function topicsOfSchema(bundle: SchemaBundle, options: { defaultPartitions: number; renames?: Record<string, string> }): PlannedTopic[] {
  const byTopic = new Map<string, { eventTypes: string[]; declared?: { partitions: number; type: string } }>();
  for (const e of [...bundle.events].sort((a, b) => a.type.localeCompare(b.type))) {
    const topic = options.renames?.[e.topic] ?? e.topic;
    const entry = byTopic.get(topic) ?? { eventTypes: [] };
    byTopic.set(topic, entry);
    entry.eventTypes.push(e.type);
    if (e.partitions === undefined) continue;
    if (!entry.declared) entry.declared = { partitions: e.partitions, type: e.type };
    else if (entry.declared.partitions !== e.partitions) {
      throw new SchemaError(
        `event types ${entry.declared.type} and ${e.type} are both written to topic '${topic}' but declare different partitions (${entry.declared.partitions} and ${e.partitions})`,
      );
    }
  }
  return [...byTopic.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([topic, { eventTypes, declared }]) => ({
      topic,
      partitions: declared?.partitions ?? options.defaultPartitions,
      partitionsFrom: declared ? 'schema' : 'default',
      eventTypes,
    }));
}
