import protobuf from 'protobufjs';
import { AbsenceJoin } from './absence-join.js';
import { aggregationFor, get, type Aggregation } from './aggregates.js';
import type { ResolvedMetric, ResolvedTable } from './definitions.js';
import { parseStateKey, type StateEntry, type StateSource } from './state.js';
import { WindowStore, type WindowResult } from './store.js';
import { StreamClock } from './windows.js';

export { hllRegisters } from './aggregates.js';

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

type AnyStore = WindowStore<unknown, unknown>;

interface MetricState {
  metric: ResolvedMetric;
  agg: Aggregation<unknown, unknown>;
  valueOf: (event: Record<string, unknown>, type: string) => unknown;
  /** Per partition. */
  stores: Map<number, AnyStore>;
  joins: Map<number, AbsenceJoin>;
  /** Alert state per `${partition}|${group}` (`${group}\u0000q=<quantile>` for a percentile). */
  firing: Set<string>;
  late: number;
  latePerPartition: Map<number, number>;
  /** Late events this engine dropped itself (neither restored nor forgotten with a partition). */
  lateHere: number;
  missingJoins: number;
}

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
  /** Engine-level state keys (clocks, late counts, alerts) written since the last `changes()`, per partition. */
  private readonly dirty = new Map<number, Set<string>>();
  /** Partitions whose tumbling/hopping windows live on local disk (see `attach`), and their cache size. */
  private readonly sources = new Map<number, { source: StateSource; cacheKeys: number }>();

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
      const state: MetricState = { metric, agg, valueOf, stores: new Map(), joins: new Map(), firing: new Set(), late: 0, latePerPartition: new Map(), lateHere: 0, missingJoins: 0 };
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

  private markDirty(partition: number, key: string): void {
    let d = this.dirty.get(partition);
    if (!d) this.dirty.set(partition, (d = new Set()));
    d.add(key);
  }

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
    if (!this.isExternal(key)) {
      c.observe(t, wallNow);
      this.markDirty(partition, `c|${key}`);
    }
    return c;
  }

  private advanceClock(partition: number, key: string, t: number, wallNow: number): StreamClock {
    const c = this.clock(partition, key);
    c.advanceTo(t, wallNow);
    this.markDirty(partition, `c|${key}`);
    return c;
  }

  /**
   * externalTime mode: stream time of `partition` moves to `t` (the smallest watermark of the sources feeding
   * it); returns what became final.
   */
  advanceTo(partition: number, t: number, wallNow: number): EngineOutput {
    const out = emptyOutput();
    this.advanceClock(partition, '', t, wallNow);
    for (const m of this.metrics) if (m.metric.notFollowedBy) this.advanceClock(partition, `${m.metric.name}|join`, t, wallNow);
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
    const clock = this.advanceClock(partition, `${metric}|agg`, t, wallNow);
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

  private store(m: MetricState, partition: number): AnyStore {
    let store = m.stores.get(partition);
    if (!store) {
      const spec = m.metric.window!;
      const spill = spec.kind === 'sliding' ? undefined : this.sources.get(partition);
      store = new WindowStore(spec, m.agg, spill?.source(`w|${m.metric.name}|`), spill?.cacheKeys);
      m.stores.set(partition, store);
    }
    return store;
  }

  private joinState(m: MetricState, partition: number): AbsenceJoin {
    let j = m.joins.get(partition);
    if (!j) m.joins.set(partition, (j = new AbsenceJoin(m.metric.notFollowedBy!.withinMs, m.metric.window!.graceMs, m.agg)));
    return j;
  }

  /** Stage 2: adds one input to the state of `partition` and returns what became final. */
  aggregate(input: MetricInput, partition: number, wallNow: number): EngineOutput {
    const out = emptyOutput();
    const m = this.byName.get(input.m);
    if (!m) return out; // a metric no longer defined: its in-flight inputs are dropped
    if ('s' in input) {
      const clock = this.observe(partition, `${m.metric.name}|join`, input.t, wallNow);
      const j = this.joinState(m, partition);
      if (input.s === 'L') {
        if (!j.addLeft(input.k, { t: input.t, g: input.g, v: input.v }, clock.now(wallNow))) this.countLate(m, partition);
      } else j.addRight(input.k, input.t, clock.now(wallNow));
      this.closeJoin(m, partition, clock.now(wallNow), out);
      return out;
    }
    const key = this.aggClockKey(m);
    const clock = this.observe(partition, key, input.t, wallNow);
    const streamTime = clock.now(wallNow);
    const store = this.store(m, partition);
    if (store.add(input.g, input.t, input.v, streamTime) === 'late') this.countLate(m, partition);
    else if (m.metric.emit === 'update') {
      for (const w of store.current(input.g, input.t)) for (const v of this.valuesOf(m, w)) out.values.push({ ...v.value, final: false, partition });
    }
    for (const other of this.metrics) if (this.aggClockKey(other) === key) this.closeWindows(other, partition, streamTime, out);
    return out;
  }

  private countLate(m: MetricState, partition: number): void {
    m.late++;
    m.lateHere++;
    m.latePerPartition.set(partition, (m.latePerPartition.get(partition) ?? 0) + 1);
    this.markDirty(partition, `l|${m.metric.name}`);
  }

  /** Unmatched events whose `within` (plus grace) has passed become inputs of the metric, at t + within. */
  private closeJoin(m: MetricState, partition: number, streamTime: number, out: EngineOutput): void {
    const j = m.joins.get(partition);
    if (!j) return;
    const { withinMs } = m.metric.notFollowedBy!;
    for (const l of j.close(streamTime)) out.forward.push({ input: { m: m.metric.name, g: l.g, t: l.t + withinMs, v: l.v }, partition });
  }

  private dimensions(metric: ResolvedMetric, labels: readonly string[]): Record<string, string> {
    const d: Record<string, string> = {};
    metric.groupBy.forEach((g, i) => (d[g.label] = labels[i]!));
    return d;
  }

  /** The values of one window: one, or one per quantile (dimension `quantile`), each with its alert key. */
  private valuesOf(m: MetricState, w: WindowResult): Array<{ alertKey: string; value: Omit<MetricValue, 'final' | 'partition'> }> {
    const dimensions = this.dimensions(m.metric, JSON.parse(w.group) as string[]);
    const base = { metric: m.metric.name, windowStart: w.start, windowEnd: w.end };
    const qs = m.agg.quantiles;
    if (!qs || !w.quantiles) return [{ alertKey: w.group, value: { ...base, dimensions, value: w.value } }];
    return qs.map((q, i) => ({ alertKey: `${w.group}\u0000q=${q}`, value: { ...base, dimensions: { ...dimensions, quantile: String(q) }, value: w.quantiles![i]! } }));
  }

  private closeWindows(m: MetricState, partition: number, streamTime: number, out: EngineOutput): void {
    const store = m.stores.get(partition);
    if (!store) return;
    const alert = m.metric.alert;
    for (const w of store.closeReady(streamTime)) {
      for (const { alertKey, value: v } of this.valuesOf(m, w)) {
        out.values.push({ ...v, final: true, partition });
        if (!alert) continue;
        const on = (alert.atLeast !== undefined && v.value >= alert.atLeast) || (alert.atMost !== undefined && v.value <= alert.atMost);
        const key = `${partition}|${alertKey}`;
        if (on === m.firing.has(key)) continue;
        if (on) m.firing.add(key);
        else m.firing.delete(key);
        this.markDirty(partition, `a|${m.metric.name}|${alertKey}`);
        out.alerts.push({ metric: v.metric, dimensions: v.dimensions, state: on ? 'firing' : 'resolved', value: v.value, windowStart: w.start, windowEnd: w.end, partition });
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

  /** The state of an engine-level key (clock, late count, alert), or null when it has none. */
  private encode(partition: number, key: string): Uint8Array | null {
    const { kind, metric, rest } = parseStateKey(key);
    const w = protobuf.Writer.create();
    if (kind === 'c') {
      const c = this.clocks.get(partition)?.get(rest);
      if (!c) return null;
      const s = c.snapshot();
      return w.double(s.maxEventTime).double(s.lastEventWall).finish();
    }
    const m = this.byName.get(metric);
    if (!m) return null;
    if (kind === 'l') {
      const n = m.latePerPartition.get(partition) ?? 0;
      return n === 0 ? null : w.double(n).finish();
    }
    if (kind === 'a') return m.firing.has(`${partition}|${rest}`) ? new Uint8Array(0) : null;
    throw new RangeError(`unknown state key ${JSON.stringify(key)}`);
  }

  /**
   * Every state key of `partition` written since the last call — one entry per changed key, with its encoded
   * state, or null when it was forgotten (a final window, a resolved alert) — for the changelog. The number of
   * entries follows what changed, never the size of the state.
   */
  changes(partition: number): StateEntry[] {
    const out: StateEntry[] = [];
    for (const key of this.dirty.get(partition) ?? []) out.push([key, this.encode(partition, key)]);
    this.dirty.delete(partition);
    for (const m of this.metrics) {
      for (const [k, v] of m.stores.get(partition)?.changes() ?? []) out.push([`w|${m.metric.name}|${k}`, v]);
      for (const [k, v] of m.joins.get(partition)?.changes() ?? []) out.push([`j|${m.metric.name}|${k}`, v]);
    }
    return out;
  }

  /** Every live state key of `partition` (a full snapshot; `restore` on another engine continues exactly there). */
  snapshot(partition: number): Array<[string, Uint8Array]> {
    const keys = [...(this.clocks.get(partition)?.keys() ?? [])].map((k) => `c|${k}`);
    const prefix = `${partition}|`;
    for (const m of this.metrics) {
      if (m.latePerPartition.get(partition)) keys.push(`l|${m.metric.name}`);
      for (const k of m.firing) if (k.startsWith(prefix)) keys.push(`a|${m.metric.name}|${k.slice(prefix.length)}`);
    }
    const out = keys.map((k) => [k, this.encode(partition, k)!] as [string, Uint8Array]);
    for (const m of this.metrics) {
      for (const [k, v] of m.stores.get(partition)?.entries() ?? []) out.push([`w|${m.metric.name}|${k}`, v]);
      for (const [k, v] of m.joins.get(partition)?.entries() ?? []) out.push([`j|${m.metric.name}|${k}`, v]);
    }
    return out;
  }

  /**
   * Replaces the state of `partition` with `entries` (the latest value of every key in its changelog). Keys of
   * metrics no longer defined are ignored.
   */
  restore(partition: number, entries: Iterable<[string, Uint8Array]>): void {
    this.drop(partition);
    this.load(partition, entries);
  }

  /**
   * Replaces the state of `partition` with the committed state in `source` (a task's local store, already
   * brought up to the end of its changelog), keeping its tumbling/hopping windows there: they are read on demand,
   * with up to `cacheKeys` windows per metric cached in memory (and every window changed since the last
   * `saved()`). Clocks, alerts, late counts, absence joins and sliding windows are read into memory.
   */
  attach(partition: number, source: StateSource, cacheKeys = 50_000): void {
    this.drop(partition);
    this.sources.set(partition, { source, cacheKeys });
    const metrics = this.metrics;
    function* inMemory(): Generator<[string, Uint8Array]> {
      for (const prefix of ['a|', 'c|', 'j|', 'l|']) for (const [k, v] of source(prefix).range()) yield [prefix + k, v];
      for (const m of metrics) {
        if (m.metric.window?.kind !== 'sliding') continue;
        const prefix = `w|${m.metric.name}|`;
        for (const [k, v] of source(prefix).range()) yield [prefix + k, v];
      }
    }
    this.load(partition, inMemory());
    for (const m of this.metrics) if (m.metric.window && m.metric.window.kind !== 'sliding') this.store(m, partition);
  }

  /**
   * The changes last taken with `changes(partition)` are now in the source given to `attach` (the runner wrote
   * them after the commit): windows not changed since may leave the cache.
   */
  saved(partition: number): void {
    for (const m of this.metrics) m.stores.get(partition)?.saved();
  }

  /** Windows of `partition` held in memory, and windows read from local disk so far (spilled state). */
  cacheStats(partition: number): { cached: number; misses: number } {
    let cached = 0;
    let misses = 0;
    for (const m of this.metrics) {
      const st = m.stores.get(partition);
      cached += st?.cached ?? 0;
      misses += st?.misses ?? 0;
    }
    return { cached, misses };
  }

  private load(partition: number, entries: Iterable<[string, Uint8Array]>): void {
    for (const [key, bytes] of entries) {
      const { kind, metric, rest } = parseStateKey(key);
      if (kind === 'c') {
        const r = protobuf.Reader.create(bytes);
        const maxEventTime = r.double();
        // Idle time counts from the restore: the downtime must not move stream time past the backlog.
        this.clock(partition, rest).restore({ maxEventTime, lastEventWall: Math.max(r.double(), Date.now()) });
        continue;
      }
      const m = this.byName.get(metric);
      if (!m) continue;
      if (kind === 'l') {
        const n = protobuf.Reader.create(bytes).double();
        m.late += n;
        m.latePerPartition.set(partition, n);
      } else if (kind === 'a') m.firing.add(`${partition}|${rest}`);
      else if (kind === 'w' && m.metric.window) this.store(m, partition).load(rest, bytes);
      else if (kind === 'j' && m.metric.notFollowedBy) this.joinState(m, partition).load(rest, bytes);
    }
  }

  /** Forgets a partition's state (it moved to another instance). */
  drop(partition: number): void {
    this.clocks.delete(partition);
    this.sources.delete(partition);
    this.dirty.delete(partition);
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

  /** Live state keys of a partition (windows, sliding groups, join keys; for sizing and tests). */
  stateKeys(partition: number): number {
    let n = 0;
    for (const m of this.metrics) n += (m.stores.get(partition)?.size ?? 0) + (m.joins.get(partition)?.size ?? 0);
    return n;
  }

  /** Open windows of a partition (sliding: open evaluation points). */
  openWindows(partition: number): number {
    let n = 0;
    for (const m of this.metrics) n += m.stores.get(partition)?.openWindows ?? 0;
    return n;
  }

  /** Alert rules firing, per metric with an alert (over the groups of the partitions this engine holds, restored ones included). */
  alertsFiring(): Record<string, number> {
    return Object.fromEntries(this.metrics.filter((m) => m.metric.alert).map((m) => [m.metric.name, m.firing.size]));
  }

  /** Late events dropped so far, per metric (over the partitions this engine holds). */
  lateDropped(): Record<string, number> {
    return Object.fromEntries(this.metrics.map((m) => [m.metric.name, m.late]));
  }

  /**
   * Late events this engine has dropped since it was made, per metric. Unlike `lateDropped()` it only grows:
   * counts restored with a partition's state are not added, nor are those of a partition that moved away taken
   * off — what a per-process counter (Prometheus `_total`) counts.
   */
  lateDroppedHere(): Record<string, number> {
    return Object.fromEntries(this.metrics.map((m) => [m.metric.name, m.lateHere]));
  }

  /**
   * Stream time of a windowed metric's windows: the latest over the partitions this engine holds (undefined
   * before any; a metric with an absence join runs on its own clock). What decides that a group whose windows
   * stopped closing is gone (see WindowGauges).
   */
  streamTime(metric: string, wallNow: number): number | undefined {
    const m = this.byName.get(metric);
    if (!m?.metric.window) return undefined;
    let t = Number.NEGATIVE_INFINITY;
    for (const clocks of this.clocks.values()) t = Math.max(t, clocks.get(this.aggClockKey(m))?.now(wallNow) ?? t);
    return Number.isFinite(t) ? t : undefined;
  }
}
