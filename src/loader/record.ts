import type { KafkaMessage } from 'kafkajs';
import { HEADER } from '../schema/envelope.js';
import type { EventRegistry } from '../schema/registry.js';
import type { LoadRow } from '../warehouse/types.js';

export type Decoded =
  | { kind: 'row'; row: LoadRow; bytes: number }
  | { kind: 'tombstone' }
  | { kind: 'poison'; reason: string; errorClass: 'missing-type-header' | 'unknown-event-type' | 'decode-failed' };

function headerString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length > 0 ? headerString(v[v.length - 1]) : undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/**
 * One Kafka record → one warehouse row.
 *
 * RECORD_METADATA (JSON): topic, partition, offset, CreateTime (ms since epoch, the record timestamp),
 * key (UTF-8 string or null), headers (every header as a UTF-8 string), event_type, event_id,
 * occurred_at (ISO-8601), producer, schema_fingerprint, load_time (ISO-8601, when the loader built the batch).
 *
 * RECORD_CONTENT (JSON): the decoded event in protobuf's JSON mapping with lowerCamelCase field names,
 * every field present (proto3 defaults included); int64 as decimal strings, enums as names, bytes as
 * base64, google.protobuf.Timestamp as ISO-8601 UTC strings.
 */
export function decodeRecord(registry: EventRegistry, topic: string, partition: number, message: KafkaMessage, loadTime: string): Decoded {
  if (message.value === null || message.value === undefined) return { kind: 'tombstone' };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    const s = headerString(v);
    if (s !== undefined) headers[k] = s;
  }
  const eventType = headers[HEADER.eventType];
  if (!eventType) return { kind: 'poison', reason: `missing header ${HEADER.eventType}`, errorClass: 'missing-type-header' };
  if (!registry.has(eventType)) {
    return { kind: 'poison', reason: `unknown event type ${JSON.stringify(eventType.slice(0, 200))} (not in the loader's schema)`, errorClass: 'unknown-event-type' };
  }
  let content: string;
  try {
    content = JSON.stringify(registry.decode(eventType, message.value));
  } catch (err) {
    return { kind: 'poison', reason: `cannot decode the value as ${eventType}: ${(err as Error).message}`, errorClass: 'decode-failed' };
  }
  const metadata = JSON.stringify({
    topic,
    partition,
    offset: Number(message.offset),
    CreateTime: Number(message.timestamp),
    key: message.key ? message.key.toString('utf8') : null,
    headers,
    event_type: eventType,
    event_id: headers[HEADER.eventId] ?? null,
    occurred_at: headers[HEADER.occurredAt] ?? null,
    producer: headers[HEADER.producer] ?? null,
    schema_fingerprint: headers[HEADER.schemaFingerprint] ?? null,
    load_time: loadTime,
  });
  return { kind: 'row', row: { metadata, content }, bytes: metadata.length + content.length };
}
