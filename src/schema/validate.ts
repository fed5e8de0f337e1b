import protobuf from 'protobufjs';
import { ValidationError } from '../errors.js';

/**
 * A validator compiled once per message type. `prepare` checks a user's event (field names, types, ranges,
 * required fields, enum names) and returns the object protobufjs' `encode` takes, in one pass, so that a
 * bad event is rejected with the path of the bad field before anything is encoded or sent.
 */
type Kind = 'string' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'double' | 'bytes' | 'enum' | 'message' | 'timestamp';

interface FieldSpec {
  name: string;
  kind: Kind;
  required: boolean;
  repeated: boolean;
  map: boolean;
  mapKeyKind?: Kind;
  oneof?: string;
  enumValues?: Readonly<Record<string, number>>;
  enumNumbers?: ReadonlySet<number>;
  message?: MessageSpec;
}

export interface MessageSpec {
  typeName: string;
  fields: Map<string, FieldSpec>;
  required: string[];
  oneofs: Map<string, string[]>;
}

const SCALAR_KIND: Record<string, Kind> = {
  string: 'string', bool: 'bool', bytes: 'bytes', double: 'double', float: 'double',
  int32: 'int32', sint32: 'int32', sfixed32: 'int32', uint32: 'uint32', fixed32: 'uint32',
  int64: 'int64', sint64: 'int64', sfixed64: 'int64', uint64: 'uint64', fixed64: 'uint64',
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const INT_STRING = /^-?\d+$/;

export function compileSpec(type: protobuf.Type, cache = new Map<string, MessageSpec>()): MessageSpec {
  const cached = cache.get(type.fullName);
  if (cached) return cached;
  const spec: MessageSpec = { typeName: type.fullName.slice(1), fields: new Map(), required: [], oneofs: new Map() };
  cache.set(type.fullName, spec);
  for (const oneof of type.oneofsArray) {
    // proto3 `optional` is a synthetic one-member oneof: presence only, no exclusivity to check.
    if (oneof.fieldsArray.length > 1) spec.oneofs.set(oneof.name, oneof.fieldsArray.map((f) => f.name));
  }
  for (const f of type.fieldsArray) {
    const rt = f.resolvedType;
    let kind: Kind;
    const fs: Partial<FieldSpec> = {};
    if (rt instanceof protobuf.Enum) {
      kind = 'enum';
      fs.enumValues = rt.values;
      fs.enumNumbers = new Set(Object.values(rt.values));
    } else if (rt instanceof protobuf.Type) {
      kind = rt.fullName === '.google.protobuf.Timestamp' ? 'timestamp' : 'message';
      if (kind === 'message') fs.message = compileSpec(rt, cache);
    } else {
      kind = SCALAR_KIND[f.type] ?? 'string';
    }
    const isMap = f instanceof protobuf.MapField;
    const spec1: FieldSpec = {
      name: f.name,
      kind,
      repeated: f.repeated,
      map: isMap,
      required: !f.repeated && !isMap && !f.partOf && kind !== 'message' && kind !== 'timestamp',
      ...fs,
    };
    if (isMap) spec1.mapKeyKind = SCALAR_KIND[(f as protobuf.MapField).keyType] ?? 'string';
    if (f.partOf && f.partOf.fieldsArray.length > 1) spec1.oneof = f.partOf.name;
    spec.fields.set(f.name, spec1);
    if (spec1.required) spec.required.push(f.name);
  }
  return spec;
}

/**
 * The spec of an event type whose event-time field may be left out: `EventRegistry.encode` sets it to now when
 * absent, so an int64-millis event time (a scalar, otherwise required) is optional like a Timestamp one.
 * A copy: the cached spec stays as it is for the same message used as a field of another.
 */
export function withOptional(spec: MessageSpec, names: readonly string[]): MessageSpec {
  if (!names.some((n) => spec.required.includes(n))) return spec;
  const fields = new Map([...spec.fields].map(([k, f]) => [k, names.includes(k) ? { ...f, required: false } : f]));
  return { ...spec, fields, required: spec.required.filter((n) => !names.includes(n)) };
}

/** The encodable form of a google.protobuf.Timestamp for milliseconds since the epoch. */
export function timestampOfMillis(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Validates `value` against `spec` and returns the object to encode. Throws ValidationError. */
export function prepare(eventType: string, spec: MessageSpec, value: unknown, path = ''): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
    throw new ValidationError(eventType, path || '(event)', `must be an object of type ${spec.typeName}, got ${describe(value)}`);
  }
  const input = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key in input) {
    const v = input[key];
    if (v === undefined || v === null) continue;
    const field = spec.fields.get(key);
    const p = path ? `${path}.${key}` : key;
    if (!field) throw new ValidationError(eventType, p, `is not a field of ${spec.typeName}${suggest(key, spec)}`);
    if (field.map) out[key] = prepareMap(eventType, field, v, p);
    else if (field.repeated) {
      if (!Array.isArray(v)) throw new ValidationError(eventType, p, `must be an array, got ${describe(v)}`);
      out[key] = v.map((item, i) => prepareValue(eventType, field, item, `${p}[${i}]`));
    } else out[key] = prepareValue(eventType, field, v, p);
  }
  for (const name of spec.required) {
    if (input[name] === undefined || input[name] === null) {
      throw new ValidationError(eventType, path ? `${path}.${name}` : name, 'is required');
    }
  }
  if (spec.oneofs.size > 0) {
    for (const [oneof, members] of spec.oneofs) {
      const set = members.filter((m) => out[m] !== undefined);
      if (set.length > 1) throw new ValidationError(eventType, path ? `${path}.${set[1]}` : set[1]!, `cannot be set together with '${set[0]}' (oneof ${oneof})`);
    }
  }
  return out;
}

function prepareMap(eventType: string, field: FieldSpec, v: unknown, p: string): Record<string, unknown> {
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Map) throw new ValidationError(eventType, p, `must be a plain object (map), got ${describe(v)}`);
  const out: Record<string, unknown> = {};
  for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
    if (field.mapKeyKind && field.mapKeyKind !== 'string' && !INT_STRING.test(k) && field.mapKeyKind !== 'bool') {
      throw new ValidationError(eventType, `${p}.${k}`, `map key must be an integer`);
    }
    out[k] = prepareValue(eventType, field, item, `${p}.${k}`);
  }
  return out;
}

/** Throws the ValidationError for a value of the wrong type (a function rather than a closure per call: this runs per field). */
function invalid(eventType: string, p: string, v: unknown, expected: string): never {
  throw new ValidationError(eventType, p, `must be ${expected}, got ${describe(v)}`);
}

function prepareValue(eventType: string, field: FieldSpec, v: unknown, p: string): unknown {
  switch (field.kind) {
    case 'string':
      return typeof v === 'string' ? v : invalid(eventType, p, v, 'a string');
    case 'bool':
      return typeof v === 'boolean' ? v : invalid(eventType, p, v, 'a boolean');
    case 'double':
      return typeof v === 'number' ? v : invalid(eventType, p, v, 'a number');
    case 'int32':
      return typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 ? v : invalid(eventType, p, v, 'an int32 (integer in [-2^31, 2^31-1])');
    case 'uint32':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 4294967295 ? v : invalid(eventType, p, v, 'a uint32 (integer in [0, 2^32-1])');
    case 'int64':
    case 'uint64':
      return prepareInt64(field.kind, v, (expected) => invalid(eventType, p, v, expected));
    case 'bytes':
      return v instanceof Uint8Array ? v : invalid(eventType, p, v, 'a Uint8Array or Buffer');
    case 'enum': {
      if (typeof v === 'string') {
        const n = field.enumValues![v];
        return n !== undefined ? n : invalid(eventType, p, v, `one of ${Object.keys(field.enumValues!).join(', ')}`);
      }
      return typeof v === 'number' && field.enumNumbers!.has(v) ? v : invalid(eventType, p, v, `one of ${Object.keys(field.enumValues!).join(', ')}`);
    }
    case 'timestamp':
      return prepareTimestamp(v, (expected) => invalid(eventType, p, v, expected));
    case 'message':
      return prepare(eventType, field.message!, v, p);
  }
}

function prepareInt64(kind: 'int64' | 'uint64', v: unknown, bad: (e: string) => never): unknown {
  // A safe integer is within int64 as it is; only its sign matters for uint64 (no BigInt needed).
  if (typeof v === 'number' && Number.isSafeInteger(v) && (kind === 'int64' || v >= 0)) return v;
  const expected = kind === 'int64' ? 'an int64 (safe integer, bigint or decimal string)' : 'a uint64 (non-negative safe integer, bigint or decimal string)';
  let big: bigint;
  if (typeof v === 'number') return bad(expected);
  else if (typeof v === 'bigint') big = v;
  else if (typeof v === 'string' && INT_STRING.test(v)) big = BigInt(v);
  else return bad(expected);
  const ok = kind === 'int64' ? big >= INT64_MIN && big <= INT64_MAX : big >= 0n && big <= UINT64_MAX;
  if (!ok) return bad(expected);
  // protobufjs' writer takes decimal strings for 64-bit fields (through long.js) without precision loss.
  return big.toString();
}

function prepareTimestamp(v: unknown, bad: (e: string) => never): unknown {
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) return bad('a valid Date');
    return timestampOfMillis(ms);
  }
  if (v && typeof v === 'object' && 'seconds' in v) {
    const { seconds, nanos = 0 } = v as { seconds: unknown; nanos?: unknown };
    if ((typeof seconds === 'number' && Number.isSafeInteger(seconds)) || typeof seconds === 'bigint' || (typeof seconds === 'string' && INT_STRING.test(seconds))) {
      if (typeof nanos === 'number' && Number.isInteger(nanos) && nanos >= 0 && nanos < 1e9) return { seconds: typeof seconds === 'number' ? seconds : String(seconds), nanos };
    }
  }
  return bad('a Date or { seconds, nanos }');
}

/** Milliseconds since the epoch of a prepared (encodable) timestamp or int64 value. */
export function millisOf(prepared: unknown): number {
  if (prepared && typeof prepared === 'object' && 'seconds' in prepared) {
    const { seconds, nanos } = prepared as { seconds: number | string; nanos: number };
    return Number(seconds) * 1000 + Math.floor(nanos / 1e6);
  }
  return Number(prepared);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a Date';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

function suggest(key: string, spec: MessageSpec): string {
  const lower = key.toLowerCase().replace(/_/g, '');
  for (const name of spec.fields.keys()) if (name.toLowerCase() === lower) return ` (did you mean '${name}'?)`;
  return ` (fields: ${[...spec.fields.keys()].join(', ')})`;
}
