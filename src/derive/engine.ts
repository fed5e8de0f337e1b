import type { ResolvedMetric, ResolvedTable } from './definitions.js';
import { countAgg, sumAgg, WindowStore, type Aggregation, type WindowStoreSnapshot } from './store.js';
import { HyperLogLog } from './hll.js';
import { StreamClock } from './windows.js';

type ClockSnapshot = { maxEventTime: number | null; lastEventWall: number };

/** The engine's state for one partition, JSON-safe: what the consumer writes to its changelog topic. */
export interface PartitionSnapshot {
  /** Stream clocks: '' is the partition's clock; `<metric>|join` and `<metric>|agg` those of an absence join. */
  clocks: Record<string, ClockSnapshot>;
  metrics: Record<
    string,
    {
      store?: WindowStoreSnapshot;
      firing: string[];
      late: number;
      /** notFollowedBy state: events still waiting for their follower, and followers seen recently. */
      join?: { left: Array<[key: string, t: number, group: string, value: unknown]>; right: Array<[key: string, t: number]> };
    }
  >;
}

/** One decoded input event, as the consumer hands it to the engine. */
export interface EngineEvent {
  type: string;
  event: Record<string, unknown>;
  /** Event time (the envelope's occurred-at), ms since epoch. */
  occurredAt: number;
  partition: number;
}

/**
 * What one event contributes to one metric, after filtering, joining and grouping: the unit the consumer
 * repartitions by `routeKey` (so every value of a group meets in one partition) and aggregates there.
 * `s: 'L' | 'R'` are the two sides of an absence join, routed by the join key instead of the group.
 */
export type MetricInput =
  | { m: string; g: string; t: number; v: unknown }
  | { m: string; s: 'L'; k: string; t: number; g: string; v: unknown }
  | { m: string; s: 'R'; k: string; t: number };

/** The partitioning key of a metric input: metric and group (or metric and join key). */
export const routeKey = (i: MetricInput): string => ('s' in i ? `${i.m}\u0000k\u0000${i.k}` : `${i.m}\u0000g\u0000${i.g}`);

export interface MetricValue {
  metric: string;
  dimensions: Record<string, string>;
  value: number;
  /** Window bounds; absent for unwindowed (per-event) metrics. */
  windowStart?: number;
  windowEnd?: number;
  /** true: the window closed and this is its final value; false: an 'update' of a window still open. */
  final: boolean;
  /** The partition whose state produced it. */
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
  /** Inputs produced by a stage (unmatched events of an absence join) that must be aggregated in turn. */
  forward: Array<{ input: MetricInput; partition: number }>;
}

/** Looks a table row up by key; `partition` is the event's (co-partitioned tables keep rows per partition). */
export type TableLookup = (table: ResolvedTable, key: string, partition: number) => Record<string, unknown> | undefined;

export const emptyOutput = (): EngineOutput => ({ values: [], alerts: [], forward: [] });

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

interface JoinState {
  left: Map<string, Array<{ t: number; g: string; v: unknown }>>;
  right: Map<string, number[]>;
}

interface MetricState {
  metric: ResolvedMetric;
  agg: Aggregation<unknown, unknown>;
  valueOf: (event: Record<string, unknown>, type: string) => unknown;
  /** Per partition. */
  stores: Map<number, AnyStore>;
  joins: Map<number, JoinState>;
  /** Alert state per `${partition}|${group}`. */
  firing: Set<string>;
  late: number;
  latePerPartition: Map<number, number>;
  missingJoins: number;
}

function aggregationFor(m: ResolvedMetric): { agg: Aggregation<unknown, unknown>; valueOf: MetricState['valueOf'] } {
  const a = m.aggregate;
  switch (a.kind) {
    case 'count':
      return { agg: countAgg as Aggregation<unknown, unknown>, valueOf: () => 1 };
    case 'sum':
      return { agg: sumAgg as Aggregation<unknown, unknown>, valueOf: (e) => Number(get(e, m.valuePath!) ?? 0) };
    case 'ratio': {
      const matches = (f: typeof a.numerator, e: Record<string, unknown>, type: string) => (!f.eventTypes || f.eventTypes.includes(type)) && (!f.where || f.where(e));
      const agg: Aggregation<{ n: number; d: number }, [number, number]> = {
        init: () => ({ n: 0, d: 0 }),
        add: (acc, v) => ({ n: acc.n + v[0], d: acc.d + v[1] }),
        result: (acc) => (acc.d === 0 ? Number.NaN : acc.n / acc.d),
      };
      return { agg: agg as unknown as Aggregation<unknown, unknown>, valueOf: (e, type) => [matches(a.numerator, e, type) ? 1 : 0, matches(a.denominator, e, type) ? 1 : 0] };
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
      return { agg: agg as unknown as Aggregation<unknown, unknown>, valueOf: (e) => String(get(e, m.valuePath!) ?? '') };
    }
  }
}

const toSnap = (c: StreamClock): ClockSnapshot => {
  const s = c.snapshot();
  return { maxEventTime: Number.isFinite(s.maxEventTime) ? s.maxEventTime : null, lastEventWall: s.lastEventWall };
};

/**
 * The derived-metric computation without I/O, in two stages as the consumer runs it:
 *
 * 1. `extract(event)`: filter, join with tables, group → one `MetricInput` per (metric, event), plus the
 *    values of unwindowed metrics (emitted at once). Stateless.
 * 2. `aggregate(input, partition)`: windowed aggregation (and the absence join) with state per partition,
 *    meant to run where `routeKey(input)` is partitioned to, so every value of a group meets in one place.
 *
 * `process`, `tick` and `flushAll` run both stages in one process (one partition): tests, docs, small jobs.
 * Stream time is per partition (and, for an absence join, per stage of that metric).
 */
export class MetricEngine {
  private readonly metrics: MetricState[];
  private readonly byName = new Map<string, MetricState>();
  private readonly clocks = new Map<number, Map<string, StreamClock>>();

  /**
   * `externalTime`: stream time of stage 2 comes from `advanceTo` (watermarks of the upstream source tasks)
   * instead of the event times it sees, so a partition read ahead of the others cannot make their events late.
   */
  constructor(
    metrics: readonly ResolvedMetric[],
    private readonly options: { idleMs: number; externalTime?: boolean },
  ) {
    this.metrics = metrics.map((metric) => {
      const { agg, valueOf } = aggregationFor(metric);
      const state: MetricState = { metric, agg, valueOf, stores: new Map(), joins: new Map(), firing: new Set(), late: 0, latePerPartition: new Map(), missingJoins: 0 };
      this.byName.set(metric.name, state);
      return state;
    });
  }

  /** The tables the metrics join with. */
  get tables(): ResolvedTable[] {
    const seen = new Map<string, ResolvedTable>();
    for (const m of this.metrics) for (const j of m.metric.joins) seen.set(j.table.name, j.table);
    return [...seen.values()];
  }

  // ---- stage 1 -------------------------------------------------------------------------------------------

  /** Stage 1: what one event contributes to each metric (see the class comment). */
  extract(e: EngineEvent, lookup?: TableLookup): { inputs: MetricInput[]; immediate: MetricValue[] } {
    const inputs: MetricInput[] = [];
    const immediate: MetricValue[] = [];
    for (const m of this.metrics) {
      const { metric } = m;
      const nfb = metric.notFollowedBy;
      if (nfb && nfb.event === e.type) {
        const k = get(e.event, nfb.rightKey);
        if (k !== undefined && k !== '') inputs.push({ m: metric.name, s: 'R', k: String(k), t: e.occurredAt });
      }
      if (!metric.from.includes(e.type)) continue;
      let event = e.event;
      if (metric.joins.length > 0) {
        event = { ...event };
        let missing = false;
        for (const j of metric.joins) {
          const key = get(e.event, j.keyPath);
          const row = key === undefined || key === '' || !lookup ? undefined : lookup(j.table, String(key), e.partition);
          if (!row) missing = true;
          event[j.table.name] = row ?? {};
        }
        if (missing) {
          m.missingJoins++;
          if (metric.missingJoin !== 'keep') continue;
        }
      }
      if (metric.where && !metric.where(event)) continue;
      const dims: string[] = metric.groupBy.map((g) => String(get(event, g.path) ?? ''));
      if (!metric.window) {
        immediate.push({ metric: metric.name, dimensions: this.dimensions(metric, dims), value: 1, final: true, partition: e.partition });
        continue;
      }
      const g = JSON.stringify(dims);
      const v = m.valueOf(event, e.type);
      if (nfb) {
        const k = get(e.event, nfb.leftKey);
        if (k !== undefined && k !== '') inputs.push({ m: metric.name, s: 'L', k: String(k), t: e.occurredAt, g, v });
      } else inputs.push({ m: metric.name, g, t: e.occurredAt, v });
    }
    return { inputs, immediate };
  }

  /** Events dropped (or kept with empty fields) because a table had no row for their key, per metric. */
  missingJoins(): Record<string, number> {
    return Object.fromEntries(this.metrics.filter((m) => m.metric.joins.length > 0).map((m) => [m.metric.name, m.missingJoins]));
  }

  // ---- stage 2 -------------------------------------------------------------------------------------------

  private clock(partition: number, key: string): StreamClock {
    let p = this.clocks.get(partition);
    if (!p) this.clocks.set(partition, (p = new Map()));
    let c = p.get(key);
    if (!c) p.set(key, (c = new StreamClock(this.isExternal(key) ? 0 : this.options.idleMs)));
    return c;
  }

  /** Clocks moved by watermarks in externalTime mode: the partition's and the absence joins'. */
  private isExternal(key: string): boolean {
    return this.options.externalTime === true && (key === '' || key.endsWith('|join') || key.endsWith('|agg'));
  }

  /** Observes an event time, except on clocks that follow watermarks. */
  private observe(partition: number, key: string, t: number, wallNow: number): StreamClock {
    const c = this.clock(partition, key);
    if (!this.isExternal(key)) c.observe(t, wallNow);
    return c;
  }

  /**
   * externalTime mode: stream time of `partition` moves to `t` (the smallest watermark of the sources feeding
   * it); returns what became final.
   */
  advanceTo(partition: number, t: number, wallNow: number): EngineOutput {
    const out = emptyOutput();
    this.clock(partition, '').advanceTo(t, wallNow);
    for (const m of this.metrics) if (m.metric.notFollowedBy) this.clock(partition, `${m.metric.name}|join`).advanceTo(t, wallNow);
    this.closeAt(partition, (key) => this.clocks.get(partition)?.get(key)?.now(wallNow), out);
    return out;
  }

  /**
   * externalTime mode, absence joins: every event this partition will still forward for `metric` is at or after
   * the returned time (its join clock minus grace) — the watermark it sends to the partitions that count them.
   */
  joinWatermark(partition: number, metric: string): number | undefined {
    const m = this.byName.get(metric);
    const c = this.clocks.get(partition)?.get(`${metric}|join`);
    if (!m?.metric.notFollowedBy || !c) return undefined;
    const t = c.now(0);
    return Number.isFinite(t) ? t - m.metric.window!.graceMs : undefined;
  }

  /** externalTime mode: the windows of an absence-join metric move to `t` (the smallest join watermark). */
  advanceJoinedTo(partition: number, metric: string, t: number, wallNow: number): EngineOutput {
    const out = emptyOutput();
    const m = this.byName.get(metric);
    if (!m?.metric.notFollowedBy) return out;
    const clock = this.clock(partition, `${metric}|agg`);
    clock.advanceTo(t, wallNow);
    this.closeWindows(m, partition, clock.now(wallNow), out);
    return out;
  }

  /** Metrics with an absence join (their windows follow join watermarks in externalTime mode). */
  get joinedMetrics(): string[] {
    return this.metrics.filter((m) => m.metric.notFollowedBy).map((m) => m.metric.name);
  }

  /** The clock a metric's windows run on: the partition's, or its own after an absence join. */
  private aggClockKey(m: MetricState): string {
    return m.metric.notFollowedBy ? `${m.metric.name}|agg` : '';
  }

  /** Stage 2: adds one input to the state of `partition` and returns what became final. */
  aggregate(input: MetricInput, partition: number, wallNow: number): EngineOutput {
    const out = emptyOutput();
    const m = this.byName.get(input.m);
    if (!m) return out; // a metric no longer defined: its in-flight inputs are dropped
    if ('s' in input) {
      const clock = this.observe(partition, `${m.metric.name}|join`, input.t, wallNow);
      this.join(m, partition, input, clock.now(wallNow));
      this.closeJoin(m, partition, clock.now(wallNow), out);
      return out;
    }
    const key = this.aggClockKey(m);
    const clock = this.observe(partition, key, input.t, wallNow);
    const streamTime = clock.now(wallNow);
    const window = m.metric.window!;
    let store = m.stores.get(partition);
    if (!store) m.stores.set(partition, (store = new WindowStore(window, m.agg)));
    if (store.add(input.g, input.t, input.v, streamTime) === 'late') this.countLate(m, partition);
    else if (m.metric.emit === 'update') {
      for (const w of store.current(input.g, input.t)) {
        out.values.push({ metric: m.metric.name, dimensions: this.dimensions(m.metric, JSON.parse(w.group) as string[]), value: w.value, windowStart: w.start, windowEnd: w.end, final: false, partition });
      }
    }
    for (const other of this.metrics) if (this.aggClockKey(other) === key) this.closeWindows(other, partition, streamTime, out);
    return out;
  }

  private countLate(m: MetricState, partition: number): void {
    m.late++;
    m.latePerPartition.set(partition, (m.latePerPartition.get(partition) ?? 0) + 1);
  }

  private joinState(m: MetricState, partition: number): JoinState {
    let j = m.joins.get(partition);
    if (!j) m.joins.set(partition, (j = { left: new Map(), right: new Map() }));
    return j;
  }

  /** An event is matched by a follower with the same key at t ≤ t_f ≤ t + within. */
  private join(m: MetricState, partition: number, input: Extract<MetricInput, { s: 'L' | 'R' }>, streamTime: number): void {
    const { withinMs } = m.metric.notFollowedBy!;
    const grace = m.metric.window!.graceMs;
    const j = this.joinState(m, partition);
    if (input.s === 'L') {
      if (input.t + withinMs + grace < streamTime) return this.countLate(m, partition);
      if ((j.right.get(input.k) ?? []).some((tf) => tf >= input.t && tf <= input.t + withinMs)) return;
      let list = j.left.get(input.k);
      if (!list) j.left.set(input.k, (list = []));
      list.push({ t: input.t, g: input.g, v: input.v });
      return;
    }
    const waiting = j.left.get(input.k);
    if (waiting) {
      const still = waiting.filter((l) => !(input.t >= l.t && input.t <= l.t + withinMs));
      if (still.length === 0) j.left.delete(input.k);
      else j.left.set(input.k, still);
    }
    if (input.t >= streamTime - grace - withinMs) {
      let list = j.right.get(input.k);
      if (!list) j.right.set(input.k, (list = []));
      list.push(input.t);
    }
  }

  /** Unmatched events whose `within` (plus grace) has passed become inputs of the metric, at t + within. */
  private closeJoin(m: MetricState, partition: number, streamTime: number, out: EngineOutput): void {
    const j = m.joins.get(partition);
    if (!j) return;
    const { withinMs } = m.metric.notFollowedBy!;
    const grace = m.metric.window!.graceMs;
    for (const [k, list] of j.left) {
      const still = [];
      for (const l of list) {
        if (streamTime > l.t + withinMs + grace) out.forward.push({ input: { m: m.metric.name, g: l.g, t: l.t + withinMs, v: l.v }, partition });
        else still.push(l);
      }
      if (still.length === 0) j.left.delete(k);
      else j.left.set(k, still);
    }
    // A follower at t_f can only match events at ≥ t_f − within, and those are late once stream time passes
    // t_f − within + within + grace.
    for (const [k, times] of j.right) {
      const kept = times.filter((tf) => tf + grace >= streamTime);
      if (kept.length === 0) j.right.delete(k);
      else j.right.set(k, kept);
    }
  }

  private dimensions(metric: ResolvedMetric, labels: readonly string[]): Record<string, string> {
    const d: Record<string, string> = {};
    metric.groupBy.forEach((g, i) => (d[g.label] = labels[i]!));
    return d;
  }

  private closeWindows(m: MetricState, partition: number, streamTime: number, out: EngineOutput): void {
    const store = m.stores.get(partition);
    if (!store) return;
    for (const w of store.closeReady(streamTime)) {
      const dimensions = this.dimensions(m.metric, JSON.parse(w.group) as string[]);
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

  /** Closes what stream time (moved on by the wall clock when input is idle) made final, in every partition. */
  advance(wallNow: number, partitions?: Iterable<number>): EngineOutput {
    const out = emptyOutput();
    for (const p of partitions ?? [...this.clocks.keys()]) this.closeAt(p, (key) => this.clocks.get(p)?.get(key)?.now(wallNow), out);
    return out;
  }

  /** End of input: closes every window and join of a partition (or all). */
  closeAll(partitions?: Iterable<number>): EngineOutput {
    const out = emptyOutput();
    for (const p of partitions ?? [...this.clocks.keys()]) this.closeAt(p, (key) => (this.clocks.get(p)?.has(key) ? Number.POSITIVE_INFINITY : undefined), out);
    return out;
  }

  private closeAt(partition: number, timeOf: (clockKey: string) => number | undefined, out: EngineOutput): void {
    for (const m of this.metrics) {
      if (m.metric.notFollowedBy) {
        const tj = timeOf(`${m.metric.name}|join`);
        if (tj !== undefined) this.closeJoin(m, partition, tj, out);
      }
      const t = timeOf(this.aggClockKey(m));
      if (t !== undefined) this.closeWindows(m, partition, t, out);
    }
  }

  // ---- both stages in one process ------------------------------------------------------------------------

  /** Both stages for one event, in-process (the event's partition keeps the state). */
  process(e: EngineEvent, wallNow: number, lookup?: TableLookup): EngineOutput {
    const out = emptyOutput();
    const { inputs, immediate } = this.extract(e, lookup);
    out.values.push(...immediate);
    for (const i of inputs) this.merge(out, this.aggregate(i, e.partition, wallNow), wallNow);
    return out;
  }

  /** Closes windows whose stream time moved on with the wall clock (idle input), in-process. Call periodically. */
  tick(wallNow: number): EngineOutput {
    const out = emptyOutput();
    this.merge(out, this.advance(wallNow), wallNow);
    return out;
  }

  /** End of input (tests, --once), in-process: closes every join and window. */
  flushAll(): EngineOutput {
    const out = emptyOutput();
    // Closing joins forwards inputs into windows that the next round closes; stop when a round closes nothing.
    for (let step = this.closeAll(); step.values.length + step.alerts.length + step.forward.length > 0; step = this.closeAll()) this.merge(out, step, Date.now());
    return out;
  }

  /** Appends `o` to `out`, aggregating forwarded inputs in the partition that produced them. */
  private merge(out: EngineOutput, o: EngineOutput, wallNow: number): void {
    out.values.push(...o.values);
    out.alerts.push(...o.alerts);
    for (const f of o.forward) this.merge(out, this.aggregate(f.input, f.partition, wallNow), wallNow);
  }

  // ---- state ---------------------------------------------------------------------------------------------

  /**
   * The state of one partition (stream time, open windows, pending joins, alert states), written to the
   * changelog with the outputs and the consumed offsets; `restore` on another instance continues exactly there.
   */
  snapshot(partition: number): PartitionSnapshot {
    const clocks: PartitionSnapshot['clocks'] = {};
    for (const [k, c] of this.clocks.get(partition) ?? []) clocks[k] = toSnap(c);
    const metrics: PartitionSnapshot['metrics'] = {};
    const prefix = `${partition}|`;
    for (const m of this.metrics) {
      const store = m.stores.get(partition);
      const j = m.joins.get(partition);
      metrics[m.metric.name] = {
        ...(store ? { store: store.snapshot() } : {}),
        ...(j
          ? {
              join: {
                left: [...j.left].flatMap(([k, list]) => list.map((l) => [k, l.t, l.g, l.v] as [string, number, string, unknown])),
                right: [...j.right].flatMap(([k, ts]) => ts.map((t) => [k, t] as [string, number])),
              },
            }
          : {}),
        firing: [...m.firing].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
        late: m.latePerPartition.get(partition) ?? 0,
      };
    }
    return { clocks, metrics };
  }

  restore(partition: number, s: PartitionSnapshot): void {
    this.drop(partition);
    for (const [k, c] of Object.entries(s.clocks ?? {})) {
      // Idle time counts from the restore: the downtime must not move stream time past the backlog.
      this.clock(partition, k).restore({ maxEventTime: c.maxEventTime ?? Number.NEGATIVE_INFINITY, lastEventWall: Math.max(c.lastEventWall, Date.now()) });
    }
    for (const m of this.metrics) {
      const saved = s.metrics[m.metric.name];
      if (!saved) continue;
      if (saved.store && m.metric.window) {
        const store = new WindowStore(m.metric.window, m.agg);
        store.restore(saved.store);
        m.stores.set(partition, store);
      }
      if (saved.join && m.metric.notFollowedBy) {
        const j = this.joinState(m, partition);
        for (const [k, t, g, v] of saved.join.left) {
          let list = j.left.get(k);
          if (!list) j.left.set(k, (list = []));
          list.push({ t, g, v });
        }
        for (const [k, t] of saved.join.right) {
          let list = j.right.get(k);
          if (!list) j.right.set(k, (list = []));
          list.push(t);
        }
      }
      for (const k of saved.firing) m.firing.add(`${partition}|${k}`);
      m.late += saved.late;
      m.latePerPartition.set(partition, saved.late);
    }
  }

  /** Forgets a partition's state (it moved to another instance). */
  drop(partition: number): void {
    this.clocks.delete(partition);
    const prefix = `${partition}|`;
    for (const m of this.metrics) {
      m.stores.delete(partition);
      m.joins.delete(partition);
      for (const k of [...m.firing]) if (k.startsWith(prefix)) m.firing.delete(k);
      m.late -= m.latePerPartition.get(partition) ?? 0;
      m.latePerPartition.delete(partition);
    }
  }

  /** Partitions with state. */
  get partitions(): number[] {
    return [...this.clocks.keys()];
  }

  /** Late events dropped so far, per metric (over the partitions this engine holds). */
  lateDropped(): Record<string, number> {
    return Object.fromEntries(this.metrics.map((m) => [m.metric.name, m.late]));
  }
}
