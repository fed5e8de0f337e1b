import type { IncomingRecord } from '../kafka/port.js';
import { HEADER } from '../schema/envelope.js';
import type { RecordSchemas } from '../schema/registry.js';
import type { LoadRow } from '../warehouse/types.js';

export type Decoded =
  | { kind: 'row'; row: LoadRow; bytes: number; eventType: string; occurredAt: string | undefined; timestamp: string }
  | { kind: 'tombstone' }
  | { kind: 'poison'; reason: string; errorClass: 'missing-type-header' | 'unknown-event-type' | 'unknown-schema-version' | 'decode-failed' };

/** A header's value as text (the last one when repeated), or undefined when absent. */
export function headerString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length > 0 ? headerString(v[v.length - 1]) : undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

const KEY_JSON = new Map<string, string>();

/** `"name":`, kept for the few header names a topic's records repeat. */
function keyJson(name: string): string {
  let text = KEY_JSON.get(name);
  if (text === undefined) {
    text = JSON.stringify(name) + ':';
    if (KEY_JSON.size >= 1024) KEY_JSON.clear();
    KEY_JSON.set(name, text);
  }
  return text;
}

/** The JSON text of a string that repeats from record to record (the topic, a batch's load time): one slot each. */
class LastJson {
  private value: string | undefined;
  private text = '';
  of(value: string): string {
    if (value !== this.value) {
      this.text = JSON.stringify(value);
      this.value = value;
    }
    return this.text;
  }
}
const TOPIC_JSON = new LastJson();
const LOAD_TIME_JSON = new LastJson();

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
export function decodeRecord(schemas: RecordSchemas, topic: string, partition: number, message: IncomingRecord, loadTime: string): Decoded {
  if (message.value === null || message.value === undefined) return { kind: 'tombstone' };
  // Headers as strings, and their JSON object text, in one pass (this runs for every record: the metadata
  // JSON is built by hand rather than through an intermediate object).
  let eventType: string | undefined;
  // The JSON text of the envelope headers' values, written once into `headers` and reused for their own fields.
  let eventTypeJson = 'null';
  let eventIdJson = 'null';
  let occurredAtJson = 'null';
  let producerJson = 'null';
  let fingerprintJson = 'null';
  let fingerprint: string | undefined;
  let occurredAt: string | undefined;
  let headersJson = '{';
  const raw = message.headers;
  if (raw) {
    for (const k in raw) {
      const v = headerString(raw[k]);
      if (v === undefined) continue;
      const vJson = JSON.stringify(v);
      headersJson += (headersJson.length > 1 ? ',' : '') + keyJson(k) + vJson;
      switch (k) {
        case HEADER.eventType:
          eventType = v;
          eventTypeJson = vJson;
          break;
        case HEADER.eventId:
          eventIdJson = vJson;
          break;
        case HEADER.occurredAt:
          occurredAt = v;
          occurredAtJson = vJson;
          break;
        case HEADER.producer:
          producerJson = vJson;
          break;
        case HEADER.schemaFingerprint:
          fingerprint = v;
          fingerprintJson = vJson;
          break;
      }
    }
  }
  headersJson += '}';
  if (!eventType) return { kind: 'poison', reason: `missing header ${HEADER.eventType}`, errorClass: 'missing-type-header' };
  const decode = schemas.jsonDecoder(eventType, fingerprint);
  if (typeof decode !== 'function') return { kind: 'poison', reason: decode.reason, errorClass: decode.errorClass };
  let content: string;
  try {
    content = decode(message.value);
  } catch (err) {
    return { kind: 'poison', reason: `cannot decode the value as ${eventType}: ${(err as Error).message}`, errorClass: 'decode-failed' };
  }
  // offset and timestamp are decimal strings from kafkajs: valid JSON numbers as they are.
  const offset = /^\d+$/.test(message.offset) ? message.offset : String(Number(message.offset));
  const createTime = /^-?\d+$/.test(message.timestamp) ? message.timestamp : 'null';
  const metadata =
    `{"topic":${TOPIC_JSON.of(topic)},"partition":${partition},"offset":${offset},"CreateTime":${createTime},` +
    `"key":${message.key ? JSON.stringify(message.key.toString('utf8')) : 'null'},"headers":${headersJson},` +
    `"event_type":${eventTypeJson},"event_id":${eventIdJson},"occurred_at":${occurredAtJson},` +
    `"producer":${producerJson},"schema_fingerprint":${fingerprintJson},"load_time":${LOAD_TIME_JSON.of(loadTime)}}`;
  return { kind: 'row', row: { metadata, content }, bytes: metadata.length + content.length, eventType, occurredAt, timestamp: createTime };
}
