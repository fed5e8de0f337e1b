import protobuf from 'protobufjs';
import { IsoTime } from '../publisher/envelope.js';

/**
 * Protobuf wire bytes → the JSON text of the loader's RECORD_CONTENT, in one pass and without building the
 * message or plain objects on the way (the loader's hottest code: protobufjs' decode, its toObject and
 * JSON.stringify cost about three times what this does).
 *
 * The text is exactly `JSON.stringify(registry.decode(type, bytes))` for every well-formed record — same keys in the
 * same order (repeated fields, then maps, then the other fields by number with proto3 defaults, then the oneof
 * members that are set), int64 as decimal strings, enums as names (unknown values as numbers), bytes as base64,
 * google.protobuf.Timestamp as ISO-8601 — which `test/schema/json-decode.test.ts` checks over randomised records.
 * It is stricter on malformed input: a field arriving with the wrong wire type, a varint longer than ten bytes or a
 * length past the end throws instead of being read as something else, so the record goes to the DLQ. Invalid UTF-8 in
 * a string decodes with U+FFFD replacement characters (Node's decoder).
 *
 * Types with a feature it does not cover (proto2 groups, maps with 64-bit keys or message values, non-standard
 * defaults) compile to null and the caller keeps protobufjs' path.
 */
export type JsonDecoder = (bytes: Uint8Array) => string;

const RECURSION_LIMIT = 100;

/** The read position over one record's bytes, shared by the functions of every type it nests. */
interface Cursor {
  b: Buffer;
  p: number;
  lo: number;
  hi: number;
}

function outOfRange(): RangeError {
  return new RangeError('index out of range');
}

/** Reads a varint, keeping its low 32 bits (protobufjs' uint32). */
function varint32(c: Cursor, end: number): number {
  const b = c.b;
  let p = c.p;
  if (p >= end) throw outOfRange();
  let x = b[p++]!;
  if (x < 128) {
    c.p = p;
    return x;
  }
  x &= 127;
  let shift = 7;
  for (;;) {
    if (p >= end) throw outOfRange();
    const byte = b[p++]!;
    if (shift < 32) x |= (byte & 127) << shift;
    if (byte < 128) break;
    shift += 7;
    if (shift >= 70) throw new Error('varint longer than 10 bytes');
  }
  c.p = p;
  return x >>> 0;
}

/** Reads a varint into c.lo / c.hi (unsigned 32-bit halves). */
function varint64(c: Cursor, end: number): void {
  const b = c.b;
  let p = c.p;
  let lo = 0;
  let hi = 0;
  let i = 0;
  for (;; i++) {
    if (p >= end) throw outOfRange();
    const byte = b[p++]!;
    const bits = byte & 127;
    if (i < 4) lo |= bits << (7 * i);
    else if (i === 4) {
      lo |= bits << 28;
      hi |= bits >>> 4;
    } else if (i < 10) hi |= bits << (7 * i - 32);
    else throw new Error('varint longer than 10 bytes');
    if (byte < 128) break;
  }
  c.p = p;
  c.lo = lo >>> 0;
  c.hi = hi >>> 0;
}

const TWO32 = 4294967296;

function unsigned64Text(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * TWO32 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function signed64Text(lo: number, hi: number): string {
  if (hi < 0x80000000) return unsigned64Text(lo, hi);
  const nlo = (~lo + 1) >>> 0;
  const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
  if (nhi < 0x200000) return '-' + String(nhi * TWO32 + nlo);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function zigzag64(c: Cursor): void {
  const mask = -(c.lo & 1);
  const lo = ((c.lo >>> 1) | (c.hi << 31)) ^ mask;
  const hi = (c.hi >>> 1) ^ mask;
  c.lo = lo >>> 0;
  c.hi = hi >>> 0;
}

/** JSON.stringify of a number (NaN and ±Infinity are null; -0 is 0). */
function numberText(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

function skip(c: Cursor, end: number, wire: number, depth: number): void {
  switch (wire) {
    case 0:
      varint64(c, end);
      return;
    case 1:
      c.p += 8;
      break;
    case 2: {
      const len = varint32(c, end);
      c.p += len;
      break;
    }
    case 3:
      if (depth > RECURSION_LIMIT) throw new Error('maximum nesting depth exceeded');
      for (;;) {
        const tag = varint32(c, end);
        if ((tag & 7) === 4) return;
        skip(c, end, tag & 7, depth + 1);
      }
    case 5:
      c.p += 4;
      break;
    default:
      throw new Error(`invalid wire type ${wire}`);
  }
  if (c.p > end) throw outOfRange();
}

/** Reads a length prefix and returns the end of the delimited bytes. */
function delimited(c: Cursor, end: number): number {
  const len = varint32(c, end);
  const stop = c.p + len;
  if (stop > end) throw outOfRange();
  return stop;
}

type ScalarKind =
  | 'double' | 'float' | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32'
  | 'int64' | 'uint64' | 'sint64' | 'fixed64' | 'sfixed64' | 'bool' | 'string' | 'bytes' | 'enum';

const WIRE: Record<ScalarKind, number> = {
  double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5, int64: 0, uint64: 0, sint64: 0,
  fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2, enum: 0,
};

/** Reads one scalar of `kind` and returns it as a JS value the way protobufjs' toObject gives it (before JSON). */
type ValueReader = (c: Cursor, end: number) => unknown;
/** Reads one scalar and returns its JSON text. */
type TextReader = (c: Cursor, end: number) => string;

function readFixed(c: Cursor, end: number, n: number): number {
  const p = c.p;
  if (p + n > end) throw outOfRange();
  c.p = p + n;
  return p;
}

function scalarReaders(kind: ScalarKind, enumType: protobuf.Enum | null): { value: ValueReader; text: TextReader } {
  switch (kind) {
    case 'double':
      return {
        value: (c, e) => c.b.readDoubleLE(readFixed(c, e, 8)),
        text: (c, e) => numberText(c.b.readDoubleLE(readFixed(c, e, 8))),
      };
    case 'float':
      return {
        value: (c, e) => c.b.readFloatLE(readFixed(c, e, 4)),
        text: (c, e) => numberText(c.b.readFloatLE(readFixed(c, e, 4))),
      };
    case 'int32':
      return { value: (c, e) => varint32(c, e) | 0, text: (c, e) => String(varint32(c, e) | 0) };
    case 'uint32':
      return { value: (c, e) => varint32(c, e), text: (c, e) => String(varint32(c, e)) };
    case 'sint32': {
      const read = (c: Cursor, e: number) => {
        const v = varint32(c, e);
        return ((v >>> 1) ^ -(v & 1)) | 0;
      };
      return { value: read, text: (c, e) => String(read(c, e)) };
    }
    case 'fixed32':
      return {
        value: (c, e) => c.b.readUInt32LE(readFixed(c, e, 4)),
        text: (c, e) => String(c.b.readUInt32LE(readFixed(c, e, 4))),
      };
    case 'sfixed32':
      return {
        value: (c, e) => c.b.readInt32LE(readFixed(c, e, 4)),
        text: (c, e) => String(c.b.readInt32LE(readFixed(c, e, 4))),
      };
    case 'int64': {
      const read = (c: Cursor, e: number) => {
        varint64(c, e);
        return signed64Text(c.lo, c.hi);
      };
      return { value: read, text: (c, e) => '"' + read(c, e) + '"' };
    }
    case 'uint64': {
      const read = (c: Cursor, e: number) => {
        varint64(c, e);
        return unsigned64Text(c.lo, c.hi);
      };
      return { value: read, text: (c, e) => '"' + read(c, e) + '"' };
    }
    case 'sint64': {
      const read = (c: Cursor, e: number) => {
        varint64(c, e);
        zigzag64(c);
        return signed64Text(c.lo, c.hi);
      };
      return { value: read, text: (c, e) => '"' + read(c, e) + '"' };
    }
    case 'fixed64':
    case 'sfixed64': {
      const text = kind === 'fixed64' ? unsigned64Text : signed64Text;
      const read = (c: Cursor, e: number) => {
        const p = readFixed(c, e, 8);
        return text(c.b.readUInt32LE(p), c.b.readUInt32LE(p + 4));
      };
      return { value: read, text: (c, e) => '"' + read(c, e) + '"' };
    }
    case 'bool':
      return { value: (c, e) => varint32(c, e) !== 0, text: (c, e) => (varint32(c, e) !== 0 ? 'true' : 'false') };
    case 'string': {
      const read = (c: Cursor, e: number) => {
        const stop = delimited(c, e);
        const s = c.b.toString('utf8', c.p, stop);
        c.p = stop;
        return s;
      };
      return { value: read, text: (c, e) => JSON.stringify(read(c, e)) };
    }
    case 'bytes': {
      const read = (c: Cursor, e: number) => {
        const stop = delimited(c, e);
        const s = c.b.toString('base64', c.p, stop);
        c.p = stop;
        return s;
      };
      return { value: read, text: (c, e) => '"' + read(c, e) + '"' };
    }
    case 'enum': {
      const byId = enumType!.valuesById;
      const texts = new Map<number, string>();
      for (const id of Object.keys(byId)) texts.set(Number(id), JSON.stringify(byId[Number(id)]));
      return {
        value: (c, e) => {
          const v = varint32(c, e) | 0;
          const name = byId[v];
          return name === undefined ? v : name;
        },
        text: (c, e) => {
          const v = varint32(c, e) | 0;
          return texts.get(v) ?? String(v);
        },
      };
    }
  }
}

const PACKABLE = new Set<ScalarKind>(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'enum']);
const MAP_KEYS = new Set(['string', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'bool']);

/** How one field is read and where its text goes. */
interface FieldPlan {
  slot: number;
  /** `"name":` */
  key: string;
  kind: 'normal' | 'repeated' | 'map' | 'oneof';
  /** The JSON text of a normal field left out (its proto3 default). */
  absent: string;
  read: (c: Cursor, end: number, wire: number, slots: unknown[], depth: number) => void;
}

interface MessagePlan {
  /** Field number → plan (numbers below 64 in an array, the rest in a map). */
  small: Array<FieldPlan | undefined>;
  large: Map<number, FieldPlan>;
  /** Fields in output order. */
  order: FieldPlan[];
  slots: number;
  decode: (c: Cursor, end: number, depth: number) => string;
}

class Unsupported extends Error {}

const TIMESTAMP = '.google.protobuf.Timestamp';

function timestampText(c: Cursor, end: number): string {
  let seconds = 0;
  let nanos = 0;
  while (c.p < end) {
    const tag = varint32(c, end);
    const wire = tag & 7;
    const num = tag >>> 3;
    if (num === 1 && wire === 0) {
      varint64(c, end);
      seconds = c.hi >= 0x80000000 ? Number(BigInt.asIntN(64, (BigInt(c.hi) << 32n) | BigInt(c.lo))) : c.hi * TWO32 + c.lo;
    } else if (num === 2 && wire === 0) nanos = varint32(c, end) | 0;
    else if (num === 1 || num === 2) throw new Error(`google.protobuf.Timestamp field ${num}: wire type ${wire}`);
    else skip(c, end, wire, 0);
  }
  if (c.p !== end) throw outOfRange();
  return '"' + isoOfTimestamp(seconds, nanos) + '"';
}

const ISO = new IsoTime();

/** google.protobuf.Timestamp as ISO-8601 UTC with millisecond precision, or more digits when nanos need them. */
export function isoOfTimestamp(seconds: number, nanos: number): string {
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  const iso = ISO.format(ms);
  const subMs = nanos % 1e6;
  return subMs === 0 ? iso : iso.replace('Z', `${String(subMs).padStart(6, '0')}Z`);
}

function compileMessage(type: protobuf.Type, plans: Map<protobuf.Type, MessagePlan>, defaults: (type: protobuf.Type) => Record<string, unknown>): MessagePlan {
  const existing = plans.get(type);
  if (existing) return existing;
  const plan: MessagePlan = { small: [], large: new Map(), order: [], slots: 0, decode: () => '' };
  plans.set(type, plan);
  const fields = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
  const defaultObject = defaults(type);
  const all: FieldPlan[] = [];
  for (const field of fields) {
    field.resolve();
    if (field.delimited) throw new Unsupported(`${type.fullName}.${field.name} is a group`);
    const slot = all.length;
    const key = JSON.stringify(field.name) + ':';
    const rt = field.resolvedType;
    let fp: FieldPlan;
    if (field instanceof protobuf.MapField) {
      if (!MAP_KEYS.has(field.keyType)) throw new Unsupported(`map key ${field.keyType}`);
      if (rt instanceof protobuf.Type) throw new Unsupported('map of messages');
      const keyReader = scalarReaders(field.keyType as ScalarKind, null).value;
      const valueKind: ScalarKind = rt instanceof protobuf.Enum ? 'enum' : (field.type as ScalarKind);
      if (!(valueKind in WIRE)) throw new Unsupported(`map value ${field.type}`);
      const valueReader = scalarReaders(valueKind, rt instanceof protobuf.Enum ? rt : null).value;
      const keyWire = WIRE[field.keyType as ScalarKind];
      const valueWire = WIRE[valueKind];
      const keyDefault = field.keyType === 'string' ? '' : field.keyType === 'bool' ? false : 0;
      const valueDefault = mapValueDefault(valueKind, rt);
      fp = {
        slot, key, kind: 'map', absent: '{}',
        read: (c, end, wire, slots) => {
          if (wire !== 2) throw new Error(`field ${field.name} (${field.id}): wire type ${wire}, expected 2`);
          const stop = delimited(c, end);
          let k: unknown = keyDefault;
          let v: unknown = valueDefault;
          while (c.p < stop) {
            const tag = varint32(c, stop);
            const w = tag & 7;
            const n = tag >>> 3;
            if (n === 1) {
              if (w !== keyWire) throw new Error(`field ${field.name} (${field.id}) key: wire type ${w}`);
              k = keyReader(c, stop);
            } else if (n === 2) {
              if (w !== valueWire) throw new Error(`field ${field.name} (${field.id}) value: wire type ${w}`);
              v = valueReader(c, stop);
            } else skip(c, stop, w, 0);
          }
          if (c.p !== stop) throw outOfRange();
          let obj = slots[slot] as Record<string, unknown> | undefined;
          if (obj === undefined) slots[slot] = obj = {};
          const name = String(k);
          if (name === '__proto__') Object.defineProperty(obj, name, { value: v, enumerable: true, writable: true, configurable: true });
          else obj[name] = v;
        },
      };
    } else if (rt instanceof protobuf.Type) {
      const kind = field.repeated ? 'repeated' : field.partOf ? 'oneof' : 'normal';
      const isTimestamp = rt.fullName === TIMESTAMP;
      const sub = isTimestamp ? null : compileMessage(rt, plans, defaults);
      const text = (c: Cursor, end: number, depth: number): string => {
        const stop = delimited(c, end);
        const out = sub ? sub.decode(c, stop, depth + 1) : timestampText(c, stop);
        c.p = stop;
        return out;
      };
      fp = {
        slot, key, kind, absent: kind === 'repeated' ? '[]' : 'null',
        read: field.repeated
          ? (c, end, wire, slots, depth) => {
              if (wire !== 2) throw new Error(`field ${field.name} (${field.id}): wire type ${wire}, expected 2`);
              const prev = slots[slot] as string | undefined;
              const t = text(c, end, depth);
              slots[slot] = prev === undefined ? t : prev + ',' + t;
            }
          : (c, end, wire, slots, depth) => {
              if (wire !== 2) throw new Error(`field ${field.name} (${field.id}): wire type ${wire}, expected 2`);
              slots[slot] = text(c, end, depth);
            },
      };
    } else {
      const kind: ScalarKind = rt instanceof protobuf.Enum ? 'enum' : (field.type as ScalarKind);
      if (!(kind in WIRE)) throw new Unsupported(`type ${field.type}`);
      const reader = scalarReaders(kind, rt instanceof protobuf.Enum ? rt : null).text;
      const expected = WIRE[kind];
      if (field.repeated) {
        const packable = PACKABLE.has(kind);
        fp = {
          slot, key, kind: 'repeated', absent: '[]',
          read: (c, end, wire, slots) => {
            let acc = slots[slot] as string | undefined;
            if (wire === expected) {
              const t = reader(c, end);
              acc = acc === undefined ? t : acc + ',' + t;
            } else if (wire === 2 && packable) {
              const stop = delimited(c, end);
              while (c.p < stop) {
                const t = reader(c, stop);
                acc = acc === undefined ? t : acc + ',' + t;
              }
              if (c.p !== stop) throw outOfRange();
            } else throw new Error(`field ${field.name} (${field.id}): wire type ${wire}, expected ${expected}`);
            if (acc !== undefined) slots[slot] = acc;
          },
        };
      } else {
        const kindOf = field.partOf ? 'oneof' : 'normal';
        let absent = 'null';
        if (kindOf === 'normal') {
          const d = defaultObject[field.name];
          absent = JSON.stringify(d);
          if (absent === undefined) throw new Unsupported(`default of ${field.name}`);
        }
        fp = {
          slot, key, kind: kindOf, absent,
          read: (c, end, wire, slots) => {
            if (wire !== expected) throw new Error(`field ${field.name} (${field.id}): wire type ${wire}, expected ${expected}`);
            slots[slot] = reader(c, end);
          },
        };
      }
    }
    all.push(fp);
    if (field.id < 64) plan.small[field.id] = fp;
    else plan.large.set(field.id, fp);
  }
  plan.slots = all.length;
  plan.order = [
    ...all.filter((f) => f.kind === 'repeated'),
    ...all.filter((f) => f.kind === 'map'),
    ...all.filter((f) => f.kind === 'normal'),
    ...all.filter((f) => f.kind === 'oneof'),
  ];
  const { small, large, order } = plan;
  const n = plan.slots;
  plan.decode = (c, end, depth) => {
    if (depth > RECURSION_LIMIT) throw new Error('maximum nesting depth exceeded');
    const slots: unknown[] = new Array(n);
    while (c.p < end) {
      const tag = varint32(c, end);
      const num = tag >>> 3;
      const wire = tag & 7;
      if (num === 0) throw new Error('invalid field number 0');
      const fp = num < 64 ? small[num] : large.get(num);
      if (fp === undefined) skip(c, end, wire, depth);
      else fp.read(c, end, wire, slots, depth);
    }
    if (c.p !== end) throw outOfRange();
    let out = '{';
    for (let i = 0; i < order.length; i++) {
      const f = order[i]!;
      const v = slots[f.slot];
      let text: string;
      switch (f.kind) {
        case 'normal':
          text = v === undefined ? f.absent : (v as string);
          break;
        case 'repeated':
          text = v === undefined ? '[]' : '[' + (v as string) + ']';
          break;
        case 'map':
          text = v === undefined ? '{}' : JSON.stringify(v);
          break;
        default:
          if (v === undefined) continue;
          text = v as string;
      }
      out += out.length === 1 ? f.key + text : ',' + f.key + text;
    }
    return out + '}';
  };
  return plan;
}

function mapValueDefault(kind: ScalarKind, rt: protobuf.Type | protobuf.Enum | null): unknown {
  switch (kind) {
    case 'string':
    case 'bytes':
      return '';
    case 'bool':
      return false;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return '0';
    case 'enum': {
      // protobufjs' map decoding starts an absent enum value at 0 and toObject names it.
      const name = (rt as protobuf.Enum).valuesById[0];
      return name === undefined ? 0 : name;
    }
    default:
      return 0;
  }
}

const COMPILED = new WeakMap<protobuf.Type, JsonDecoder | null>();
const TO_OBJECT_DEFAULTS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: true };

/**
 * The JSON-text decoder for `type`, compiled once (null when the type uses something it does not cover).
 *
 * @example
 * const decode = compileJsonDecoder(root.lookupType('orders.v1.OrderPlaced'));
 * const text = decode ? decode(bytes) : JSON.stringify(registry.decode('orders.v1.OrderPlaced', bytes));
 */
export function compileJsonDecoder(type: protobuf.Type): JsonDecoder | null {
  const cached = COMPILED.get(type);
  if (cached !== undefined) return cached;
  let out: JsonDecoder | null;
  try {
    const plan = compileMessage(type, new Map(), (t) => {
      // The absent-field texts come from protobufjs itself, so defaults (enum names, "0" for int64, "" for bytes)
      // are the ones its toObject writes.
      for (const f of t.fieldsArray) {
        const d = f.options?.default;
        if (d !== undefined) throw new Unsupported(`${t.fullName}.${f.name} has a custom default`);
      }
      return t.toObject(t.create(), TO_OBJECT_DEFAULTS) as Record<string, unknown>;
    });
    const cursor: Cursor = { b: Buffer.alloc(0), p: 0, lo: 0, hi: 0 };
    out = (bytes) => {
      const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      cursor.b = b;
      cursor.p = 0;
      return plan.decode(cursor, b.length, 0);
    };
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    out = null;
  }
  COMPILED.set(type, out);
  return out;
}
