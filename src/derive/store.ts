import { isClosed, isLate, windowsOf, type WindowSpec } from './windows.js';

/** How values of one group and window are combined. */
export interface Aggregation<A, V = number> {
  init(): A;
  add(acc: A, value: V): A;
  result(acc: A): number;
  /** JSON-safe form of an accumulator, for the changelog; the identity when omitted. */
  save?(acc: A): unknown;
  load?(saved: unknown): A;
}

export const countAgg: Aggregation<number> = { init: () => 0, add: (a) => a + 1, result: (a) => a };
export const sumAgg: Aggregation<number> = { init: () => 0, add: (a, v) => a + v, result: (a) => a };

/** A window store's state, JSON-safe (for the changelog topic). */
export interface WindowStoreSnapshot {
  open: Array<[group: string, start: number, end: number, acc: unknown]>;
  events: Array<[group: string, t: number, v: unknown]>;
  slidingOpen: Array<[group: string, t: number]>;
  lateDropped: number;
}

export interface WindowResult {
  group: string;
  start: number;
  end: number;
  value: number;
}

/**
 * Aggregates per (group, window) for one partition and emits each window once, when it is final.
 * In-memory state only; the consumer snapshots it (`entries()`) into its changelog and restores it.
 */
export class WindowStore<A, V = number> {
  /** Open tumbling/hopping windows: `${group}\u0000${start}` → accumulator. */
  private readonly open = new Map<string, { group: string; start: number; end: number; acc: A }>();
  /** Sliding: events kept per group while an open window may still need them, and the open windows. */
  private readonly events = new Map<string, Array<{ t: number; v: V }>>();
  private readonly slidingOpen: Array<{ group: string; t: number }> = [];
  /** The earliest end among open windows: closeReady does nothing (O(1)) until stream time makes it final. */
  private minEnd = Number.POSITIVE_INFINITY;
  lateDropped = 0;

  constructor(
    readonly spec: WindowSpec,
    private readonly agg: Aggregation<A, V>,
  ) {}

  /** Adds one event unless it is late at `streamTime` (the time after observing it). */
  add(group: string, t: number, value: V, streamTime: number): 'added' | 'late' {
    if (isLate(this.spec, t, streamTime)) {
      this.lateDropped++;
      return 'late';
    }
    if (this.spec.kind === 'sliding') {
      let list = this.events.get(group);
      if (!list) this.events.set(group, (list = []));
      list.push({ t, v: value });
      // Evaluated as of the event, and as of the moment it leaves the window: the value goes down again (and
      // an alert resolves) when traffic stops, not only when the next event arrives.
      this.slidingOpen.push({ group, t }, { group, t: t + this.spec.sizeMs });
      if (t < this.minEnd) this.minEnd = t;
      return 'added';
    }
    for (const w of windowsOf(this.spec, t)) {
      if (isClosed(this.spec, w.end, streamTime)) continue; // this one is final already; later ones are not
      const key = `${group}\u0000${w.start}`;
      let entry = this.open.get(key);
      if (!entry) {
        this.open.set(key, (entry = { group, start: w.start, end: w.end, acc: this.agg.init() }));
        if (w.end < this.minEnd) this.minEnd = w.end;
      }
      entry.acc = this.agg.add(entry.acc, value);
    }
    return 'added';
  }

  /**
   * The current (not final) values of the windows an event at `t` of `group` was just added to: for emit
   * 'update'. Sliding: the window ending at `t`.
   */
  current(group: string, t: number): WindowResult[] {
    if (this.spec.kind === 'sliding') {
      let acc = this.agg.init();
      for (const e of this.events.get(group) ?? []) if (e.t > t - this.spec.sizeMs && e.t <= t) acc = this.agg.add(acc, e.v);
      return [{ group, start: t - this.spec.sizeMs, end: t, value: this.agg.result(acc) }];
    }
    const out: WindowResult[] = [];
    for (const w of windowsOf(this.spec, t)) {
      const entry = this.open.get(`${group}\u0000${w.start}`);
      if (entry) out.push({ group, start: entry.start, end: entry.end, value: this.agg.result(entry.acc) });
    }
    return out;
  }

  /** Removes and returns every window final at `streamTime`, ordered by end, then group. */
  closeReady(streamTime: number): WindowResult[] {
    if (!isClosed(this.spec, this.minEnd, streamTime)) return [];
    const out: WindowResult[] = [];
    let minEnd = Number.POSITIVE_INFINITY;
    if (this.spec.kind === 'sliding') {
      const still: Array<{ group: string; t: number }> = [];
      for (const w of this.slidingOpen) {
        if (!isClosed(this.spec, w.t, streamTime)) {
          still.push(w);
          if (w.t < minEnd) minEnd = w.t;
          continue;
        }
        let acc = this.agg.init();
        for (const e of this.events.get(w.group) ?? []) if (e.t > w.t - this.spec.sizeMs && e.t <= w.t) acc = this.agg.add(acc, e.v);
        out.push({ group: w.group, start: w.t - this.spec.sizeMs, end: w.t, value: this.agg.result(acc) });
      }
      this.slidingOpen.splice(0, this.slidingOpen.length, ...still);
      // Forget events no open or future window can include: a future window ends at ≥ streamTime − grace.
      const horizon = Math.min(streamTime - this.spec.graceMs, ...still.map((w) => w.t)) - this.spec.sizeMs;
      for (const [g, list] of this.events) {
        const kept = list.filter((e) => e.t > horizon);
        if (kept.length === 0) this.events.delete(g);
        else this.events.set(g, kept);
      }
    } else {
      for (const [key, w] of this.open) {
        if (!isClosed(this.spec, w.end, streamTime)) {
          if (w.end < minEnd) minEnd = w.end;
          continue;
        }
        out.push({ group: w.group, start: w.start, end: w.end, value: this.agg.result(w.acc) });
        this.open.delete(key);
      }
    }
    this.minEnd = minEnd;
    return out.sort((a, b) => a.end - b.end || a.start - b.start || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  snapshot(): WindowStoreSnapshot {
    const save = this.agg.save ?? ((a: A) => a);
    return {
      open: [...this.open.values()].map((w) => [w.group, w.start, w.end, save(w.acc)]),
      events: [...this.events].flatMap(([g, list]) => list.map((e) => [g, e.t, e.v] as [string, number, unknown])),
      slidingOpen: this.slidingOpen.map((w) => [w.group, w.t]),
      lateDropped: this.lateDropped,
    };
  }

  restore(s: WindowStoreSnapshot): void {
    const load = this.agg.load ?? ((x: unknown) => x as A);
    this.open.clear();
    this.events.clear();
    this.slidingOpen.length = 0;
    for (const [group, start, end, acc] of s.open) this.open.set(`${group}\u0000${start}`, { group, start, end, acc: load(acc) });
    for (const [group, t, v] of s.events) {
      let list = this.events.get(group);
      if (!list) this.events.set(group, (list = []));
      list.push({ t, v: v as V });
    }
    for (const [group, t] of s.slidingOpen) this.slidingOpen.push({ group, t });
    this.minEnd = Number.POSITIVE_INFINITY;
    for (const w of this.open.values()) if (w.end < this.minEnd) this.minEnd = w.end;
    for (const w of this.slidingOpen) if (w.t < this.minEnd) this.minEnd = w.t;
    this.lateDropped = s.lateDropped;
  }

  /** Windows still open (for tests and restore-progress reporting). */
  get openWindows(): number {
    return this.spec.kind === 'sliding' ? this.slidingOpen.length : this.open.size;
  }
}
