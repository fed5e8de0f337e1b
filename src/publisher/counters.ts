import type { EventRegistry } from '../schema/registry.js';
import type { TagRule } from '../schema/types.js';
import { CardinalityGuard } from '../sinks/statsd/guard.js';
import { sanitizeMetricName, sanitizeTagName, sanitizeTagValue } from '../sinks/statsd/sanitize.js';
import type { CounterIncrement } from '../sinks/types.js';

export interface CounterRules {
  prefix: string;
  globalTags: Record<string, string>;
  maxTagValuesPerTag: number;
  eventTypeTag: string;
}

interface TagPlan {
  rule: TagRule;
  name: string;
  allowed: ReadonlySet<string> | undefined;
  /** Raw value → tag value after sanitising and the cardinality guard; `overflow` marks values mapped to other. */
  cache: Map<unknown, { value: string; overflow: boolean }>;
}

/** Resolved tag values, one level per tag, down to the increment for that combination. */
type CounterTree = Map<string, CounterTree | CounterIncrement>;

interface EventPlan {
  name: string;
  base: Record<string, string>;
  tags: TagPlan[];
  /** The increments seen so far, looked up by tag values without building a string key per event. */
  tree: CounterTree;
  /** The increment of a counter without tags. */
  only?: CounterIncrement;
}

const MAX_CACHED_COUNTERS = 10_000;

/**
 * Turns an accepted event into its StatsD counter. Everything constant per event type (metric name, global
 * tags, sanitised tag names) is computed once, and each tag's raw value is resolved through a cache, so the
 * per-event work is a few map lookups; the same frozen increment object is reused for every event with the same
 * tag values, found through a tree of the resolved values (no key string is built per event).
 */
export class CounterPlanner {
  readonly guard: CardinalityGuard;
  private readonly plans = new Map<string, EventPlan | null>();
  private cached = 0;
  private readonly values: string[] = [];

  constructor(
    private readonly registry: EventRegistry,
    private readonly rules: CounterRules,
  ) {
    this.guard = new CardinalityGuard(rules.maxTagValuesPerTag);
  }

  /** The counter for one event, or undefined when its type emits none. */
  counterFor(eventType: string, prepared: Record<string, unknown>, event: Record<string, unknown>): CounterIncrement | undefined {
    const plan = this.planFor(eventType);
    if (!plan) return undefined;
    const { tags } = plan;
    if (tags.length === 0) return (plan.only ??= this.increment(plan, []));
    const values = this.values;
    let node: CounterTree | undefined = plan.tree;
    let found: CounterIncrement | undefined;
    for (let i = 0; i < tags.length; i++) {
      const t = tags[i]!;
      const raw = t.rule.kind === 'enum' ? event[t.rule.field] : prepared[t.rule.field];
      const v = this.resolve(plan, t, raw);
      values[i] = v;
      if (node) {
        const next: CounterTree | CounterIncrement | undefined = node.get(v);
        if (i === tags.length - 1) found = next as CounterIncrement | undefined;
        else node = next as CounterTree | undefined;
      }
    }
    if (found) return found;
    const inc = this.increment(plan, values.slice(0, tags.length));
    if (this.cached < MAX_CACHED_COUNTERS) {
      this.cached++;
      let at = plan.tree;
      for (let i = 0; i < tags.length - 1; i++) {
        let next = at.get(values[i]!) as CounterTree | undefined;
        if (!next) at.set(values[i]!, (next = new Map()));
        at = next;
      }
      at.set(values[tags.length - 1]!, inc);
    }
    return inc;
  }

  private increment(plan: EventPlan, values: string[]): CounterIncrement {
    let key = plan.name;
    for (const v of values) key += `|${v}`;
    const tags = { ...plan.base };
    plan.tags.forEach((t, i) => (tags[t.name] = values[i]!));
    return Object.freeze({ name: plan.name, tags: Object.freeze(tags), value: 1, key });
  }

  private resolve(plan: EventPlan, t: TagPlan, raw: unknown): string {
    const hit = t.cache.get(raw);
    if (hit) {
      if (hit.overflow) this.guard.overflows++;
      return hit.value;
    }
    let value: string;
    let cacheable = true;
    if (raw === undefined || raw === null) value = 'unset';
    else if (t.rule.kind === 'bool') value = raw === true ? 'true' : 'false';
    else if (t.rule.kind === 'enum') value = String(raw);
    else if (typeof raw === 'string' && t.allowed!.has(raw)) value = raw;
    else {
      // Outside the allow-list: not cached, so arbitrary strings cannot grow the cache.
      value = 'other';
      cacheable = false;
    }
    const admitted = this.guard.admit(plan.name, t.name, sanitizeTagValue(value));
    const overflow = admitted === 'other' && value !== 'other';
    if (cacheable) t.cache.set(raw, { value: admitted, overflow });
    return admitted;
  }

  private planFor(eventType: string): EventPlan | null {
    let plan = this.plans.get(eventType);
    if (plan !== undefined) return plan;
    const { rule } = this.registry.lookup(eventType);
    if (!rule.statsdCounter) plan = null;
    else {
      const base: Record<string, string> = {};
      for (const [k, v] of Object.entries(this.rules.globalTags)) base[sanitizeTagName(k)] = sanitizeTagValue(v);
      if (this.rules.eventTypeTag) base[sanitizeTagName(this.rules.eventTypeTag)] = sanitizeTagValue(eventType);
      plan = {
        name: sanitizeMetricName(this.rules.prefix + rule.metricName),
        base,
        tags: rule.tags.map((t) => ({ rule: t, name: sanitizeTagName(t.protoName), allowed: t.allowedValues ? new Set(t.allowedValues) : undefined, cache: new Map() })),
        tree: new Map(),
      };
    }
    this.plans.set(eventType, plan);
    return plan;
  }
}
