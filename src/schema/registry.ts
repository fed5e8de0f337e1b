import protobuf from 'protobufjs';
import { OptionsError, SchemaError, UnknownEventTypeError } from '../errors.js';
import { schemaFingerprint } from './fingerprint.js';
import { compileJsonDecoder, isoOfTimestamp } from './json-decode.js';
import type { EventRule, EventSchema, SchemaBundle } from './types.js';
import { compileSpec, millisOf, prepare, timestampOfMillis, withOptional, type MessageSpec } from './validate.js';

/** One event type ready for the hot path: its rules, protobuf type and compiled validator. */
export interface CompiledEvent {
  rule: EventRule;
  type: protobuf.Type;
  spec: MessageSpec;
  /** The schema fingerprint (./fingerprint.ts): changes whenever the shape of the type or of a type it uses does. */
  fingerprint: string;
  /** The record's JSON-text decoder, compiled on first use (null: the type needs protobufjs' path). */
  jsonDecoder?: ((bytes: Uint8Array) => string) | null;
  /** decodeJson for this type as one function, made on first use. */
  jsonDecode?: JsonDecode;
}

/** A function from a record's value bytes to the JSON text of its RECORD_CONTENT. */
export type JsonDecode = (bytes: Uint8Array) => string;

/**
 * Where the loader finds the decoder of a record: a fixed schema (EventRegistry) or the live event catalogue, which
 * picks the version the record's fingerprint header names.
 */
export interface RecordSchemas {
  /** The decoder of `eventType` records written with `fingerprint` (undefined: no header), or why there is none. */
  jsonDecoder(eventType: string, fingerprint: string | undefined): JsonDecode | { errorClass: 'unknown-event-type' | 'unknown-schema-version'; reason: string };
}

/** A validated, encoded event. */
export interface EncodedEvent {
  compiled: CompiledEvent;
  /** The object protobufjs encoded (enums as numbers, timestamps as { seconds, nanos }). */
  prepared: Record<string, unknown>;
  bytes: Uint8Array;
  key: string | null;
  /** The event's own time (its event_time field, set to now when left out), or undefined when the type has none. */
  eventTimeMs: number | undefined;
}

/**
 * Dispatch rules set in code for schemas that cannot be changed: per event type, or a topic rename map
 * (`{ 'orders.v1': 'staging.orders.v1' }`) applied to every event.
 */
export interface RuleOverrides {
  topics?: Record<string, string>;
  events?: Record<string, { topic?: string; keyField?: string; metricName?: string; statsdCounter?: boolean }>;
}

const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: true };

/**
 * The runtime view of a schema bundle: looks up event types, validates and encodes events, decodes records.
 * Built once per publisher/consumer; everything per-event is precompiled.
 */
export class EventRegistry implements RecordSchemas {
  readonly bundle: SchemaBundle;
  readonly root: protobuf.Root;
  private readonly events = new Map<string, CompiledEvent>();

  constructor(schema: EventSchema | SchemaBundle, overrides: RuleOverrides = {}) {
    const bundle = 'bundle' in schema ? schema.bundle : schema;
    if (!bundle || bundle.version !== 1 || !Array.isArray(bundle.events) || !bundle.descriptor) {
      throw new SchemaError('schema is not a multidispatch schema bundle (generate one with `multidispatch codegen` or loadSchema())');
    }
    this.bundle = bundle;
    try {
      this.root = protobuf.Root.fromJSON(bundle.descriptor);
      this.root.resolveAll();
    } catch (err) {
      throw new SchemaError(`schema descriptor cannot be loaded: ${(err as Error).message}`, { cause: err });
    }
    for (const name of Object.keys(overrides.events ?? {})) {
      if (!bundle.events.some((e) => e.type === name)) throw new OptionsError(`overrides.${name}`, 'is not an event type of the schema');
    }
    const cache = new Map<string, MessageSpec>();
    for (const original of bundle.events) {
      const type = this.root.lookupType(original.type);
      const rule = applyOverrides(original, type, overrides);
      const fingerprint = schemaFingerprint(type);
      const spec = compileSpec(type, cache);
      this.events.set(rule.type, { rule, type, spec: rule.eventTime ? withOptional(spec, [rule.eventTime.field]) : spec, fingerprint, jsonDecoder: undefined, jsonDecode: undefined });
    }
  }

  get eventTypes(): string[] {
    return [...this.events.keys()];
  }

  get topics(): string[] {
    return [...new Set(this.bundle.events.map((e) => e.topic))].sort();
  }

  lookup(eventType: string): CompiledEvent {
    const found = this.events.get(eventType);
    if (!found) throw new UnknownEventTypeError(eventType, this.eventTypes);
    return found;
  }

  has(eventType: string): boolean {
    return this.events.has(eventType);
  }

  /**
   * Validates and encodes one event. Throws ValidationError / UnknownEventTypeError; never partially succeeds.
   * An event-time field left out is set to now before encoding, so the record carries the same instant as the
   * envelope's occurred-at (a Timestamp would otherwise decode as null and int64 millis as 0, the epoch).
   */
  encode(eventType: string, event: unknown): EncodedEvent {
    const compiled = this.lookup(eventType);
    const prepared = prepare(eventType, compiled.spec, event);
    const { keyField, eventTime } = compiled.rule;
    let eventTimeMs: number | undefined;
    if (eventTime) {
      const given = prepared[eventTime.field];
      if (given === undefined) {
        eventTimeMs = Date.now();
        prepared[eventTime.field] = eventTime.kind === 'timestamp' ? timestampOfMillis(eventTimeMs) : eventTimeMs;
      } else eventTimeMs = millisOf(given);
    }
    const bytes = compiled.type.encode(prepared).finish();
    let key: string | null = null;
    if (keyField !== undefined) {
      const raw = (event as Record<string, unknown>)[keyField];
      if (raw !== undefined && raw !== null) key = raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : String(raw);
    }
    return { compiled, prepared, bytes, key, eventTimeMs };
  }

  /**
   * Decodes record bytes into a JSON-safe object: int64 as decimal strings, enums as names, bytes as base64,
   * timestamps as ISO-8601 strings, every field present (proto3 defaults included).
   */
  decode(eventType: string, bytes: Uint8Array): Record<string, unknown> {
    const { type } = this.lookup(eventType);
    // The plain Reader, not protobufjs' BufferReader: the latter clamps string fields at the end of the
    // buffer instead of failing, so a truncated record would decode into a plausible but wrong event.
    const view = bytes instanceof Uint8Array && !Buffer.isBuffer(bytes) ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const message = type.decode(new protobuf.Reader(view));
    return timestampsToIso(type, type.toObject(message, DECODE_OPTIONS));
  }

  /**
   * The JSON text of `decode(eventType, bytes)`, read straight from the wire bytes (src/schema/json-decode.ts) when the
   * type allows it, else through decode and JSON.stringify. Throws on bytes that are not a well-formed `eventType`.
   */
  /** RecordSchemas: a fixed schema decodes every record of a type the same way, whatever its fingerprint. */
  jsonDecoder(eventType: string, _fingerprint: string | undefined): JsonDecode | { errorClass: 'unknown-event-type'; reason: string } {
    const compiled = this.events.get(eventType);
    if (!compiled) return { errorClass: 'unknown-event-type', reason: `unknown event type ${JSON.stringify(eventType.slice(0, 200))} (not in the loader's schema)` };
    return (compiled.jsonDecode ??= (bytes) => this.decodeJson(eventType, bytes));
  }

  decodeJson(eventType: string, bytes: Uint8Array): string {
    const compiled = this.lookup(eventType);
    let decoder = compiled.jsonDecoder;
    if (decoder === undefined) decoder = compiled.jsonDecoder = compileJsonDecoder(compiled.type);
    return decoder ? decoder(bytes) : JSON.stringify(this.decode(eventType, bytes));
  }
}

function applyOverrides(rule: EventRule, type: protobuf.Type, overrides: RuleOverrides): EventRule {
  const o = overrides.events?.[rule.type];
  const out: EventRule = { ...rule, topic: o?.topic ?? overrides.topics?.[rule.topic] ?? rule.topic };
  if (o?.metricName !== undefined) out.metricName = o.metricName;
  if (o?.statsdCounter !== undefined) out.statsdCounter = o.statsdCounter;
  if (o?.keyField !== undefined) {
    if (!type.fields[o.keyField]) throw new OptionsError(`overrides.${rule.type}.keyField`, `'${o.keyField}' is not a field of ${rule.type}`);
    out.keyField = o.keyField;
  }
  return out;
}

type Converter = (obj: Record<string, unknown>) => Record<string, unknown>;
const CONVERTERS = new WeakMap<protobuf.Type, Converter | null>();

/** Whether a google.protobuf.Timestamp occurs in `type` at any depth (recursive types included). */
function containsTimestamp(type: protobuf.Type, seen = new Set<protobuf.Type>()): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  for (const f of type.fieldsArray) {
    const rt = f.resolvedType;
    if (!(rt instanceof protobuf.Type)) continue;
    if (rt.fullName === '.google.protobuf.Timestamp' || containsTimestamp(rt, seen)) return true;
  }
  return false;
}

/**
 * The function that turns every google.protobuf.Timestamp inside a decoded object of `type` into an ISO
 * string, compiled once per type (null when the type contains no timestamp at any depth). Decoding is on
 * the loader's hot path: walking the descriptor for every record cost more than the decode itself. Nested
 * types are looked up on first use, so a recursive type converts its timestamps at every depth.
 */
function converterFor(type: protobuf.Type): Converter | null {
  const cached = CONVERTERS.get(type);
  if (cached !== undefined) return cached;
  if (!containsTimestamp(type)) {
    CONVERTERS.set(type, null);
    return null;
  }
  const steps: Array<{ name: string; repeated: boolean; map: boolean; convert: (x: unknown) => unknown }> = [];
  for (const f of type.fieldsArray) {
    const rt = f.resolvedType;
    if (!(rt instanceof protobuf.Type)) continue;
    let convert: ((x: unknown) => unknown) | null;
    if (rt.fullName === '.google.protobuf.Timestamp') convert = (x) => isoOf(x as { seconds: string; nanos: number });
    else if (containsTimestamp(rt)) {
      let sub: Converter | undefined;
      convert = (x) => (sub ??= converterFor(rt)!)(x as Record<string, unknown>);
    } else convert = null;
    if (convert) steps.push({ name: f.name, repeated: f.repeated, map: !!f.map, convert });
  }
  const out: Converter = (obj) => {
    for (const st of steps) {
      const v = obj[st.name];
      if (v === undefined || v === null) continue;
      if (st.map) obj[st.name] = Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, st.convert(x)]));
      else if (Array.isArray(v)) obj[st.name] = v.map(st.convert);
      else obj[st.name] = st.convert(v);
    }
    return obj;
  };
  CONVERTERS.set(type, out);
  return out;
}

function timestampsToIso(type: protobuf.Type, obj: Record<string, unknown>): Record<string, unknown> {
  const convert = converterFor(type);
  return convert ? convert(obj) : obj;
}

function isoOf(ts: { seconds: string | number; nanos: number }): string {
  return isoOfTimestamp(Number(ts.seconds), ts.nanos ?? 0);
}
