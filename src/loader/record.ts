import type { IncomingRecord } from '../kafka/port.js';
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
export function decodeRecord(registry: EventRegistry, topic: string, partition: number, message: IncomingRecord, loadTime: string): Decoded {
  if (message.value === null || message.value === undefined) return { kind: 'tombstone' };
  // Headers as strings, and their JSON object text, in one pass (this runs for every record: the metadata
  // JSON is built by hand rather than through an intermediate object).
  let eventType: string | undefined;
  let eventId: string | undefined;
  let occurredAt: string | undefined;
  let producer: string | undefined;
  let fingerprint: string | undefined;
  let headersJson = '{';
  const raw = message.headers;
  if (raw) {
    for (const k in raw) {
      const v = headerString(raw[k]);
      if (v === undefined) continue;
      if (headersJson.length > 1) headersJson += ',';
      headersJson += `${JSON.stringify(k)}:${JSON.stringify(v)}`;
      switch (k) {
        case HEADER.eventType:
          eventType = v;
          break;
        case HEADER.eventId:
          eventId = v;
          break;
        case HEADER.occurredAt:
          occurredAt = v;
          break;
        case HEADER.producer:
          producer = v;
          break;
        case HEADER.schemaFingerprint:
          fingerprint = v;
          break;
      }
    }
  }
  headersJson += '}';
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
  const str = (v: string | undefined) => (v === undefined ? 'null' : JSON.stringify(v));
  // offset and timestamp are decimal strings from kafkajs: valid JSON numbers as they are.
  const offset = /^\d+$/.test(message.offset) ? message.offset : String(Number(message.offset));
  const createTime = /^-?\d+$/.test(message.timestamp) ? message.timestamp : 'null';
  const metadata =
    `{"topic":${JSON.stringify(topic)},"partition":${partition},"offset":${offset},"CreateTime":${createTime},` +
    `"key":${message.key ? JSON.stringify(message.key.toString('utf8')) : 'null'},"headers":${headersJson},` +
    `"event_type":${JSON.stringify(eventType)},"event_id":${str(eventId)},"occurred_at":${str(occurredAt)},` +
    `"producer":${str(producer)},"schema_fingerprint":${str(fingerprint)},"load_time":${JSON.stringify(loadTime)}}`;
  return { kind: 'row', row: { metadata, content }, bytes: metadata.length + content.length };
}
