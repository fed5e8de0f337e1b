import protobuf from 'protobufjs';
import { IdentifierError } from '../errors.js';
import type { EventRegistry } from '../schema/registry.js';
import type { ViewColumn, ViewColumnType, ViewSpec } from './types.js';

/**
 * Identifiers. Every table, view and column name the loader writes into SQL passes `checkIdentifier`:
 * upper-case letters, digits and underscores only, starting with a letter or underscore, at most 255
 * characters. Names derived from topics and event types are mapped onto that alphabet first; a name that
 * still fails (or a user-given name that fails) is rejected, never escaped. Identifiers are also quoted
 * when written, so reserved words are safe too.
 */
const IDENT = /^[A-Z_][A-Z0-9_]{0,254}$/;

export function checkIdentifier(what: string, name: string): string {
  if (typeof name !== 'string' || !IDENT.test(name)) {
    throw new IdentifierError(what, String(name), 'use upper-case letters, digits and _ only, starting with a letter or _, at most 255 characters');
  }
  return name;
}

/** `"NAME"`: the identifier is checked first, so it can contain no quote. */
export function quoteIdent(name: string): string {
  return `"${checkIdentifier('identifier', name)}"`;
}

/** A string literal for names the loader itself derived and checked (event types, JSON keys). */
export function sqlString(value: string): string {
  if (/[\u0000-\u001f]/.test(value)) throw new IdentifierError('literal', value, 'control characters are not allowed');
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * A documentation comment as a SQL string literal: free text from .proto comments (quotes, `*\/`, `--`, newlines),
 * so it is quoted here for each dialect rather than refused like `sqlString`. DuckDB takes the text as it is with
 * `'` doubled; Snowflake also treats `\` as an escape, so backslashes are doubled and newlines written as `\n`. Other
 * control characters become spaces; the text is cut at 4,000 characters.
 */
export function commentLiteral(text: string, dialect: 'duckdb' | 'snowflake'): string {
  let t = text.length > 4000 ? `${text.slice(0, 3999)}…` : text;
  t = t.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ');
  if (dialect === 'snowflake') t = t.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return `'${t.replace(/'/g, "''")}'`;
}

/** Kafka topic names are [a-zA-Z0-9._-]{1,249}; anything else is refused before it reaches SQL. */
export function checkTopicName(topic: string): string {
  if (typeof topic !== 'string' || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
    throw new IdentifierError('topic', String(topic), 'a Kafka topic name is 1-249 characters of [a-zA-Z0-9._-]');
  }
  return topic;
}

/** `orders.v1` → `ORDERS_V1`; `payments-eu` → `PAYMENTS_EU`. */
export function tableNameForTopic(topic: string): string {
  checkTopicName(topic);
  let name = topic.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  if (/^[0-9]/.test(name)) name = `T_${name}`;
  return checkIdentifier(`table name for topic ${topic}:`, name);
}

/** `PaymentFailed` → `PAYMENT_FAILED`, `userId` → `USER_ID`, `amountMinor` → `AMOUNT_MINOR`. */
export function upperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_');
}

/** `orders.v1.PaymentFailed` → `PAYMENT_FAILED`. */
export function viewNameForEvent(eventType: string): string {
  const simple = eventType.split('.').pop() ?? eventType;
  return checkIdentifier(`view name for event ${eventType}:`, upperSnake(simple));
}

const SCALAR: Record<string, ViewColumnType> = {
  string: 'string',
  bool: 'bool',
  double: 'double',
  float: 'double',
  int32: 'int32',
  sint32: 'int32',
  sfixed32: 'int32',
  uint32: 'int64',
  fixed32: 'int64',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint64: 'uint64',
  fixed64: 'uint64',
  bytes: 'bytes',
};

/** Columns every typed view starts with, read from RECORD_METADATA. */
const METADATA_COLUMNS: ViewColumn[] = [
  { name: 'EVENT_ID', path: ['RECORD_METADATA', 'event_id'], type: 'string' },
  { name: 'OCCURRED_AT', path: ['RECORD_METADATA', 'occurred_at'], type: 'timestamp' },
  { name: 'RECORD_KEY', path: ['RECORD_METADATA', 'key'], type: 'string' },
  { name: 'KAFKA_PARTITION', path: ['RECORD_METADATA', 'partition'], type: 'int32' },
  { name: 'KAFKA_OFFSET', path: ['RECORD_METADATA', 'offset'], type: 'int64' },
];

/**
 * The typed view of one event type: the metadata columns, then every field of the event, nested
 * messages flattened (`context.user_id` → USER_ID, `amount.amount_minor` → AMOUNT_MINOR; when two leaves
 * share a name, both get their full path: TOTAL_AMOUNT_MINOR). Timestamps become TIMESTAMP columns,
 * repeated and map fields stay JSON. Adding fields to the proto adds columns the next time the loader starts.
 */
export function viewSpecFor(registry: EventRegistry, eventType: string, table: string): ViewSpec {
  const { type } = registry.lookup(eventType);
  const leaves: Array<{ path: string[]; type: ViewColumnType; comment: string }> = [];
  const walk = (t: protobuf.Type, prefix: string[], depth: number, seen: Set<string>): void => {
    for (const f of t.fieldsArray) {
      const path = [...prefix, f.name];
      const rt = f.resolvedType;
      const comment = (f.comment ?? '').trim();
      if (f.repeated || f.map) leaves.push({ path, type: 'json', comment });
      else if (rt instanceof protobuf.Enum) leaves.push({ path, type: 'enum', comment });
      else if (rt instanceof protobuf.Type) {
        if (rt.fullName === '.google.protobuf.Timestamp') leaves.push({ path, type: 'timestamp', comment });
        else if (depth >= 4 || seen.has(rt.fullName)) leaves.push({ path, type: 'json', comment });
        else walk(rt, path, depth + 1, new Set([...seen, rt.fullName]));
      } else leaves.push({ path, type: SCALAR[f.type] ?? 'json', comment });
    }
  };
  walk(type, [], 0, new Set([type.fullName]));
  const leafName = (p: string[]) => upperSnake(p[p.length - 1]!);
  const counts = new Map<string, number>();
  for (const l of leaves) counts.set(leafName(l.path), (counts.get(leafName(l.path)) ?? 0) + 1);
  const reserved = new Set(METADATA_COLUMNS.map((c) => c.name));
  const columns: ViewColumn[] = [...METADATA_COLUMNS];
  for (const l of leaves) {
    const short = leafName(l.path);
    const name = (counts.get(short)! > 1 || reserved.has(short) ? l.path.map(upperSnake).join('_') : short);
    const column: ViewColumn = { name: checkIdentifier(`column for field ${l.path.join('.')} of ${eventType}:`, name), path: ['RECORD_CONTENT', ...l.path], type: l.type };
    if (l.comment) column.comment = l.comment;
    columns.push(column);
  }
  const spec: ViewSpec = { view: viewNameForEvent(eventType), table: checkIdentifier('table', table), eventType, columns };
  // Not enumerable: a spec stays a plain description when printed or compared; the lake reads it.
  Object.defineProperty(spec, 'messageType', { value: type, enumerable: false });
  const doc = (type.comment ?? '').trim();
  if (doc) spec.comment = doc;
  return spec;
}

/** A JSON object key used in a view's path: field names of protobuf messages, never free text. */
export function checkJsonKey(key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(key)) throw new IdentifierError('JSON key', key, 'only letters, digits and _ are allowed');
  return key;
}
