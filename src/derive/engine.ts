import type { ResolvedMetric } from './definitions.js';
import { countAgg, sumAgg, WindowStore, type Aggregation, type WindowStoreSnapshot } from './store.js';
import { HyperLogLog } from './hll.js';
import { StreamClock } from './windows.js';

/** The engine's state for one partition, JSON-safe: what the consumer writes to its changelog topic. */
export interface PartitionSnapshot {
  clock: { maxEventTime: number | null; lastEventWall: number };
  metrics: Record<string, { store?: WindowStoreSnapshot; firing: string[]; late: number }>;
}

/** One decoded input event, as the consumer hands it to the engine. */
export interface EngineEvent {
  type: string;
  event: Record<string, unknown>;
  /** Event time (the envelope's occurred-at), ms since epoch. */
  occurredAt: number;
  partition: number;
}

export interface MetricValue {
  metric: string;
  dimensions: Record<string, string>;
  value: number;
  /** Window bounds; absent for unwindowed (per-event) metrics. */
  windowStart?: number;
  windowEnd?: number;
  /** true: the window closed and this is its final value. */
  final: boolean;
  /** The input partition whose state produced it. */
  partition: number;
}

export interface AlertTransition {
  metric: string;
  dimensions: Record<string, string>;
  state: 'firing' | 'resolved';
  value: number;
  windowStart?: number;
  windowEnd?: number;
  partition: number;
}

export interface EngineOutput {
  values: MetricValue[];
  alerts: AlertTransition[];
}

/** Registers for a relative standard error of 1.04/√m, rounded up to a power of two (16 to 65,536). */
export function hllRegisters(relativeError: number): number {
  const m = Math.pow(1.04 / relativeError, 2);
  return Math.min(65_536, Math.max(16, 2 ** Math.ceil(Math.log2(m))));
}

function get(obj: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = obj;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

type AnyStore = WindowStore<unknown, unknown>;

interface MetricState {
  metric: ResolvedMetric;
  agg: Aggregation<unknown, unknown>;
  /** Per partition. */
  stores: Map<number, AnyStore>;
  /** Alert state per group key. */
  firing: Set<string>;
  late: number;
  latePerPartition: Map<number, number>;
}

function aggregationFor(m: ResolvedMetric): { agg: Aggregation<unknown, unknown>; valueOf: (e: EngineEvent) => unknown } {
  const a = m.aggregate;
  switch (a.kind) {
    case 'count':
      return { agg: countAgg as Aggregation<unknown, unknown>, valueOf: () => 1 };
    case 'sum':
      return { agg: sumAgg as Aggregation<unknown, unknown>, valueOf: (e) => Number(get(e.event, m.valuePath!) ?? 0) };
    case 'ratio': {
      const matches = (f: typeof a.numerator, e: EngineEvent) => (!f.eventTypes || f.eventTypes.includes(e.type)) && (!f.where || f.where(e.event));
      const agg: Aggregation<{ n: number; d: number }, { n: boolean; d: boolean }> = {
        init: () => ({ n: 0, d: 0 }),
        add: (acc, v) => ({ n: acc.n + (v.n ? 1 : 0), d: acc.d + (v.d ? 1 : 0) }),
        result: (acc) => (acc.d === 0 ? Number.NaN : acc.n / acc.d),
      };
      return { agg: agg as Aggregation<unknown, unknown>, valueOf: (e) => ({ n: matches(a.numerator, e), d: matches(a.denominator, e) }) };
    }
    case 'countDistinct': {
      const registers = hllRegisters(a.relativeError ?? 0.02);
      const agg: Aggregation<HyperLogLog, string> = {
        init: () => new HyperLogLog(registers),
        add: (h, v) => {
          h.add(v);
          return h;
        },
        result: (h) => Math.round(h.estimate()),
        save: (h) => Buffer.from(h.registers).toString('base64'),
        load: (x) => HyperLogLog.fromBytes(Buffer.from(String(x), 'base64')),
      };
      return { agg: agg as unknown as Aggregation<unknown, unknown>, valueOf: (e) => String(get(e.event, m.valuePath!) ?? '') };
    }
  }
}

/**
 * The derived-metric computation without I/O: events in, metric values and alert transitions out. State is
 * per metric and partition (so it can follow partitions through rebalances); stream time per partition.
 */
export class MetricEngine {
  private readonly metrics: Array<MetricState & { valueOf: (e: EngineEvent) => unknown }>;
  private readonly clocks = new Map<number, StreamClock>();

  constructor(
    metrics: readonly ResolvedMetric[],
    private readonly options: { idleMs: number },
  ) {
    this.metrics = metrics.map((metric) => {
      const { agg, valueOf } = aggregationFor(metric);
      return { metric, agg, valueOf, stores: new Map(), firing: new Set(), late: 0, latePerPartition: new Map() };
    });
  }

  /**
   * The state of one partition (stream time, open windows, alert states), to be written to the changelog
   * together with the outputs and the consumed offsets; `restore` on another instance continues exactly there.
   */
  snapshot(partition: number): PartitionSnapshot {
    const c = this.clocks.get(partition)?.snapshot();
    const metrics: PartitionSnapshot['metrics'] = {};
    for (const m of this.metrics) {
      const store = m.stores.get(partition);
      const prefix = `${partition}|`;
      metrics[m.metric.name] = {
        ...(store ? { store: store.snapshot() } : {}),
        firing: [...m.firing].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
        late: m.latePerPartition.get(partition) ?? 0,
      };
    }
    return { clock: { maxEventTime: c && Number.isFinite(c.maxEventTime) ? c.maxEventTime : null, lastEventWall: c?.lastEventWall ?? 0 }, metrics };
  }

  restore(partition: number, s: PartitionSnapshot): void {
    const clock = this.clock(partition);
    clock.restore({ maxEventTime: s.clock.maxEventTime ?? Number.NEGATIVE_INFINITY, lastEventWall: s.clock.lastEventWall });
    for (const m of this.metrics) {
      const saved = s.metrics[m.metric.name];
      if (!saved) continue;
      if (saved.store && m.metric.window) {
        const store = new WindowStore(m.metric.window, m.agg);
        store.restore(saved.store);
        m.stores.set(partition, store);
      }
      for (const k of saved.firing) m.firing.add(`${partition}|${k}`);
      m.late += saved.late - (m.latePerPartition.get(partition) ?? 0);
      m.latePerPartition.set(partition, saved.late);
    }
  }

  /** Late events dropped so far, per metric. */
  lateDropped(): Record<string, number> {
    return Object.fromEntries(this.metrics.map((m) => [m.metric.name, m.late]));
  }

  private clock(partition: number): StreamClock {
    let c = this.clocks.get(partition);
    if (!c) this.clocks.set(partition, (c = new StreamClock(this.options.idleMs)));
    return c;
  }

  process(e: EngineEvent, wallNow: number): EngineOutput {
    const out: EngineOutput = { values: [], alerts: [] };
    const clock = this.clock(e.partition);
    clock.observe(e.occurredAt, wallNow);
    const streamTime = clock.now(wallNow);
    for (const m of this.metrics) {
      const { metric } = m;
      if (!metric.from.includes(e.type)) continue;
      if (metric.where && !metric.where(e.event)) continue;
      const dims: Record<string, string> = {};
      for (const g of metric.groupBy) dims[g.label] = String(get(e.event, g.path) ?? '');
      const group = JSON.stringify(metric.groupBy.map((g) => dims[g.label]));
      if (!metric.window) {
        out.values.push({ metric: metric.name, dimensions: dims, value: 1, final: true, partition: e.partition });
        continue;
      }
      let store = m.stores.get(e.partition);
      if (!store) m.stores.set(e.partition, (store = new WindowStore(metric.window, m.agg)));
      if (store.add(group, e.occurredAt, m.valueOf(e), streamTime) === 'late') {
        m.late++;
        m.latePerPartition.set(e.partition, (m.latePerPartition.get(e.partition) ?? 0) + 1);
      }
    }
    this.closeWindows(e.partition, streamTime, out);
    return out;
  }

  /** Closes windows whose stream time moved on with the wall clock (idle input). Call periodically. */
  tick(wallNow: number): EngineOutput {
    const out: EngineOutput = { values: [], alerts: [] };
    for (const [partition, clock] of this.clocks) this.closeWindows(partition, clock.now(wallNow), out);
    return out;
  }

  /** End of input (tests, --once): closes every window. */
  flushAll(): EngineOutput {
    const out: EngineOutput = { values: [], alerts: [] };
    for (const partition of this.clocks.keys()) this.closeWindows(partition, Number.POSITIVE_INFINITY, out);
    return out;
  }

  private closeWindows(partition: number, streamTime: number, out: EngineOutput): void {
    for (const m of this.metrics) {
      const store = m.stores.get(partition);
      if (!store) continue;
      for (const w of store.closeReady(streamTime)) {
        const labels = JSON.parse(w.group) as string[];
        const dimensions: Record<string, string> = {};
        m.metric.groupBy.forEach((g, i) => (dimensions[g.label] = labels[i]!));
        out.values.push({ metric: m.metric.name, dimensions, value: w.value, windowStart: w.start, windowEnd: w.end, final: true, partition });
        const alert = m.metric.alert;
        if (!alert) continue;
        const on = (alert.atLeast !== undefined && w.value >= alert.atLeast) || (alert.atMost !== undefined && w.value <= alert.atMost);
        const key = `${partition}|${w.group}`;
        if (on && !m.firing.has(key)) {
          m.firing.add(key);
          out.alerts.push({ metric: m.metric.name, dimensions, state: 'firing', value: w.value, windowStart: w.start, windowEnd: w.end, partition });
        } else if (!on && m.firing.has(key)) {
          m.firing.delete(key);
          out.alerts.push({ metric: m.metric.name, dimensions, state: 'resolved', value: w.value, windowStart: w.start, windowEnd: w.end, partition });
        }
      }
    }
  }
}
