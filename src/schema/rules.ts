import protobuf from 'protobufjs';
import type { LintProblem } from '../errors.js';
import { allTypesOf, fileOf, protoNameOf } from './load.js';
import type { EventRule, EventTimeRule, TagRule } from './types.js';

const EVENT_OPTION = '(multidispatch.event)';
const FIELD_OPTION = '(multidispatch.field)';
/** Kafka's partition count is an int32. */
const MAX_PARTITIONS = 2_147_483_647;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const KEY_TYPES = new Set(['string', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bytes']);

interface RawEventOptions {
  topic?: string;
  key_field?: string;
  metric_name?: string;
  statsd_counter?: boolean;
  partitions?: number;
}

interface RawFieldOptions {
  tag?: boolean;
  high_cardinality?: boolean;
  event_time?: boolean;
  allowed_values?: string[];
}

/** Merges every occurrence of an aggregate option (`(x).a = 1, (x).b = 2` and `(x) = {...}`) into one object. */
function readOption<T>(obj: protobuf.ReflectionObject, name: string): T | undefined {
  const parsed = obj.parsedOptions as Array<Record<string, unknown>> | undefined;
  if (!parsed) return undefined;
  let merged: Record<string, unknown> | undefined;
  for (const entry of parsed) {
    const value = entry[name];
    if (value && typeof value === 'object') {
      merged ??= {};
      for (const [k, v] of Object.entries(value)) {
        merged[k] = Array.isArray(v) && Array.isArray(merged[k]) ? [...(merged[k] as unknown[]), ...v] : v;
      }
    }
  }
  return merged as T | undefined;
}

export function fieldOptions(field: protobuf.Field): RawFieldOptions {
  const raw = readOption<RawFieldOptions>(field, FIELD_OPTION) ?? {};
  if (raw.allowed_values !== undefined && !Array.isArray(raw.allowed_values)) raw.allowed_values = [String(raw.allowed_values)];
  return raw;
}

/** `PaymentFailed` → `payment_failed`. */
export function defaultMetricName(messageName: string): string {
  return messageName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}


export interface ExtractResult {
  events: EventRule[];
  problems: LintProblem[];
}

/**
 * Reads the dispatch rules of every message that carries `(multidispatch.event)` under `root` and lints
 * them. Types declared outside `files` (imports such as google/protobuf) are skipped.
 */
export function extractRules(root: protobuf.Root, protoDir: string, files: readonly string[]): ExtractResult {
  const events: EventRule[] = [];
  const problems: LintProblem[] = [];
  const own = new Set(files);

  for (const type of allTypesOf(root)) {
    const file = fileOf(type, protoDir);
    if (!own.has(file)) continue;
    const message = type.fullName.slice(1);
    const problem = (rule: string, text: string, field?: string): void => {
      problems.push(field === undefined ? { file, message, rule, text } : { file, message, field, rule, text });
    };
    const opts = readOption<RawEventOptions>(type, EVENT_OPTION);

    const tags: TagRule[] = [];
    let eventTime: EventTimeRule | undefined;
    for (const field of type.fieldsArray) {
      const fo = fieldOptions(field);
      const protoName = protoNameOf(field);
      if (fo.tag && fo.high_cardinality) problem('tag-vs-high-cardinality', 'is marked both tag and high_cardinality', protoName);
      if (fo.allowed_values?.length && !(fo.tag && field.type === 'string')) {
        problem('allowed-values-on-string-tag', 'allowed_values only applies to a string field marked tag', protoName);
      }
      if (fo.tag) {
        if (!opts) problem('tag-top-level', 'is marked tag but its message is not an event; tags must be top-level event fields', protoName);
        const kind = tagKind(field, fo);
        if (!kind) {
          problem('tag-type', `is a tag of type '${field.repeated ? 'repeated ' : ''}${field.type}'; a tag must be an enum, a bool, or a string with allowed_values`, protoName);
        } else if (!fo.high_cardinality) {
          tags.push(kind === 'string' ? { field: field.name, protoName, kind, allowedValues: [...new Set(fo.allowed_values)] } : { field: field.name, protoName, kind });
        }
      }
      if (fo.event_time) {
        const kind = field.repeated ? undefined : field.type === 'google.protobuf.Timestamp' || field.type === '.google.protobuf.Timestamp' ? 'timestamp' : INT64_TYPES.has(field.type) ? 'millis' : undefined;
        if (!kind) problem('event-time-type', `is the event time but has type '${field.type}'; use google.protobuf.Timestamp or int64 milliseconds`, protoName);
        else if (eventTime) problem('event-time-unique', `is a second event_time field (the first is '${eventTime.field}')`, protoName);
        else eventTime = { field: field.name, kind };
      }
    }

    if (!opts) continue;
    const topic = opts.topic ?? '';
    if (!topic) problem('topic-required', 'is an event without a topic: set option (multidispatch.event) = { topic: "..." }');
    else if (!TOPIC_NAME.test(topic) || topic === '.' || topic === '..') problem('topic-name', `topic '${topic}' is not a legal Kafka topic name ([a-zA-Z0-9._-], at most 249 characters)`);

    let keyField: string | undefined;
    if (opts.key_field) {
      const kf = type.fieldsArray.find((f) => protoNameOf(f) === opts.key_field || f.name === opts.key_field);
      if (!kf) problem('key-field-exists', `key_field '${opts.key_field}' is not a field of ${message}`);
      else if (kf.repeated || !KEY_TYPES.has(kf.type)) problem('key-field-type', `key_field '${opts.key_field}' must be a singular string, integer or bytes field, not '${kf.type}'`, protoNameOf(kf));
      else keyField = kf.name;
    }

    const rule: EventRule = {
      type: message,
      topic,
      metricName: opts.metric_name || defaultMetricName(type.name),
      statsdCounter: opts.statsd_counter ?? true,
      tags,
      file,
    };
    if (opts.partitions !== undefined && opts.partitions !== 0) {
      if (!Number.isInteger(opts.partitions) || opts.partitions < 1 || opts.partitions > MAX_PARTITIONS) {
        problem('partitions-range', `partitions ${opts.partitions} is not a count Kafka accepts (1 to ${MAX_PARTITIONS})`);
      } else rule.partitions = opts.partitions;
    }
    if (keyField) rule.keyField = keyField;
    if (eventTime) rule.eventTime = eventTime;
    events.push(rule);
  }
  events.sort((a, b) => a.type.localeCompare(b.type));
  problems.push(...partitionConflicts(events));
  return { events, problems };
}

/**
 * Event types that share a topic must agree on its partition count when both declare one: the topic is
 * created once, and which declaration won would otherwise depend on file order.
 */
function partitionConflicts(events: readonly EventRule[]): LintProblem[] {
  const first = new Map<string, EventRule>();
  const out: LintProblem[] = [];
  for (const e of events) {
    if (e.partitions === undefined) continue;
    const seen = first.get(e.topic);
    if (!seen) first.set(e.topic, e);
    else if (seen.partitions !== e.partitions) {
      out.push({
        file: e.file,
        message: e.type,
        rule: 'topic-partitions-agree',
        text: `declares partitions ${e.partitions} for topic '${e.topic}', but ${seen.type} declares ${seen.partitions} for the same topic`,
      });
    }
  }
  return out;
}

function tagKind(field: protobuf.Field, fo: RawFieldOptions): TagRule['kind'] | undefined {
  if (field.repeated || field.map) return undefined;
  if (field.resolvedType instanceof protobuf.Enum) return 'enum';
  if (field.type === 'bool') return 'bool';
  if (field.type === 'string' && fo.allowed_values && fo.allowed_values.length > 0) return 'string';
  return undefined;
}
