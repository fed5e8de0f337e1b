/**
 * Parquet columns of the lake, typed from the protobuf schema (never inferred from the data).
 *
 * The loader hands every row over as two JSON texts (RECORD_METADATA and RECORD_CONTENT, see loader/record.ts);
 * DuckDB turns them into typed values with `json_transform(text, '<DuckDB type>')` inside the COPY that writes
 * the Parquet file. This module makes those types and the SELECT list:
 *
 * | protobuf                               | Parquet (DuckDB type)                                       |
 * | -------------------------------------- | ----------------------------------------------------------- |
 * | double / float                         | DOUBLE / FLOAT                                              |
 * | int32, sint32, sfixed32 / uint32, fixed32 | INTEGER / UINTEGER                                       |
 * | int64, sint64, sfixed64 / uint64, fixed64 | BIGINT / UBIGINT (exact: the JSON carries them as strings) |
 * | bool, string                           | BOOLEAN, VARCHAR                                            |
 * | bytes                                  | BLOB at the top level (and in a top-level repeated field); base64 VARCHAR deeper |
 * | enum                                   | VARCHAR: the value's name (an unknown number as its digits) |
 * | google.protobuf.Timestamp              | TIMESTAMP WITH TIME ZONE (UTC, microseconds)                |
 * | message                                | STRUCT (a message met again below itself: its JSON text)    |
 * | repeated T                             | LIST of T                                                   |
 * | map<K, V>                              | MAP(K, V)                                                   |
 *
 * Column names are the fields' JSON names (lowerCamelCase, as in RECORD_CONTENT). The metadata columns start
 * with an underscore.
 */
import protobuf from 'protobufjs';
import { WarehouseError } from '../../errors.js';

const SCALARS: Record<string, string> = {
  double: 'DOUBLE',
  float: 'FLOAT',
  int32: 'INTEGER',
  sint32: 'INTEGER',
  sfixed32: 'INTEGER',
  uint32: 'UINTEGER',
  fixed32: 'UINTEGER',
  int64: 'BIGINT',
  sint64: 'BIGINT',
  sfixed64: 'BIGINT',
  uint64: 'UBIGINT',
  fixed64: 'UBIGINT',
  bool: 'BOOLEAN',
  string: 'VARCHAR',
  // base64 text in the JSON; turned into BLOB by the SELECT list where it can be (see contentSelect).
  bytes: 'VARCHAR',
};

const TIMESTAMP = '.google.protobuf.Timestamp';
/** How deep messages nest as STRUCTs before the rest is kept as JSON text. */
const MAX_DEPTH = 16;

/** A DuckDB identifier in double quotes (any text; quotes doubled). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The metadata columns every lake file starts with, and the JSON type of RECORD_METADATA they are read from. */
export const METADATA_COLUMNS: ReadonlyArray<{ name: string; expr: string; doc: string }> = [
  { name: '_topic', expr: 'm.topic', doc: 'Kafka topic' },
  { name: '_partition', expr: 'm."partition"', doc: 'Kafka partition' },
  { name: '_offset', expr: 'm."offset"', doc: 'Kafka offset' },
  { name: '_timestamp', expr: 'to_timestamp(m."CreateTime" / 1000)', doc: 'Kafka record timestamp (UTC)' },
  { name: '_key', expr: 'm."key"', doc: 'record key (UTF-8)' },
  { name: '_event_type', expr: 'm.event_type', doc: 'fully qualified event type' },
  { name: '_event_id', expr: 'm.event_id', doc: 'event id (UUIDv7), the same as in the StatsD counter and trace' },
  { name: '_occurred_at', expr: 'm.occurred_at', doc: 'when the event happened (UTC); partitions date= and hour=' },
  { name: '_producer', expr: 'm.producer', doc: 'the publishing service' },
  { name: '_schema_fingerprint', expr: 'm.schema_fingerprint', doc: 'fingerprint of the schema version the event was published with' },
  { name: '_headers', expr: 'm.headers', doc: 'every record header as text (traceparent, tracestate, …)' },
  { name: '_load_time', expr: 'm.load_time', doc: 'when the loader built the batch (UTC)' },
];

export const METADATA_TYPE =
  'STRUCT(topic VARCHAR, "partition" INTEGER, "offset" BIGINT, "CreateTime" BIGINT, "key" VARCHAR, headers MAP(VARCHAR, VARCHAR), ' +
  'event_type VARCHAR, event_id VARCHAR, occurred_at TIMESTAMPTZ, producer VARCHAR, schema_fingerprint VARCHAR, load_time TIMESTAMPTZ)';

/** Hive partition columns of the layout: a field with one of these names is shadowed by it in readers that use them. */
export const PARTITION_COLUMNS = ['topic', 'event_type', 'date', 'hour'] as const;

/** The columns of one event type's files. */
export interface TypePlan {
  eventType: string;
  /** DuckDB type of RECORD_CONTENT for json_transform. */
  contentType: string;
  /** `expr AS "name"` per content column (the record's struct is `c`). */
  contentSelect: string[];
  /** Column name → Parquet/DuckDB type (docs, tests). */
  columns: Array<{ name: string; type: string }>;
}

function scalarOf(field: protobuf.Field): string {
  const t = SCALARS[field.type];
  if (!t) throw new WarehouseError('lake', `field ${field.fullName}: protobuf type ${field.type} has no Parquet mapping`);
  return t;
}

/** The DuckDB type of a single value of `field` (its element type when repeated). */
function valueType(field: protobuf.Field, depth: number, seen: ReadonlySet<string>): string {
  field.resolve();
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) return 'VARCHAR';
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === TIMESTAMP) return 'TIMESTAMPTZ';
    if (depth >= MAX_DEPTH || seen.has(rt.fullName)) return 'JSON';
    return messageType(rt, depth + 1, new Set([...seen, rt.fullName]));
  }
  return scalarOf(field);
}

function messageType(type: protobuf.Type, depth: number, seen: ReadonlySet<string>): string {
  const parts = type.fieldsArray.map((f) => `${ident(jsonName(f))} ${fieldType(f, depth, seen)}`);
  // An empty message (no fields) has no STRUCT form: its JSON text ({}).
  return parts.length === 0 ? 'JSON' : `STRUCT(${parts.join(', ')})`;
}

function fieldType(field: protobuf.Field, depth: number, seen: ReadonlySet<string>): string {
  if (field instanceof protobuf.MapField) {
    const key = SCALARS[field.keyType];
    if (!key) throw new WarehouseError('lake', `map field ${field.fullName}: key type ${field.keyType} has no Parquet mapping`);
    return `MAP(${key === 'BOOLEAN' ? 'VARCHAR' : key}, ${valueType(field, depth, seen)})`;
  }
  const t = valueType(field, depth, seen);
  return field.repeated ? `${t}[]` : t;
}

/** protobufjs' field name is already the lowerCamelCase JSON name unless the schema set json_name. */
function jsonName(field: protobuf.Field): string {
  const explicit = (field.options as Record<string, unknown> | undefined)?.json_name;
  return typeof explicit === 'string' ? explicit : field.name;
}

/** Columns of an event type's Parquet files, from its protobuf message. */
export function planFor(eventType: string, type: protobuf.Type): TypePlan {
  type.resolveAll();
  const reserved = new Set(METADATA_COLUMNS.map((c) => c.name));
  const contentSelect: string[] = [];
  const columns: Array<{ name: string; type: string }> = METADATA_COLUMNS.map((c) => ({ name: c.name, type: metadataColumnType(c.name) }));
  const seen = new Set([type.fullName]);
  for (const f of type.fieldsArray) {
    const name = jsonName(f);
    if (reserved.has(name)) throw new WarehouseError('lake', `event type ${eventType}: field ${name} has the name of a metadata column; rename the field (json_name)`);
    const t = fieldType(f, 0, seen);
    const ref = `c.${ident(name)}`;
    let expr = ref;
    let outType = t;
    if (f.type === 'bytes' && !(f instanceof protobuf.MapField)) {
      if (f.repeated) {
        expr = `list_transform(${ref}, b -> from_base64(b))`;
        outType = 'BLOB[]';
      } else {
        expr = `from_base64(${ref})`;
        outType = 'BLOB';
      }
    }
    contentSelect.push(`${expr} AS ${ident(name)}`);
    columns.push({ name, type: outType });
  }
  const contentType = type.fieldsArray.length === 0 ? 'JSON' : messageType(type, 0, seen);
  return { eventType, contentType, contentSelect, columns };
}

/** For rows whose event type has no schema here (should not happen: the loader registers every type): content as JSON. */
export function untypedPlan(eventType: string): TypePlan {
  return {
    eventType,
    contentType: 'JSON',
    contentSelect: ['c AS "_content"'],
    columns: [...METADATA_COLUMNS.map((c) => ({ name: c.name, type: metadataColumnType(c.name) })), { name: '_content', type: 'JSON' }],
  };
}

function metadataColumnType(name: string): string {
  switch (name) {
    case '_partition':
      return 'INTEGER';
    case '_offset':
      return 'BIGINT';
    case '_timestamp':
    case '_occurred_at':
    case '_load_time':
      return 'TIMESTAMPTZ';
    case '_headers':
      return 'MAP(VARCHAR, VARCHAR)';
    default:
      return 'VARCHAR';
  }
}

/** The SELECT that turns the staging table (metadata, content JSON text) into one event type's Parquet columns. */
export function selectFor(plan: TypePlan, staging: string): string {
  const meta = METADATA_COLUMNS.map((c) => `${c.expr} AS ${ident(c.name)}`);
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return (
    `SELECT ${[...meta, ...plan.contentSelect].join(', ')} FROM (SELECT json_transform(metadata, ${lit(JSON.stringify(METADATA_TYPE))}) AS m, ` +
    `json_transform(content, ${lit(JSON.stringify(plan.contentType))}) AS c FROM ${staging})`
  );
}
