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
  | { kind: 'ratio'; numerator: EventFilter; denominator: EventFilter }
  /**
   * Quantiles of a numeric field (p95 delivery time) over a DDSketch: every reported quantile is within
   * `relativeAccuracy` (default 0.01 = 1%) of the exact value, relative to it. One value per quantile, with the
   * dimension `quantile` (`"0.95"`).
   */
  | { kind: 'percentile'; field: string; quantiles: number[]; relativeAccuracy?: number };

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
  /**
   * Enrich each event with table rows before filtering and grouping: `{ restaurant: 'restaurant_id' }` looks the
   * event's `restaurant_id` up in the table named `restaurant` (see `tables` of defineMetrics); its fields can then
   * be grouped by as `restaurant.region`, and `where` sees them under `event.restaurant`.
   */
  join?: Record<string, string>;
  /** An event whose join key is not in a table: 'drop' it (default) or 'keep' it with empty joined fields. Either way it is counted as a missing join. */
  missingJoin?: 'drop' | 'keep';
  /**
   * Windowed stream-stream (absence) join: count an event only when no `event` with the same `on` field followed
   * it within `within` (payment attempted with no success within 10 minutes). It is counted at time t + within (when
   * the absence is known), in the metric's window; `on` defaults to the key field of both types.
   */
  notFollowedBy?: { event: string; within: string | number; on?: string };
}

/**
 * A table: the latest row per key of a compacted topic (the topic of the `from` event type, keyed by its key
 * field), used to enrich events (`join` in a metric). A `global` table is read whole by every instance (small
 * metadata); otherwise the table topic must be co-partitioned with the inputs (same key, same partition count),
 * which the consumer checks at start, and an event only sees the rows of its own partition.
 */
export interface TableDefinition {
  /** Used in `join` and in field paths (`restaurant.region`). */
  name: string;
  from: string;
  global?: boolean;
}

export interface ResolvedTable extends TableDefinition {
  /** Key field (JS name) of the table's event type. */
  keyField: string;
}

export interface ResolvedJoin {
  table: ResolvedTable;
  /** Path of the event's field holding the table key. */
  keyPath: string[];
}

/** A validated definition, with field paths resolved against the schema. */
export interface ResolvedMetric extends Omit<MetricDefinition, 'from' | 'groupBy' | 'aggregate' | 'join' | 'notFollowedBy'> {
  from: string[];
  joins: ResolvedJoin[];
  notFollowedBy?: { event: string; withinMs: number; leftKey: string[]; rightKey: string[] };
  groupBy: Array<{ label: string; path: string[] }>;
  aggregate: Aggregate;
  /** For sum / countDistinct: the resolved path. */
  valuePath?: string[];
}

const NAME = /^[a-z_][a-z0-9_]{0,127}$/;

const METRIC_KEYS = ['name', 'from', 'where', 'groupBy', 'window', 'aggregate', 'emit', 'alert', 'join', 'missingJoin', 'notFollowedBy'];
const TABLE_KEYS = ['name', 'from', 'global'];
const AGGREGATE_KEYS: Record<string, string[]> = {
  count: ['kind'],
  sum: ['kind', 'field'],
  countDistinct: ['kind', 'field', 'relativeError'],
  ratio: ['kind', 'numerator', 'denominator'],
  percentile: ['kind', 'field', 'quantiles', 'relativeAccuracy'],
};
const WINDOW_KEYS: Record<string, string[]> = {
  tumbling: ['kind', 'sizeMs', 'graceMs'],
  hopping: ['kind', 'sizeMs', 'advanceMs', 'graceMs'],
  sliding: ['kind', 'sizeMs', 'graceMs'],
};

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The first key of `obj` that is not in `allowed`, as a problem text (with the closest allowed key when one is
 * near), or undefined. A misspelt option must not silently change what a metric computes.
 */
function unknownKey(obj: object, allowed: readonly string[], where: string): string | undefined {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const near = allowed.map((a) => [a, distance(key.toLowerCase(), a.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
    const hint = near && near[1] <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean '${near[0]}'?)` : ` (allowed: ${allowed.join(', ')})`;
    return `unknown key '${key}'${where ? ` in ${where}` : ''}${hint}`;
  }
  return undefined;
}
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
export function defineMetrics(
  schema: EventSchema,
  definitions: readonly MetricDefinition[],
  options: { tables?: readonly TableDefinition[] } = {},
): ResolvedMetric[] {
  const registry = new EventRegistry(schema);
  const tables = new Map<string, ResolvedTable>();
  for (const [i, t] of (options.tables ?? []).entries()) {
    const tname = typeof t?.name === 'string' && t.name ? t.name : `#${i + 1}`;
    const tfail = (problem: string): never => {
      throw new DefinitionError(`table ${tname}`, problem);
    };
    if (!t || typeof t !== 'object') tfail('is not an object');
    const extra = unknownKey(t, TABLE_KEYS, '');
    if (extra) tfail(extra);
    if (typeof t.name !== 'string' || !/^[a-z_][a-z0-9_]{0,63}$/.test(t.name)) tfail('name must be lower-case letters, digits and _');
    if (tables.has(t.name)) tfail('is defined twice');
    if (typeof t.from !== 'string' || !registry.has(t.from)) tfail(`unknown event type '${String(t.from)}' (known: ${registry.eventTypes.join(', ')})`);
    const keyField = registry.lookup(t.from).rule.keyField;
    if (!keyField) tfail(`${t.from} has no key field; a table is keyed by its event type's key_field`);
    tables.set(t.name, { name: t.name, from: t.from, global: t.global === true, keyField: keyField! });
  }
  const seen = new Set<string>();
  return definitions.map((d, index) => {
    const name = typeof d?.name === 'string' && d.name ? d.name : `#${index + 1}`;
    const fail = (problem: string): never => {
      throw new DefinitionError(name, problem);
    };
    if (!d || typeof d !== 'object') fail('is not an object');
    const extra = unknownKey(d, METRIC_KEYS, '');
    if (extra) fail(extra);
    for (const [what, obj, keys] of [
      ['alert', d.alert, ['atLeast', 'atMost']],
      ['notFollowedBy', d.notFollowedBy, ['event', 'within', 'on']],
    ] as const) {
      if (obj === undefined) continue;
      if (!obj || typeof obj !== 'object') fail(`'${what}' must be an object`);
      const bad = unknownKey(obj, keys, what);
      if (bad) fail(bad);
    }
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
    const joins: ResolvedJoin[] = [];
    if (d.join !== undefined) {
      if (!d.join || typeof d.join !== 'object') fail("'join' must map table names to event fields ({ restaurant: 'restaurant_id' })");
      for (const [tableName, field] of Object.entries(d.join)) {
        const table = tables.get(tableName);
        if (!table) fail(`joins unknown table '${tableName}' (${tables.size ? `tables: ${[...tables.keys()].join(', ')}` : 'no tables defined; pass { tables } to defineMetrics'})`);
        if (types.some((t) => t.fields[tableName] ?? t.fields[camel(tableName)])) fail(`table '${tableName}' has the name of a field of the event; rename the table`);
        joins.push({ table: table!, keyPath: resolveIn(field, `join key of '${tableName}'`, ['string', 'number', 'enum']) });
      }
    }
    if (d.missingJoin !== undefined && d.missingJoin !== 'drop' && d.missingJoin !== 'keep') fail("missingJoin must be 'drop' or 'keep'");
    if (d.missingJoin !== undefined && joins.length === 0) fail("missingJoin without a 'join'");
    const groupBy = (d.groupBy ?? []).map((g) => {
      if (typeof g !== 'string' || !g) return fail('groupBy entries must be field paths');
      const label = g.split('.').pop()!.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const head = g.split('.')[0]!;
      const join = joins.find((j) => j.table.name === head);
      if (join) {
        const r = resolvePath(registry.lookup(join.table.from).type, g.slice(head.length + 1));
        if (typeof r === 'string') return fail(`groupBy field '${g}': ${r}`);
        if (!['string', 'enum', 'bool', 'number'].includes(r.kind)) return fail(`groupBy field '${g}' is a ${r.kind}; groupBy field needs string or enum or bool or number`);
        return { label, path: [head, ...r.path] };
      }
      return { label, path: resolveIn(g, 'groupBy field', ['string', 'enum', 'bool', 'number']) };
    });
    if (new Set(groupBy.map((g) => g.label)).size !== groupBy.length) fail('two groupBy fields end in the same name');

    const aggregate: Aggregate = d.aggregate ?? { kind: 'count' };
    if (!aggregate || typeof aggregate !== 'object') fail("'aggregate' must be an object such as { kind: 'count' }");
    const aggKeys = AGGREGATE_KEYS[aggregate.kind];
    if (!aggKeys) fail(`unknown aggregate '${String((aggregate as { kind: unknown }).kind)}' (${Object.keys(AGGREGATE_KEYS).join(', ')})`);
    const badAgg = unknownKey(aggregate, aggKeys!, `aggregate ${aggregate.kind}`);
    if (badAgg) fail(badAgg);
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
      case 'percentile': {
        valuePath = resolveIn(aggregate.field, 'percentile field', ['number']);
        const qs = aggregate.quantiles;
        if (!Array.isArray(qs) || qs.length === 0) fail('percentile needs quantiles, e.g. [0.5, 0.95, 0.99]');
        for (const q of qs) if (typeof q !== 'number' || !(q >= 0 && q <= 1)) fail(`percentile quantile ${String(q)} must be a number from 0 to 1`);
        if (new Set(qs).size !== qs.length) fail('percentile quantiles are listed twice');
        const ra = aggregate.relativeAccuracy;
        if (ra !== undefined && !(typeof ra === 'number' && ra > 0 && ra < 1)) fail('percentile relativeAccuracy must be between 0 and 1 (exclusive)');
        if (groupBy.some((g) => g.label === 'quantile')) fail("a percentile metric adds the dimension 'quantile'; no groupBy field may end in that name");
        break;
      }
      case 'ratio':
        for (const [part, filter] of [['numerator', aggregate.numerator], ['denominator', aggregate.denominator]] as const) {
          if (!filter || typeof filter !== 'object') fail(`ratio needs a ${part} filter`);
          const badFilter = unknownKey(filter, ['eventTypes', 'where'], `ratio ${part}`);
          if (badFilter) fail(badFilter);
          for (const t of filter.eventTypes ?? []) if (!from.includes(t)) fail(`ratio ${part} event type '${t}' is not in 'from'`);
        }
        break;
    }
    if (d.window !== undefined) {
      const w = d.window;
      if (!w || typeof w !== 'object' || !WINDOW_KEYS[w.kind]) fail('window must come from tumbling(), hopping() or sliding()');
      const badWindow = unknownKey(w, WINDOW_KEYS[w.kind]!, `window ${w.kind} (make it with ${w.kind}())`);
      if (badWindow) fail(badWindow);
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
    let notFollowedBy: ResolvedMetric['notFollowedBy'];
    if (d.notFollowedBy !== undefined) {
      const n = d.notFollowedBy;
      if (!n || typeof n !== 'object') fail("'notFollowedBy' must be { event, within, on? }");
      if (!d.window) fail('notFollowedBy needs a window to count the unmatched events in');
      if (typeof n.event !== 'string' || !registry.has(n.event)) fail(`notFollowedBy: unknown event type '${String(n.event)}' (known: ${registry.eventTypes.join(', ')})`);
      let withinMs = 0;
      try {
        withinMs = parseDuration(n.within, 'notFollowedBy.within');
      } catch (err) {
        fail((err as Error).message);
      }
      if (withinMs <= 0) fail('notFollowedBy.within must be > 0');
      const keyOf = (type: string): string => {
        if (n.on !== undefined) return n.on;
        const k = registry.lookup(type).rule.keyField;
        return k ?? fail(`notFollowedBy: ${type} has no key field; give 'on'`);
      };
      const leftKey = resolveIn(n.on ?? keyOf(from[0]!), 'notFollowedBy.on', ['string', 'number', 'enum']);
      if (n.on === undefined && from.some((f) => keyOf(f) !== keyOf(from[0]!))) fail("notFollowedBy: the 'from' types have different key fields; give 'on'");
      const r = resolvePath(registry.lookup(n.event).type, keyOf(n.event));
      if (typeof r === 'string') fail(`notFollowedBy.on: ${r}`);
      notFollowedBy = { event: n.event, withinMs, leftKey, rightKey: (r as { path: string[] }).path };
    }
    const { join: _join, notFollowedBy: _nfb, ...rest } = d;
    return { ...rest, from, groupBy, aggregate, joins, ...(notFollowedBy ? { notFollowedBy } : {}), ...(valuePath ? { valuePath } : {}) } as ResolvedMetric;
  });
}
