import protobuf from 'protobufjs';
import { MdError } from '../errors.js';
import { EventRegistry } from '../schema/registry.js';
import type { EventSchema } from '../schema/types.js';
import { parseDuration, type WindowSpec } from './windows.js';

/** A metric definition is wrong; the message names the definition and the problem. */
export class DefinitionError extends MdError {
  readonly definition: string;
  constructor(definition: string, problem: string) {
    super('MD_OPTIONS', `metric '${definition}': ${problem}`);
    this.definition = definition;
  }
}

/** What a metric computes per group and window. */
export type Aggregate =
  | { kind: 'count' }
  | { kind: 'sum'; field: string }
  /** Distinct values of a field (e.g. users affected), approximate with the stated relative standard error. */
  | { kind: 'countDistinct'; field: string; relativeError?: number }
  /** numerator count ÷ denominator count, each a filter over the metric's events (e.g. payment success rate). */
  | { kind: 'ratio'; numerator: EventFilter; denominator: EventFilter };

export interface EventFilter {
  /** Event types counted (default: all of the metric's `from`). */
  eventTypes?: string[];
  where?: (event: Record<string, unknown>) => boolean;
}

export interface MetricDefinition {
  /** Metric name: lower-case letters, digits and _ (`orders_created`). */
  name: string;
  /** Event type(s) the metric reads, fully qualified (`orders.v1.OrderPlaced`). */
  from: string | string[];
  /** Keep only events for which this returns true (the decoded event, lowerCamelCase fields). */
  where?: (event: Record<string, unknown>) => boolean;
  /** Dimensions: field paths of the event (`market`, `context.user_id` or `context.userId`). */
  groupBy?: string[];
  /** Window; omit for "emit on every event" (immediate metrics such as rejections). */
  window?: WindowSpec;
  aggregate?: Aggregate;
  /** 'final': one value when the window closes (default); 'update': also on every change. */
  emit?: 'final' | 'update';
  /** Fire an alert when the value reaches `atLeast` (or falls to `atMost`); resolve when it no longer does. */
  alert?: { atLeast?: number; atMost?: number };
}

/** A validated definition, with field paths resolved against the schema. */
export interface ResolvedMetric extends Omit<MetricDefinition, 'from' | 'groupBy' | 'aggregate'> {
  from: string[];
  groupBy: Array<{ label: string; path: string[] }>;
  aggregate: Aggregate;
  /** For sum / countDistinct: the resolved path. */
  valuePath?: string[];
}

const NAME = /^[a-z_][a-z0-9_]{0,127}$/;
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

type Kind = 'number' | 'string' | 'bool' | 'enum' | 'message' | 'bytes' | 'timestamp' | 'repeated';

/** Resolves `a.b_c` against a message type: JS path (`['a', 'bC']`) and the kind of the leaf, or a reason. */
function resolvePath(type: protobuf.Type, path: string): { path: string[]; kind: Kind } | string {
  const out: string[] = [];
  let t: protobuf.Type = type;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    const f = t.fields[seg] ?? t.fields[camel(seg)];
    if (!f) return `${type.name} has no field '${parts.slice(0, i + 1).join('.')}'`;
    out.push(f.name);
    const rt = f.resolvedType;
    const last = i === parts.length - 1;
    if (f.repeated || f.map) {
      if (!last) return `'${parts.slice(0, i + 1).join('.')}' of ${type.name} is repeated; group by or aggregate a singular field`;
      return { path: out, kind: 'repeated' };
    }
    if (rt instanceof protobuf.Type) {
      if (rt.fullName === '.google.protobuf.Timestamp') {
        if (!last) return `'${parts.slice(0, i + 1).join('.')}' of ${type.name} is a timestamp`;
        return { path: out, kind: 'timestamp' };
      }
      if (last) return { path: out, kind: 'message' };
      t = rt;
      continue;
    }
    if (!last) return `'${parts.slice(0, i + 1).join('.')}' of ${type.name} is not a message`;
    if (rt instanceof protobuf.Enum) return { path: out, kind: 'enum' };
    if (f.type === 'string') return { path: out, kind: 'string' };
    if (f.type === 'bool') return { path: out, kind: 'bool' };
    if (f.type === 'bytes') return { path: out, kind: 'bytes' };
    return { path: out, kind: 'number' };
  }
  return `empty field path`;
}

/**
 * Validates metric definitions against the schema at load time. Every problem is a DefinitionError naming
 * the definition: unknown event type, unknown or unusable field, bad name, duplicate name, bad window,
 * an alert without a threshold.
 *
 * @example
 * const metrics = defineMetrics(schema, [
 *   { name: 'orders_created', from: 'orders.v1.OrderPlaced', groupBy: ['market'], window: tumbling('5m', { grace: '30s' }) },
 *   { name: 'rejections_10m', from: 'orders.v1.OrderRejected', groupBy: ['aggregator'], window: sliding('10m'), alert: { atLeast: 3 } },
 * ]);
 */
export function defineMetrics(schema: EventSchema, definitions: readonly MetricDefinition[]): ResolvedMetric[] {
  const registry = new EventRegistry(schema);
  const seen = new Set<string>();
  return definitions.map((d, index) => {
    const name = typeof d?.name === 'string' && d.name ? d.name : `#${index + 1}`;
    const fail = (problem: string): never => {
      throw new DefinitionError(name, problem);
    };
    if (!d || typeof d !== 'object') fail('is not an object');
    if (!NAME.test(d.name)) fail('name must be lower-case letters, digits and _ (e.g. orders_created)');
    if (seen.has(d.name)) fail('is defined twice');
    seen.add(d.name);
    const from = Array.isArray(d.from) ? d.from : [d.from];
    if (from.length === 0 || from.some((f) => typeof f !== 'string')) fail("'from' must name at least one event type");
    for (const f of from) if (!registry.has(f)) fail(`unknown event type '${f}' (known: ${registry.eventTypes.join(', ')})`);
    const types = from.map((f) => registry.lookup(f).type);

    const resolveIn = (path: string, role: string, allowed: Kind[]): string[] => {
      let resolved: string[] | undefined;
      for (const t of types) {
        const r = resolvePath(t, path);
        if (typeof r === 'string') return fail(`${role} '${path}': ${r}`);
        if (!allowed.includes(r.kind)) return fail(`${role} '${path}' of ${t.name} is a ${r.kind}; ${role} needs ${allowed.join(' or ')}`);
        if (resolved && resolved.join('.') !== r.path.join('.')) return fail(`${role} '${path}' resolves differently across event types`);
        resolved = r.path;
      }
      return resolved!;
    };
    const groupBy = (d.groupBy ?? []).map((g) => {
      if (typeof g !== 'string' || !g) return fail('groupBy entries must be field paths');
      return { label: g.split('.').pop()!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), path: resolveIn(g, 'groupBy field', ['string', 'enum', 'bool', 'number']) };
    });
    if (new Set(groupBy.map((g) => g.label)).size !== groupBy.length) fail('two groupBy fields end in the same name');

    const aggregate: Aggregate = d.aggregate ?? { kind: 'count' };
    let valuePath: string[] | undefined;
    switch (aggregate.kind) {
      case 'count':
        break;
      case 'sum':
        valuePath = resolveIn(aggregate.field, 'sum field', ['number']);
        break;
      case 'countDistinct':
        valuePath = resolveIn(aggregate.field, 'countDistinct field', ['string', 'number', 'enum', 'bool', 'bytes']);
        if (aggregate.relativeError !== undefined && !(aggregate.relativeError > 0 && aggregate.relativeError < 0.5)) fail('countDistinct relativeError must be between 0 and 0.5');
        break;
      case 'ratio':
        for (const [part, filter] of [['numerator', aggregate.numerator], ['denominator', aggregate.denominator]] as const) {
          if (!filter || typeof filter !== 'object') fail(`ratio needs a ${part} filter`);
          for (const t of filter.eventTypes ?? []) if (!from.includes(t)) fail(`ratio ${part} event type '${t}' is not in 'from'`);
        }
        break;
      default:
        fail(`unknown aggregate '${(aggregate as { kind: string }).kind}' (count, sum, countDistinct, ratio)`);
    }
    if (d.window !== undefined) {
      const w = d.window;
      if (!w || !['tumbling', 'hopping', 'sliding'].includes(w.kind)) fail('window must come from tumbling(), hopping() or sliding()');
      try {
        parseDuration(w.sizeMs, 'window size');
        parseDuration(w.graceMs, 'grace');
      } catch (err) {
        fail((err as Error).message);
      }
    } else if (aggregate.kind !== 'count') fail(`an unwindowed metric emits per event and can only count; give a window for ${aggregate.kind}`);
    if (d.alert !== undefined && d.alert.atLeast === undefined && d.alert.atMost === undefined) fail('alert needs atLeast or atMost');
    if (d.emit !== undefined && d.emit !== 'final' && d.emit !== 'update') fail("emit must be 'final' or 'update'");
    if (d.where !== undefined && typeof d.where !== 'function') fail("'where' must be a function of the event");
    return { ...d, from, groupBy, aggregate, ...(valuePath ? { valuePath } : {}) } as ResolvedMetric;
  });
}
